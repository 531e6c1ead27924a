"""What every method is: a loss for training and an estimator for inference.

A method never builds or owns a network; it receives one with the call
signature of :class:`qpeflow.nn.conditional.ConditionalNet`:
``net(x: Tensor (B, x_channels, H, W) | None, t: Tensor (B,), cond: Tensor
(B, T, C, H, W), aux: Tensor (B, aux_channels, H, W) | None = None) -> (B, 1, H, W)``.
Everything is in *model space* (:class:`qpeflow.data.transforms.LogRain`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from qpeflow.data.batch import Batch
from qpeflow.errors import QpeflowError

Net = Callable[..., Tensor]


@dataclass(frozen=True)
class Estimate:
    """sample: (B, 1, H, W) one estimate per condition, in model space; nfe: network evaluations."""

    sample: Tensor
    nfe: int


class Noise:
    """Standard noise for a batch, row b drawn from its own generator (EDM's ``StackedRandomGenerator``).

    Karras et al. (2022, EDM, ``generate.py``) draw each image's latents from a
    generator seeded by that image's seed, so an image is reproduced from its seed
    whatever the batch it is drawn in. Here row b of every draw comes from
    ``generators[b]``: the inference driver seeds it from (seed, member, sample),
    so member m of sample i is the same whatever the batch size, the device or the
    tiling. The generators live on the CPU (a CPU and a CUDA run draw the same
    numbers) and draws are moved to ``device``.

    ``Noise.global_(batch, device)`` draws from torch's global generator instead (tests, quick use).
    """

    def __init__(
        self, generators: Sequence[torch.Generator] | None, device: torch.device | str, batch: int | None = None
    ) -> None:
        if generators is not None and batch is not None and len(generators) != batch:
            raise QpeflowError(f"noise: {len(generators)} generator(s) for a batch of {batch}")
        if generators is None and batch is None:
            raise QpeflowError("noise: give one generator per row, or the batch size")
        self.generators = list(generators) if generators is not None else None
        self.batch = len(self.generators) if self.generators is not None else int(batch or 0)
        self.device = torch.device(device)

    @classmethod
    def global_(cls, batch: int, device: torch.device | str = "cpu") -> Noise:
        """Noise from torch's global generator (not reproducible per row)."""
        return cls(None, device, batch)

    @classmethod
    def seeded(cls, seeds: Sequence[int], device: torch.device | str = "cpu") -> Noise:
        """One CPU generator per row, row b seeded with ``seeds[b]``."""
        return cls([torch.Generator().manual_seed(int(s)) for s in seeds], device)

    def _draw(self, fn: Callable[..., Tensor], shape: Sequence[int]) -> Tensor:
        shape = tuple(int(s) for s in shape)
        if not shape or shape[0] != self.batch:
            raise QpeflowError(f"noise: asked for shape {shape}, the batch has {self.batch} row(s)")
        if self.generators is None:
            return fn(shape, device=self.device)
        rows = [fn(shape[1:], generator=g, device=g.device) for g in self.generators]
        return torch.stack(rows).to(self.device)

    def randn(self, shape: Sequence[int]) -> Tensor:
        """Standard normal float32 of ``shape`` (shape[0] = batch), row b from generator b."""
        return self._draw(torch.randn, shape)

    def rand(self, shape: Sequence[int]) -> Tensor:
        """Uniform [0, 1) float32 of ``shape``, row b from generator b."""
        return self._draw(torch.rand, shape)


CondFn = Callable[[Tensor], Tensor]


@runtime_checkable
class Method(Protocol):
    """A training objective plus an estimator.

    Attributes:
        x_channels: channels of the state the net receives as x (0: no state).
        aux_channels: channels of auxiliary fields the net receives as aux.
        label: short name used in predictions files and reports (unet, ddpm, cfm,
            cfm_residual, ...); a composed method derives it from its parts.
    """

    x_channels: int
    aux_channels: int
    label: str

    def loss(self, net: Net, batch: Batch, generator: torch.Generator | None = None) -> Tensor:
        """Scalar loss, a mean over pixels with batch.mask == 1 only."""
        ...

    def estimate(self, net: Net, cond: Tensor, steps: int, noise: Noise | None = None, sampler: str = "") -> Estimate:
        """One estimate (B, 1, H, W) for each sequence of cond (B, T, C, H, W).

        Row b draws all its noise from row b of ``noise`` (:class:`Noise`), so it is
        reproducible from that row's generator alone. ``noise=None``: torch's global
        generator. ``sampler=""`` picks the method's default. Ensembles are the
        caller's loop over members (:mod:`qpeflow.inference.driver`).
        """
        ...

    def map_cond_fns(self, wrap: Callable[[CondFn], CondFn]) -> Method:
        """This method with every whole-``cond`` callable it holds (a residual's mean, a flow's
        centre) replaced by ``wrap(fn)``; e.g. tiled inference evaluates them tile by tile."""
        ...


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of values (B, C, H, W) over pixels where mask (B, 1, H, W) == 1.

    Masked-out pixels are removed with ``where`` (not multiplied by 0), so even a
    NaN or inf there cannot reach the loss or its gradient. An all-masked batch
    gives 0.
    """
    keep = (mask > 0).expand_as(values)
    total = torch.where(keep, values, torch.zeros_like(values)).sum()
    return total / keep.sum().clamp(min=1)


def noise_or_global(noise: Noise | None, batch: int, device: torch.device | str) -> Noise:
    """``noise``, or noise from torch's global generator for ``batch`` rows when None."""
    return noise if noise is not None else Noise.global_(batch, device)


def randn(shape: Sequence[int], generator: torch.Generator | None, device: torch.device | str) -> Tensor:
    """Standard normal float32 drawn on the generator's device (or torch's global one), moved to ``device``."""
    if generator is None:
        return torch.randn(tuple(shape), device=device)
    return torch.randn(tuple(shape), generator=generator, device=generator.device).to(device)


def rand(shape: Sequence[int], generator: torch.Generator | None, device: torch.device | str) -> Tensor:
    """Uniform [0, 1) float32, drawn like :func:`randn`."""
    if generator is None:
        return torch.rand(tuple(shape), device=device)
    return torch.rand(tuple(shape), generator=generator, device=generator.device).to(device)
