"""A score value that is either a number or NaN with the reason it is undefined.

Every ``*_compute`` function of :mod:`qpeflow.verify` returns its numbers as
:class:`ScoreValue`, so that "no rain in the truth" produces a documented NaN
(``ScoreValue(nan, "no observed pixel > 20 mm/h")``) rather than a division
warning, a crash or a silent ``inf``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ScoreValue:
    """One score: ``value`` (float, NaN when undefined) and ``reason`` (why NaN, else None)."""

    value: float
    reason: str | None = None

    @property
    def defined(self) -> bool:
        """True unless the value is NaN."""
        return not math.isnan(self.value)


def undefined(reason: str) -> ScoreValue:
    """A NaN score with its reason."""
    return ScoreValue(float("nan"), reason)


def divide(numerator: float, denominator: float, reason: str) -> ScoreValue:
    """``numerator / denominator``, or NaN with ``reason`` when the denominator is 0 or not finite."""
    num, den = float(numerator), float(denominator)
    if den == 0.0 or not math.isfinite(den) or not math.isfinite(num):
        return undefined(reason)
    return ScoreValue(num / den)


def valid_pairs(pred: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """Boolean mask of pixels where both prediction and observation are finite.

    pred, obs: arrays of the same shape (any), rain rate in mm/h, NaN = not observed.
    """
    pred, obs = np.asarray(pred), np.asarray(obs)
    if pred.shape != obs.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from observation shape {obs.shape}")
    return np.isfinite(pred) & np.isfinite(obs)


def ensemble_valid(ens: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """Mask (shape of ``obs``) where the observation and every member are finite.

    ens: (M, ...) members; obs: (...) with ``ens.shape[1:] == obs.shape``.
    """
    ens, obs = np.asarray(ens), np.asarray(obs)
    if ens.shape[1:] != obs.shape:
        raise ValueError(f"ensemble shape {ens.shape} does not match observation shape {obs.shape}")
    return np.isfinite(obs) & np.all(np.isfinite(ens), axis=0)


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """Sum of the element-wise product of two equal-shape arrays.

    ``einsum`` rather than ``a @ b``: a 1-D BLAS dot spins up OpenBLAS threads and is 10-50x
    slower on a busy shared machine (measured 13 ms against 0.15 ms for 262,144 values).
    """
    return float(np.einsum("i,i->", np.ravel(a), np.ravel(b)))


#: offset c (mm/h) of log-rain ln(max(R, 0) + c); the same c as the model's rain transform
LOG_OFFSET = 0.1


def log_rain(rain: np.ndarray) -> np.ndarray:
    """log-rain ``ln(max(R, 0) + 0.1)`` in ln(mm/h); NaN stays NaN; negative rain counts as 0."""
    return np.log(np.maximum(rain, 0.0) + LOG_OFFSET)
