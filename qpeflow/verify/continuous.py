"""Continuous scores: MAE, RMSE, mean error, Pearson and Spearman correlation.

Each is computed on rain (mm/h) and on log-rain ``ln(max(R, 0) + 0.1)``
(:func:`qpeflow.verify.value.log_rain`), over the pixels where both fields are
finite. Moments accumulate exactly with the pairwise update of Chan, Golub &
LeVeque (1979), so batches and one pass agree to rounding.

Spearman's rank correlation needs all pairs at once. It is computed on a
bounded sample of at most ``capacity`` pixel pairs kept by bottom-k sampling
(each pair gets a uniform random key; the ``capacity`` smallest keys are kept,
which is a uniform sample without replacement and mergeable). While the number
of valid pairs seen is <= ``capacity`` the sample is every pair and Spearman is
exact (``ContinuousScores.spearman_exact``). Spearman is the same on rain and
log-rain (the transform is monotonic), so it is given once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.stats import rankdata

from qpeflow.verify.value import ScoreValue, divide, dot, log_rain, undefined, valid_pairs


@dataclass
class Moments:
    """Running count, means, centred second moments and co-moment of (p, o), and error sums."""

    n: int = 0
    mean_p: float = 0.0
    mean_o: float = 0.0
    m2_p: float = 0.0
    m2_o: float = 0.0
    c_po: float = 0.0
    sum_abs_err: float = 0.0
    sum_sq_err: float = 0.0

    @staticmethod
    def of(p: np.ndarray, o: np.ndarray) -> Moments:
        """Moments of 1-D float64 samples p, o (same length)."""
        if p.size == 0:
            return Moments()
        mp, mo = float(p.mean()), float(o.mean())
        dp, do, err = p - mp, o - mo, p - o
        return Moments(
            int(p.size), mp, mo, dot(dp, dp), dot(do, do), dot(dp, do), float(np.abs(err).sum()), dot(err, err)
        )

    def merged(self, b: Moments) -> Moments:
        """Chan et al. (1979) combination of two sets of moments."""
        n = self.n + b.n
        if n == 0:
            return Moments()
        dp, do = b.mean_p - self.mean_p, b.mean_o - self.mean_o
        w = self.n * b.n / n
        return Moments(
            n,
            self.mean_p + dp * b.n / n,
            self.mean_o + do * b.n / n,
            self.m2_p + b.m2_p + dp * dp * w,
            self.m2_o + b.m2_o + do * do * w,
            self.c_po + b.c_po + dp * do * w,
            self.sum_abs_err + b.sum_abs_err,
            self.sum_sq_err + b.sum_sq_err,
        )


@dataclass
class RankSample:
    """Bottom-k sample of (p, o) pairs for Spearman; ``seen`` counts every valid pair offered."""

    capacity: int
    rng: np.random.Generator
    keys: np.ndarray = field(default_factory=lambda: np.empty(0))
    p: np.ndarray = field(default_factory=lambda: np.empty(0))
    o: np.ndarray = field(default_factory=lambda: np.empty(0))
    seen: int = 0

    def add(self, keys: np.ndarray, p: np.ndarray, o: np.ndarray, seen: int) -> None:
        """Offer pairs (p, o) with their random keys; keep the ``capacity`` smallest keys."""
        keys, p, o = np.concatenate([self.keys, keys]), np.concatenate([self.p, p]), np.concatenate([self.o, o])
        if keys.size > self.capacity:
            keep = np.argpartition(keys, self.capacity - 1)[: self.capacity]
            keys, p, o = keys[keep], p[keep], o[keep]
        self.keys, self.p, self.o, self.seen = keys, p, o, self.seen + seen


@dataclass
class ContinuousState:
    """Accumulator of :mod:`qpeflow.verify.continuous`."""

    rain: Moments
    log: Moments
    sample: RankSample


@dataclass(frozen=True)
class ContinuousScores:
    """MAE, RMSE, ME (pred - obs) in mm/h and on log-rain (ln(mm/h)); correlations; pixel count."""

    n: int
    mae: ScoreValue
    rmse: ScoreValue
    me: ScoreValue
    pearson: ScoreValue
    spearman: ScoreValue
    mae_log: ScoreValue
    rmse_log: ScoreValue
    me_log: ScoreValue
    pearson_log: ScoreValue
    spearman_exact: bool


def continuous_init(capacity: int = 1_000_000, seed: int = 0) -> ContinuousState:
    """Empty accumulator; ``capacity`` pairs at most for Spearman, sampled with ``seed``."""
    return ContinuousState(Moments(), Moments(), RankSample(capacity, np.random.default_rng(seed)))


def continuous_accum(state: ContinuousState, pred: np.ndarray, obs: np.ndarray) -> None:
    """Add ``pred`` and ``obs`` (same shape, mm/h, NaN ignored)."""
    valid = valid_pairs(pred, obs)
    p = np.asarray(pred, dtype=np.float64)[valid]
    o = np.asarray(obs, dtype=np.float64)[valid]
    state.rain = state.rain.merged(Moments.of(p, o))
    state.log = state.log.merged(Moments.of(log_rain(p), log_rain(o)))
    state.sample.add(state.sample.rng.random(p.size), p, o, p.size)


def continuous_merge(a: ContinuousState, b: ContinuousState) -> ContinuousState:
    """Combination of two accumulators (inputs unchanged; the sample keeps ``a``'s capacity and generator)."""
    sample = RankSample(a.sample.capacity, a.sample.rng, a.sample.keys, a.sample.p, a.sample.o, a.sample.seen)
    sample.add(b.sample.keys, b.sample.p, b.sample.o, b.sample.seen)
    return ContinuousState(a.rain.merged(b.rain), a.log.merged(b.log), sample)


def _pearson(m: Moments) -> ScoreValue:
    if m.n < 2:
        return undefined("fewer than 2 valid pixels")
    if m.m2_o == 0.0:
        return undefined("the observation is constant (e.g. no rain)")
    if m.m2_p == 0.0:
        return undefined("the prediction is constant")
    return ScoreValue(m.c_po / np.sqrt(m.m2_p * m.m2_o))


def _spearman(sample: RankSample) -> ScoreValue:
    rp, ro = rankdata(sample.p), rankdata(sample.o)
    return _pearson(Moments.of(rp, ro))


def _errors(m: Moments) -> tuple[ScoreValue, ScoreValue, ScoreValue]:
    """MAE, RMSE, ME from the accumulated sums (errors summed directly so a perfect forecast gives 0)."""
    reason = "no valid pixel"
    bias = m.mean_p - m.mean_o
    rmse = divide(m.sum_sq_err, m.n, reason)
    rmse = ScoreValue(float(np.sqrt(rmse.value)), rmse.reason)
    return divide(m.sum_abs_err, m.n, reason), rmse, (ScoreValue(bias) if m.n else undefined(reason))


def continuous_compute(state: ContinuousState) -> ContinuousScores:
    """Scores of everything accumulated (see module docstring)."""
    mae, rmse, me = _errors(state.rain)
    mae_l, rmse_l, me_l = _errors(state.log)
    return ContinuousScores(
        n=state.rain.n,
        mae=mae,
        rmse=rmse,
        me=me,
        pearson=_pearson(state.rain),
        spearman=_spearman(state.sample),
        mae_log=mae_l,
        rmse_log=rmse_l,
        me_log=me_l,
        pearson_log=_pearson(state.log),
        spearman_exact=state.sample.seen <= state.sample.capacity,
    )
