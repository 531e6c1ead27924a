"""Ensemble scores: fair CRPS, rank histogram, spread-skill, Brier score and reliability.

``ens`` is (M, ...) members, ``obs`` (...) the truth, mm/h; a pixel counts where
the observation and all members are finite.

- CRPS (Ferro 2014, QJRMS 140, Eq. 4, "fair" estimator):
  ``(1/M) sum_i |x_i - y| - 1/(2 M (M-1)) sum_i sum_j |x_i - x_j|``; the
  ensemble (empirical-CDF, Hersbach 2000 / pysteps ``probscores.CRPS``) one uses
  ``1/(2 M^2)``. A 1-member forecast has no spread term: both equal the MAE.
  ``sum_i sum_j |x_i - x_j| = 2 sum_k x_(k) (2k - M - 1)`` over sorted members.
- Rank histogram (Talagrand et al. 1997; Hamill 2001): the rank of y among the
  members, 0..M; ties between y and members are broken uniformly at random (as
  pysteps ``rankhist_accum``) with the generator of the state. Flatness score:
  the reliability index ``RI = sum_k |f_k - 1/(M+1)|`` (Delle Monache et al.
  2006), 0 for a flat histogram, lower is better.
- Spread-skill ratio (Fortin et al. 2014, J. Hydrometeor. 15, Eq. 7):
  ``sqrt((1 + 1/M) mean(s^2)) / RMSE(ensemble mean)`` with s^2 the unbiased
  member variance; about 1 for a calibrated ensemble. The curve bins pixels by
  ``sqrt((1 + 1/M) s^2)`` and gives the RMSE of the ensemble mean per bin.
- Brier score at each threshold: ``mean (p - o)^2`` with p the fraction of
  members >= threshold and o = 1 if y >= threshold; reliability: the observed
  frequency for each of the M + 1 possible probabilities k / M.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qpeflow.verify.value import ScoreValue, divide, ensemble_valid, undefined

SPREAD_EDGES = np.concatenate([[0.0], np.geomspace(0.01, 100.0, 17), [np.inf]])  # mm/h


def _members_pixels(ens: np.ndarray, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(M, ...) and (...) -> (M, P) members and (P,) truth at valid pixels, float64."""
    valid = ensemble_valid(ens, obs)
    return np.asarray(ens, dtype=np.float64)[:, valid], np.asarray(obs, dtype=np.float64)[valid]


@dataclass
class EnsembleState:
    """Accumulator of every ensemble score."""

    members: int
    thresholds: np.ndarray
    rng: np.random.Generator
    n: int = 0
    sum_abs: float = 0.0  # sum over pixels of mean_i |x_i - y|
    sum_pairs: float = 0.0  # sum over pixels of sum_i sum_j |x_i - x_j|
    rank_counts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    sum_var: float = 0.0  # unbiased member variance
    sum_sq_err: float = 0.0  # squared error of the ensemble mean
    bin_count: np.ndarray = field(default_factory=lambda: np.zeros(SPREAD_EDGES.size - 1, dtype=np.int64))
    bin_sq_err: np.ndarray = field(default_factory=lambda: np.zeros(SPREAD_EDGES.size - 1))
    bin_spread: np.ndarray = field(default_factory=lambda: np.zeros(SPREAD_EDGES.size - 1))
    brier_sum: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (K,)
    rel_count: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))  # (K, M+1)
    rel_obs: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))  # (K, M+1)


@dataclass(frozen=True)
class EnsembleScores:
    """Ensemble scores and curves (see module docstring)."""

    members: int
    crps: ScoreValue  # fair, mm/h
    crps_ensemble: ScoreValue  # empirical-CDF (pysteps) estimator, mm/h
    rank_histogram: np.ndarray  # (M+1,) relative frequencies
    rank_flatness: ScoreValue
    spread_skill: ScoreValue
    spread_centres: np.ndarray  # (B,) mm/h, geometric bin centres ([0, 0.01): 0.005; [100, inf): 100)
    spread_rmse: np.ndarray  # (B,) RMSE of the ensemble mean per spread bin, NaN if empty
    spread_mean: np.ndarray  # (B,) mean corrected spread per bin
    spread_count: np.ndarray  # (B,)
    thresholds: tuple[float, ...]
    brier: tuple[ScoreValue, ...]
    reliability_probability: np.ndarray  # (M+1,) k / M
    reliability_frequency: np.ndarray  # (K, M+1) observed frequency, NaN where no pixel
    reliability_count: np.ndarray  # (K, M+1)


def ensemble_init(
    members: int, thresholds: tuple[float, ...] | list[float] = (1.0, 5.0), seed: int = 0
) -> EnsembleState:
    """Empty accumulator for ``members`` members, Brier thresholds (mm/h), tie-breaking ``seed``."""
    k = len(thresholds)
    return EnsembleState(
        members,
        np.asarray(thresholds, float),
        np.random.default_rng(seed),
        rank_counts=np.zeros(members + 1, dtype=np.int64),
        brier_sum=np.zeros(k),
        rel_count=np.zeros((k, members + 1), dtype=np.int64),
        rel_obs=np.zeros((k, members + 1), dtype=np.int64),
    )


def pair_sum(x: np.ndarray) -> np.ndarray:
    """``sum_i sum_j |x_i - x_j|`` over axis 0 of (M, P) -> (P,), via sorting."""
    m = x.shape[0]
    weights = 2.0 * np.arange(1, m + 1) - m - 1
    return 2.0 * np.einsum("m,mp->p", weights, np.sort(x, axis=0))  # einsum: see value.dot


