"""Invertible maps between physical units and the model space.

Two pairs, each with ``forward`` (physical -> model) and ``inverse`` (model ->
physical), working alike on ``numpy.ndarray`` and ``torch.Tensor`` (the result
has the input's type, dtype and device):

- :class:`LogRain`: rain rate R in mm/h <-> z = (log(R + c) - log c) / s.
- :class:`IRNorm`: brightness temperature BT in K <-> z = (BT - mean[ch]) / std[ch].

Why a shifted logarithm for rain: rain rate is zero-inflated (most pixels are
dry) and heavy-tailed (0.1 to 200 mm/h spans more than three decades). A linear
target lets the few intense cells dominate a squared loss and puts the bulk of
light rain in a tiny band near zero; log(R) alone is undefined at 0. With the
offset c (0.1 mm/h, the usual "rain / no rain" threshold) dry pixels map exactly
to z = 0, light rain is spread out, and the scale s = 2 keeps z within about
[0, 4] (200 mm/h -> 3.8), the range of a unit Gaussian source, which is what the
generative methods start from. ``log1p(R / c)`` is used because it equals
log(R + c) - log c exactly and stays accurate for tiny R.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch

from qpeflow.errors import QpeflowError

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


@dataclass(frozen=True)
class LogRain:
    """Rain rate (mm/h) <-> model space z = log1p(R / offset) / scale.

    Attributes:
        offset: c in mm/h; R = 0 maps to z = 0.
        scale: s, divides the logarithm so that heavy rain stays near z <= 4.
        max_rate: upper bound (mm/h) applied by :meth:`inverse`. An under-trained
            generative model can overshoot in model space, and exp() turns that into
            absurd rates (1e6 mm/h); 500 mm/h is above any 4-km, 15-min radar rate
            that is not an artefact (OPERA's 1200 mm/h spikes are clutter).
    """

    offset: float = 0.1
    scale: float = 2.0
    max_rate: float = 500.0

    def __post_init__(self) -> None:
        if not (self.offset > 0 and self.scale > 0):
            raise QpeflowError(f"LogRain: offset and scale must be > 0, got {self.offset}, {self.scale}")

    def forward(self, r: ArrayT) -> ArrayT:
        """mm/h -> model space. Negative rates (unphysical) are treated as 0; NaN stays NaN."""
        if isinstance(r, torch.Tensor):
            return torch.log1p(r.clamp(min=0) / self.offset) / self.scale
        return (np.log1p(np.maximum(r, 0) / self.offset) / self.scale).astype(np.result_type(r, np.float32))

    def inverse(self, z: ArrayT) -> ArrayT:
        """Model space -> mm/h, clamped to [0, max_rate] (a generated z < 0 means no rain)."""
        if isinstance(z, torch.Tensor):
            return (self.offset * torch.expm1(z * self.scale)).clamp(min=0, max=self.max_rate)
        r = np.clip(self.offset * np.expm1(z * self.scale), 0, self.max_rate)
        return r.astype(np.result_type(z, np.float32))


def _per_channel(values: Sequence[float], like: ArrayT, axis: int) -> ArrayT:
    """Shape a per-channel vector to broadcast along ``axis`` of ``like``."""
    shape = [1] * like.ndim
    shape[axis] = len(values)
    if isinstance(like, torch.Tensor):
        return torch.as_tensor(values, dtype=like.dtype, device=like.device).reshape(shape)
    return np.asarray(values, dtype=np.result_type(like, np.float32)).reshape(shape)


@dataclass(frozen=True)
class IRNorm:
    """Per-channel standardisation of brightness temperatures.

    z = (BT - mean[c]) / std[c], BT in K. The channel axis defaults to -3, which
    fits (..., channel, y, x) arrays such as the store's ``inputs`` (sample,
    time_in, channel, y, x) and a :class:`~qpeflow.data.batch.Batch` ``cond``.

    Attributes:
        mean: per-channel mean in K.
        std: per-channel standard deviation in K (> 0).
        axis: the channel axis of the arrays passed in.
    """

    mean: tuple[float, ...]
    std: tuple[float, ...]
    axis: int = -3

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))
        if len(self.mean) != len(self.std) or not self.mean:
            raise QpeflowError(f"IRNorm: need one mean and one std per channel, got {self.mean} and {self.std}")
        if any(not s > 0 for s in self.std):
            raise QpeflowError(f"IRNorm: standard deviations must be > 0, got {self.std}")

    def _check(self, x: ArrayT) -> None:
        if x.ndim == 0 or x.shape[self.axis] != len(self.mean):
            raise QpeflowError(
                f"IRNorm: array of shape {tuple(x.shape)} has no axis {self.axis} of size {len(self.mean)} (channels)"
            )

    def forward(self, bt: ArrayT) -> ArrayT:
        """K -> normalised, same shape."""
        self._check(bt)
        return (bt - _per_channel(self.mean, bt, self.axis)) / _per_channel(self.std, bt, self.axis)

    def inverse(self, z: ArrayT) -> ArrayT:
        """Normalised -> K, same shape."""
        self._check(z)
        return z * _per_channel(self.std, z, self.axis) + _per_channel(self.mean, z, self.axis)

    @classmethod
    def from_attrs(cls, store_attrs: Mapping[str, Any], axis: int = -3) -> IRNorm:
        """Build from a prepared store's attributes ``ir_mean`` / ``ir_std`` (lists or JSON strings)."""

        def read(name: str) -> tuple[float, ...]:
            if name not in store_attrs:
                raise QpeflowError(f"store attributes: missing {name!r} (IR normalisation statistics)")
            value = store_attrs[name]
            if isinstance(value, str):
                value = json.loads(value)
            return tuple(float(v) for v in np.atleast_1d(np.asarray(value, dtype=float)))

        return cls(read("ir_mean"), read("ir_std"), axis)
