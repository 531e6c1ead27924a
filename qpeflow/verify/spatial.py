"""Fractions skill score (FSS) at several thresholds and scales, by summed-area tables.

Roberts & Lean (2008, Mon. Wea. Rev. 136, 78-97), Eq. 5-7: binary fields
``I = R >= threshold``; fractions ``S`` = mean of ``I`` over an ``n x n`` window;
``FSS = 1 - sum (S_f - S_o)^2 / (sum S_f^2 + sum S_o^2)``, the sums running over
pixels and over every accumulated field (pysteps ``fss_accum`` convention).

Window and edges exactly as pysteps / ``scipy.ndimage.uniform_filter(mode="constant")``:
the window of output pixel i covers ``[i - n//2, i - n//2 + n)``, pixels outside
the domain count as non-events and the divisor is always ``n^2``. Masked pixels
(NaN in either field) count as non-events in both fractions and are left out of
the sums, so on NaN-free fields the numbers are those of pysteps.

Window sums come from one summed-area table per threshold (Crow 1984), so all
scales cost four look-ups each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qpeflow.verify.value import ScoreValue, divide, dot


@dataclass
class FSSState:
    """Accumulator: sums of S_f^2, S_f S_o, S_o^2, each (K thresholds, S scales)."""

    thresholds: np.ndarray
    scales: np.ndarray
    sum_ff: np.ndarray
    sum_fo: np.ndarray
    sum_oo: np.ndarray


@dataclass(frozen=True)
class FSSScores:
    """``fss[k][s]`` for ``thresholds[k]`` (mm/h) and ``scales[s]`` (px)."""

    thresholds: tuple[float, ...]
    scales: tuple[int, ...]
    fss: tuple[tuple[ScoreValue, ...], ...]


def summed_area_table(binary: np.ndarray) -> np.ndarray:
    """(..., Y, X) -> (..., Y+1, X+1) int32 table C with C[..., i, j] = sum binary[..., :i, :j]."""
    c = np.zeros(binary.shape[:-2] + (binary.shape[-2] + 1, binary.shape[-1] + 1), dtype=np.int32)
    np.cumsum(binary, axis=-2, dtype=np.int32, out=c[..., 1:, 1:])
    np.cumsum(c[..., 1:, 1:], axis=-1, out=c[..., 1:, 1:])
    return c


def _window_bounds(length: int, scale: int) -> tuple[np.ndarray, np.ndarray]:
    start = np.arange(length) - scale // 2
    return np.clip(start, 0, length), np.clip(start + scale, 0, length)


def window_fractions(table: np.ndarray, scale: int) -> np.ndarray:
    """Fraction of events in the ``scale x scale`` window of each pixel, from a summed-area table.

    table: (..., Y+1, X+1) from :func:`summed_area_table`; returns (..., Y, X) float64
    (window sum / scale^2, the window clipped at the edges as in ``uniform_filter(mode="constant")``).
    """
    y0, y1 = _window_bounds(table.shape[-2] - 1, scale)
    x0, x1 = _window_bounds(table.shape[-1] - 1, scale)
    rows1, rows0 = table[..., y1, :], table[..., y0, :]
    total = rows1[..., x1] - rows0[..., x1] - rows1[..., x0] + rows0[..., x0]
    return total / float(scale * scale)


def fss_init(thresholds: tuple[float, ...] | list[float], scales: tuple[int, ...] | list[int]) -> FSSState:
    """Empty accumulator for thresholds (mm/h) x scales (px)."""
    shape = (len(thresholds), len(scales))
    return FSSState(
        np.asarray(thresholds, float), np.asarray(scales, int), np.zeros(shape), np.zeros(shape), np.zeros(shape)
    )


def fss_accum(state: FSSState, pred: np.ndarray, obs: np.ndarray) -> None:
    """Add fields ``pred``, ``obs``: (Y, X) or (N, Y, X), mm/h, NaN = masked."""
    pred, obs = np.asarray(pred), np.asarray(obs)
    if pred.shape != obs.shape or pred.ndim not in (2, 3):
        raise ValueError(f"FSS needs two (Y, X) or (N, Y, X) arrays of one shape, got {pred.shape} and {obs.shape}")
    valid = np.isfinite(pred) & np.isfinite(obs)
    keep = slice(None) if valid.all() else valid
    with np.errstate(invalid="ignore"):
        for k, thr in enumerate(state.thresholds):
            table_f = summed_area_table((pred >= thr) & valid)
            table_o = summed_area_table((obs >= thr) & valid)
            for s, scale in enumerate(state.scales):
                sf = window_fractions(table_f, int(scale))[keep]
                so = window_fractions(table_o, int(scale))[keep]
                state.sum_ff[k, s] += dot(sf, sf)
                state.sum_fo[k, s] += dot(sf, so)
                state.sum_oo[k, s] += dot(so, so)


def fss_merge(a: FSSState, b: FSSState) -> FSSState:
    """Sum of two accumulators with equal thresholds and scales (inputs unchanged)."""
    if not (np.array_equal(a.thresholds, b.thresholds) and np.array_equal(a.scales, b.scales)):
        raise ValueError("cannot merge FSS accumulators with different thresholds or scales")
    return FSSState(a.thresholds.copy(), a.scales.copy(), a.sum_ff + b.sum_ff, a.sum_fo + b.sum_fo, a.sum_oo + b.sum_oo)


def fss_from_sums(sum_ff: float, sum_fo: float, sum_oo: float, reason: str) -> ScoreValue:
    """FSS = 1 - (ff - 2 fo + oo) / (ff + oo) = 2 fo / (ff + oo); NaN with ``reason`` if no event at all."""
    return divide(2.0 * sum_fo, sum_ff + sum_oo, reason)


def fss_compute(state: FSSState) -> FSSScores:
    """FSS per threshold and scale (see module docstring)."""
    rows = []
    for k, thr in enumerate(state.thresholds):
        reason = f"no pixel >= {thr:g} mm/h in prediction or observation"
        rows.append(
            tuple(
                fss_from_sums(state.sum_ff[k, s], state.sum_fo[k, s], state.sum_oo[k, s], reason)
                for s in range(len(state.scales))
            )
        )
    return FSSScores(tuple(float(t) for t in state.thresholds), tuple(int(s) for s in state.scales), tuple(rows))
