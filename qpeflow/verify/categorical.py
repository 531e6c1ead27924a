"""Categorical (yes/no) scores from contingency tables at several thresholds.

An event is ``R > threshold`` (strictly above, as pysteps' ``det_cat_fct``),
counted only where both prediction and observation are finite. With hits H,
false alarms F, misses M, correct negatives R and N = H + F + M + R
(Wilks 2011, "Statistical Methods in the Atmospheric Sciences", ch. 8.2):

- POD = H / (H + M), FAR = F / (H + F), CSI = H / (H + F + M),
- frequency bias = (H + F) / (H + M),
- HSS = 2 (H R - F M) / ((H + M)(M + R) + (H + F)(F + R)),
- ETS = (H - H_r) / (H + F + M - H_r) with H_r = (H + M)(H + F) / N.

Accumulates over batches: ``categorical_init -> categorical_accum* ->
categorical_merge -> categorical_compute``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qpeflow.verify.value import ScoreValue, divide, undefined, valid_pairs


@dataclass
class ContingencyState:
    """Accumulator: counts per threshold, each an int64 array of shape (K,)."""

    thresholds: np.ndarray
    hits: np.ndarray
    false_alarms: np.ndarray
    misses: np.ndarray
    correct_negatives: np.ndarray


@dataclass(frozen=True)
class CategoricalScores:
    """Scores per threshold (tuples aligned with ``thresholds``, mm/h)."""

    thresholds: tuple[float, ...]
    pod: tuple[ScoreValue, ...]
    far: tuple[ScoreValue, ...]
    csi: tuple[ScoreValue, ...]
    hss: tuple[ScoreValue, ...]
    ets: tuple[ScoreValue, ...]
    bias: tuple[ScoreValue, ...]


def categorical_init(thresholds: tuple[float, ...] | list[float]) -> ContingencyState:
    """Empty contingency tables for thresholds (mm/h)."""
    k = len(thresholds)
    zeros = lambda: np.zeros(k, dtype=np.int64)  # noqa: E731
    return ContingencyState(np.asarray(thresholds, float), zeros(), zeros(), zeros(), zeros())


def categorical_accum(state: ContingencyState, pred: np.ndarray, obs: np.ndarray) -> None:
    """Add pixels of ``pred`` and ``obs`` (same shape, mm/h, NaN ignored) to the tables."""
    valid = valid_pairs(pred, obs)
    p = np.asarray(pred)[valid]
    o = np.asarray(obs)[valid]
    for k, thr in enumerate(state.thresholds):
        pe, oe = p > thr, o > thr
        hits = int(np.count_nonzero(pe & oe))
        n_p, n_o = int(np.count_nonzero(pe)), int(np.count_nonzero(oe))
        state.hits[k] += hits
        state.false_alarms[k] += n_p - hits
        state.misses[k] += n_o - hits
        state.correct_negatives[k] += p.size - n_p - n_o + hits


def categorical_merge(a: ContingencyState, b: ContingencyState) -> ContingencyState:
    """Sum of two accumulators with the same thresholds (inputs unchanged)."""
    if not np.array_equal(a.thresholds, b.thresholds):
        raise ValueError(f"cannot merge contingency tables for thresholds {a.thresholds} and {b.thresholds}")
    return ContingencyState(
        a.thresholds.copy(),
        a.hits + b.hits,
        a.false_alarms + b.false_alarms,
        a.misses + b.misses,
        a.correct_negatives + b.correct_negatives,
    )


def _table_scores(h: float, f: float, m: float, r: float, thr: float) -> dict[str, ScoreValue]:
    n = h + f + m + r
    if n == 0:
        none = undefined("no valid pixel")
        return {k: none for k in ("pod", "far", "csi", "hss", "ets", "bias")}
    no_obs = f"no observed pixel > {thr:g} mm/h"
    no_pred = f"no predicted pixel > {thr:g} mm/h"
    neither = f"no observed or predicted pixel > {thr:g} mm/h"
    h_random = (h + m) * (h + f) / n
    constant = f"prediction and observation are constant (all or no pixels > {thr:g} mm/h)"
    return {
        "pod": divide(h, h + m, no_obs),
        "far": divide(f, h + f, no_pred),
        "csi": divide(h, h + f + m, neither),
        "bias": divide(h + f, h + m, no_obs),
        "hss": divide(2 * (h * r - f * m), (h + m) * (m + r) + (h + f) * (f + r), constant),
        "ets": divide(h - h_random, h + f + m - h_random, constant),
    }


def categorical_compute(state: ContingencyState) -> CategoricalScores:
    """POD, FAR, CSI, HSS, ETS and frequency bias per threshold (see module docstring)."""
    rows = [
        _table_scores(float(h), float(f), float(m), float(r), float(t))
        for h, f, m, r, t in zip(
            state.hits, state.false_alarms, state.misses, state.correct_negatives, state.thresholds
        )
    ]
    pick = lambda name: tuple(row[name] for row in rows)  # noqa: E731
    return CategoricalScores(
        thresholds=tuple(float(t) for t in state.thresholds),
        pod=pick("pod"),
        far=pick("far"),
        csi=pick("csi"),
        hss=pick("hss"),
        ets=pick("ets"),
        bias=pick("bias"),
    )
