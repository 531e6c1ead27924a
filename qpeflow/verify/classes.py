"""Rain-intensity classes: per-class CSI / POD / FAR / MAE and the class confusion matrix.

The team's classes (DESIGN.md, "The benchmark must be as hard as reality"), from the
edges ``(0.1, 2.5, 10, 50)`` mm/h: no rain ``R < 0.1``, slight ``0.1 <= R < 2.5``,
moderate ``2.5 <= R < 10``, heavy ``10 <= R < 50``, violent ``R >= 50``. A pixel's class
is ``searchsorted(edges, R, side="right")`` (a value on an edge belongs to the class
above it). Only pixels where prediction and observation are both finite count.

For class k with the confusion counts ``C[i, j]`` (observed class i, predicted j):

- hits ``H = C[k, k]``, misses ``M = sum_j C[k, j] - H``, false alarms ``F = sum_i C[i, k] - H``;
- ``CSI_k = H / (H + F + M)``, ``POD_k = H / (H + M)``, ``FAR_k = F / (H + F)``;
- ``MAE_k`` = mean |prediction - observation| (mm/h) over the pixels *observed* in class k;
- the row-normalised confusion matrix ``C[i, j] / sum_j C[i, j]`` (each row sums to 1:
  where the truth of class i was predicted).

Accumulates over batches: ``classes_init -> classes_accum* -> classes_merge -> classes_compute``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qpeflow.verify.value import ScoreValue, divide, undefined, valid_pairs

#: class names for the default five classes (four edges); other edge counts get "class_k"
DEFAULT_NAMES = ("no_rain", "slight", "moderate", "heavy", "violent")


def class_names(edges: tuple[float, ...] | np.ndarray) -> tuple[str, ...]:
    """Names of the ``len(edges) + 1`` classes: :data:`DEFAULT_NAMES` for four edges, else ``class_k``."""
    n = len(edges) + 1
    return DEFAULT_NAMES if n == len(DEFAULT_NAMES) else tuple(f"class_{k}" for k in range(n))


def check_edges(edges: tuple[float, ...] | list[float], thresholds: tuple[float, ...] | list[float]) -> None:
    """Raise ValueError unless ``edges`` increase strictly, are positive, and the first
    (the rain/no-rain threshold) is one of the categorical ``thresholds``."""
    e = np.asarray(edges, float)
    if e.size == 0:
        return
    if np.any(e <= 0) or np.any(np.diff(e) <= 0):
        raise ValueError(f"class edges {tuple(edges)} must be positive and increasing")
    if not np.any(np.isclose(np.asarray(thresholds, float), e[0])):
        raise ValueError(
            f"the intensity classes need the rain/no-rain threshold {e[0]:g} mm/h among the thresholds {tuple(thresholds)}"
        )


@dataclass
class ClassState:
    """Accumulator.

    Attributes:
        edges: (K-1,) class edges, mm/h.
        confusion: (K, K) int64 counts, row = observed class, column = predicted class.
        abs_error: (K,) float64 sum of |prediction - observation| per observed class, mm/h.
    """

    edges: np.ndarray
    confusion: np.ndarray
    abs_error: np.ndarray


@dataclass(frozen=True)
class ClassScores:
    """Per-class scores (tuples of K, aligned with ``names``) and the row-normalised confusion (K, K)."""

    edges: tuple[float, ...]
    names: tuple[str, ...]
    csi: tuple[ScoreValue, ...]
    pod: tuple[ScoreValue, ...]
    far: tuple[ScoreValue, ...]
    mae: tuple[ScoreValue, ...]
    confusion: np.ndarray  # (K, K) float, rows sum to 1; NaN rows where the class was never observed
    counts: np.ndarray  # (K, K) int64 raw counts


def classes_init(edges: tuple[float, ...] | list[float]) -> ClassState:
    """Empty accumulator for the class edges (mm/h, increasing)."""
    e = np.asarray(edges, float)
    k = e.size + 1
    return ClassState(e, np.zeros((k, k), np.int64), np.zeros(k, np.float64))


def classify(rain: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Class index (int64, shape of ``rain``) of each rain rate (mm/h): 0 below the first edge."""
    return np.searchsorted(np.asarray(edges, float), np.asarray(rain, float), side="right").astype(np.int64)


def classes_accum(state: ClassState, pred: np.ndarray, obs: np.ndarray) -> None:
    """Add pixels of ``pred`` and ``obs`` (same shape, mm/h, NaN ignored)."""
    valid = valid_pairs(pred, obs)
    p, o = np.asarray(pred, float)[valid], np.asarray(obs, float)[valid]
    k = state.confusion.shape[0]
    cp, co = classify(p, state.edges), classify(o, state.edges)
    state.confusion += np.bincount(co * k + cp, minlength=k * k).reshape(k, k)
    state.abs_error += np.bincount(co, weights=np.abs(p - o), minlength=k)


def classes_merge(a: ClassState, b: ClassState) -> ClassState:
    """Sum of two accumulators with the same edges (inputs unchanged)."""
    if not np.array_equal(a.edges, b.edges):
        raise ValueError(f"cannot merge class tables for edges {a.edges} and {b.edges}")
    return ClassState(a.edges.copy(), a.confusion + b.confusion, a.abs_error + b.abs_error)


def classes_compute(state: ClassState) -> ClassScores:
    """Per-class CSI, POD, FAR, MAE and the row-normalised confusion matrix (module docstring)."""
    c = state.confusion.astype(np.float64)
    rows, cols, hits = c.sum(axis=1), c.sum(axis=0), np.diag(c)
    names = class_names(state.edges)
    csi, pod, far, mae = [], [], [], []
    for k, name in enumerate(names):
        h, m, f = hits[k], rows[k] - hits[k], cols[k] - hits[k]
        csi.append(divide(h, h + f + m, f"class {name} neither observed nor predicted"))
        pod.append(divide(h, h + m, f"class {name} never observed"))
        far.append(divide(f, h + f, f"class {name} never predicted"))
        mae.append(divide(state.abs_error[k], rows[k], f"class {name} never observed"))
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = np.where(rows[:, None] > 0, c / np.maximum(rows[:, None], 1.0), np.nan)
    if not rows.any():
        csi = pod = far = mae = [undefined("no valid pixel")] * len(names)
    return ClassScores(
        edges=tuple(float(e) for e in state.edges),
        names=names,
        csi=tuple(csi),
        pod=tuple(pod),
        far=tuple(far),
        mae=tuple(mae),
        confusion=norm,
        counts=state.confusion.copy(),
    )