def _accum_ranks(state: EnsembleState, x: np.ndarray, y: np.ndarray) -> None:
    below = np.count_nonzero(x < y, axis=0)
    ties = np.count_nonzero(x == y, axis=0)
    rank = below + state.rng.integers(0, ties + 1)
    state.rank_counts += np.bincount(rank, minlength=state.members + 1)


def _accum_spread(state: EnsembleState, x: np.ndarray, y: np.ndarray) -> None:
    m = state.members
    sq_err = (x.mean(axis=0) - y) ** 2
    state.sum_sq_err += float(sq_err.sum())
    if m < 2:
        return
    var = x.var(axis=0, ddof=1)
    state.sum_var += float(var.sum())
    spread = np.sqrt((1.0 + 1.0 / m) * var)
    b = np.searchsorted(SPREAD_EDGES, spread, side="right") - 1
    state.bin_count += np.bincount(b, minlength=state.bin_count.size)
    state.bin_sq_err += np.bincount(b, weights=sq_err, minlength=state.bin_count.size)
    state.bin_spread += np.bincount(b, weights=spread, minlength=state.bin_count.size)


def _accum_brier(state: EnsembleState, x: np.ndarray, y: np.ndarray) -> None:
    for k, thr in enumerate(state.thresholds):
        count = np.count_nonzero(x >= thr, axis=0)
        event = y >= thr
        state.brier_sum[k] += float(((count / state.members - event) ** 2).sum())
        state.rel_count[k] += np.bincount(count, minlength=state.members + 1)
        state.rel_obs[k] += np.bincount(count[event], minlength=state.members + 1)


def ensemble_accum(state: EnsembleState, ens: np.ndarray, obs: np.ndarray) -> None:
    """Add ``ens`` (M, ...) members and ``obs`` (...) truth, mm/h, NaN ignored."""
    if np.shape(ens)[0] != state.members:
        raise ValueError(f"expected {state.members} members, got {np.shape(ens)[0]}")
    x, y = _members_pixels(ens, obs)
    state.n += y.size
    state.sum_abs += float(np.abs(x - y).mean(axis=0).sum())
    state.sum_pairs += float(pair_sum(x).sum())
    _accum_ranks(state, x, y)
    _accum_spread(state, x, y)
    _accum_brier(state, x, y)


def ensemble_merge(a: EnsembleState, b: EnsembleState) -> EnsembleState:
    """Sum of two accumulators (inputs unchanged; keeps ``a``'s generator)."""
    if a.members != b.members or not np.array_equal(a.thresholds, b.thresholds):
        raise ValueError("cannot merge ensemble accumulators of different sizes or thresholds")
    return EnsembleState(
        a.members,
        a.thresholds.copy(),
        a.rng,
        a.n + b.n,
        a.sum_abs + b.sum_abs,
        a.sum_pairs + b.sum_pairs,
        a.rank_counts + b.rank_counts,
        a.sum_var + b.sum_var,
        a.sum_sq_err + b.sum_sq_err,
        a.bin_count + b.bin_count,
        a.bin_sq_err + b.bin_sq_err,
        a.bin_spread + b.bin_spread,
        a.brier_sum + b.brier_sum,
        a.rel_count + b.rel_count,
        a.rel_obs + b.rel_obs,
    )


def _crps(state: EnsembleState) -> tuple[ScoreValue, ScoreValue]:
    m, n = state.members, state.n
    if n == 0:
        return undefined("no valid pixel"), undefined("no valid pixel")
    fair = state.sum_pairs / (2.0 * m * (m - 1)) if m > 1 else 0.0
    return ScoreValue((state.sum_abs - fair) / n), ScoreValue((state.sum_abs - state.sum_pairs / (2.0 * m * m)) / n)


def _spread_skill(state: EnsembleState) -> ScoreValue:
    if state.members < 2:
        return undefined("spread needs at least 2 members")
    if state.n == 0:
        return undefined("no valid pixel")
    spread = np.sqrt((1.0 + 1.0 / state.members) * state.sum_var / state.n)
    return divide(spread, np.sqrt(state.sum_sq_err / state.n), "the ensemble mean has zero error")


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.full(np.shape(num), np.nan)
    np.divide(num, den, out=out, where=np.asarray(den) > 0)
    return out


def ensemble_compute(state: EnsembleState) -> EnsembleScores:
    """Scores and curves of everything accumulated (see module docstring)."""
    m, total = state.members, int(state.rank_counts.sum())
    freq = state.rank_counts / total if total else np.full(m + 1, np.nan)
    flat = ScoreValue(float(np.abs(freq - 1.0 / (m + 1)).sum())) if total else undefined("no valid pixel")
    crps, crps_ens = _crps(state)
    centres = np.concatenate(
        [[0.5 * SPREAD_EDGES[1]], np.sqrt(SPREAD_EDGES[1:-2] * SPREAD_EDGES[2:-1]), [SPREAD_EDGES[-2]]]
    )
    return EnsembleScores(
        members=m,
        crps=crps,
        crps_ensemble=crps_ens,
        rank_histogram=freq,
        rank_flatness=flat,
        spread_skill=_spread_skill(state),
        spread_centres=centres,
        spread_rmse=np.sqrt(_safe_div(state.bin_sq_err, state.bin_count)),
        spread_mean=_safe_div(state.bin_spread, state.bin_count),
        spread_count=state.bin_count.copy(),
        thresholds=tuple(float(t) for t in state.thresholds),
        brier=tuple(divide(s, state.n, "no valid pixel") for s in state.brier_sum),
        reliability_probability=np.arange(m + 1) / m,
        reliability_frequency=_safe_div(state.rel_obs, state.rel_count),
        reliability_count=state.rel_count.copy(),
    )
