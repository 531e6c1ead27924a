"""Statistical realism of pooled rain values: histograms, quantiles, W1 of log-rain, extremes.

All pixels of all fields (and all members, when several are passed) are pooled.
Values go into a fine histogram of log-rain ``u = ln(max(R, 0) + 0.1)`` with
``N_FINE`` equal bins on ``[ln 0.1, ln(0.1 + 1000)]`` (about 0.1 % of R per bin;
values above 1000 mm/h land in the last bin) plus an exact count of dry
(R <= 0) pixels, so that everything accumulates and merges exactly:

- quantiles (QQ plot, P95/P99/P99.9) invert the pooled CDF, linearly inside a
  fine bin, over *all* valid pixels (dry ones included: the P95 of a field that
  is 96 % dry is 0 mm/h) -- exact up to the bin width;
- Wasserstein-1 distance of log-rain ``W1 = integral |F_p(u) - F_o(u)| du``
  (Villani 2009; for 1-D ``scipy.stats.wasserstein_distance``), with the CDFs
  linear inside each fine bin;
- max (exact), wet-area fraction (R > 0.1 mm/h), pooled standard deviation
  (Chan et al. 1979 moments);
- a plotting histogram: 10 bins per decade from 0.1 to 1000 mm/h, density =
  fraction of all valid pixels per unit of log10(R).
Ratios are prediction / truth; NaN with a reason when the truth value is 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qpeflow.verify.value import LOG_OFFSET, ScoreValue, divide

N_FINE = 8192
U_LO = float(np.log(LOG_OFFSET))
U_HI = float(np.log(LOG_OFFSET + 1000.0))
PLOT_EDGES = np.logspace(-1.0, 3.0, 41)  # mm/h
QQ_LEVELS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995, 0.9999)
WET_MM_H = 0.1


@dataclass
class Pool:
    """Histogram accumulator of one pooled set of rain values (prediction or truth)."""

    fine: np.ndarray = field(default_factory=lambda: np.zeros(N_FINE, dtype=np.int64))
    plot: np.ndarray = field(default_factory=lambda: np.zeros(PLOT_EDGES.size - 1, dtype=np.int64))
    n: int = 0
    dry: int = 0
    wet: int = 0
    max: float = float("-inf")
    mean: float = 0.0
    m2: float = 0.0

    def add(self, values: np.ndarray) -> None:
        """Add finite rain values (1-D, mm/h)."""
        v = np.asarray(values, dtype=np.float64)
        if v.size == 0:
            return
        positive = v[v > 0]
        u = np.log(positive + LOG_OFFSET)
        idx = np.clip(((u - U_LO) / (U_HI - U_LO) * N_FINE).astype(np.int64), 0, N_FINE - 1)
        self.fine += np.bincount(idx, minlength=N_FINE)
        self.plot += np.histogram(positive, bins=PLOT_EDGES)[0]
        self.dry += int(v.size - positive.size)
        self.wet += int(np.count_nonzero(v > WET_MM_H))
        self.max = max(self.max, float(v.max()))
        mean, m2, n = float(v.mean()), float(((v - v.mean()) ** 2).sum()), v.size
        delta, total = mean - self.mean, self.n + n
        self.m2 += m2 + delta * delta * self.n * n / total
        self.mean += delta * n / total
        self.n = total

    def merged(self, b: Pool) -> Pool:
        """A new pool holding both (Chan et al. 1979 for the moments)."""
        out = Pool(self.fine.copy(), self.plot.copy(), self.n, self.dry, self.wet, self.max, self.mean, self.m2)
        if b.n:
            delta, total = b.mean - out.mean, out.n + b.n
            out.m2 += b.m2 + delta * delta * out.n * b.n / total
            out.mean += delta * b.n / total
            out.n, out.dry, out.wet, out.max = total, out.dry + b.dry, out.wet + b.wet, max(out.max, b.max)
            out.fine += b.fine
            out.plot += b.plot
        return out

    def cdf_at_edges(self) -> np.ndarray:
        """F(u) at the N_FINE + 1 fine edges (the dry mass sits at the lowest edge)."""
        return (self.dry + np.concatenate([[0], np.cumsum(self.fine)])) / self.n

    def quantile(self, level: float) -> float:
        """Pooled quantile in mm/h (0 when the level falls in the dry mass)."""
        target = level * self.n
        if target <= self.dry:
            return 0.0
        cum = self.dry + np.cumsum(self.fine)
        b = min(int(np.searchsorted(cum, target)), N_FINE - 1)
        before = cum[b] - self.fine[b]
        frac = (target - before) / self.fine[b] if self.fine[b] else 1.0
        u = U_LO + (b + frac) * (U_HI - U_LO) / N_FINE
        return float(min(np.exp(u) - LOG_OFFSET, self.max))


@dataclass
class DistributionState:
    """Accumulator: pooled prediction and truth values."""

    pred: Pool = field(default_factory=Pool)
    obs: Pool = field(default_factory=Pool)


@dataclass(frozen=True)
class DistributionResult:
    """Ratios prediction / truth, W1 of log-rain, QQ quantiles and plotting histograms."""

    w1_log: ScoreValue  # ln(mm/h)
    p95_ratio: ScoreValue
    p99_ratio: ScoreValue
    p999_ratio: ScoreValue
    max_ratio: ScoreValue
    wet_fraction_ratio: ScoreValue
    std_ratio: ScoreValue
    std_truth: ScoreValue  # mm/h, pooled
    std_prediction: ScoreValue
    wet_fraction_truth: ScoreValue
    qq_levels: tuple[float, ...]
    qq_truth: np.ndarray  # mm/h
    qq_prediction: np.ndarray
    hist_centres: np.ndarray  # mm/h, geometric bin centres
    hist_truth: np.ndarray  # fraction of valid pixels per unit log10(R)
    hist_prediction: np.ndarray


def distribution_init() -> DistributionState:
    """Empty accumulator."""
    return DistributionState()


def distribution_accum(state: DistributionState, pred: np.ndarray, obs: np.ndarray) -> None:
    """Add values: ``pred`` of the shape of ``obs`` or (M, *obs.shape) members (all pooled), mm/h.

    Only pixels where the observation is finite count (and, for the prediction, where it is finite too).
    """
    pred, obs = np.asarray(pred), np.asarray(obs)
    if pred.shape != obs.shape and pred.shape[1:] != obs.shape:
        raise ValueError(f"prediction shape {pred.shape} fits neither {obs.shape} nor (members, *{obs.shape})")
    obs_valid = np.isfinite(obs)
    state.obs.add(obs[obs_valid])
    state.pred.add(pred[np.isfinite(pred) & np.broadcast_to(obs_valid, pred.shape)])


def distribution_merge(a: DistributionState, b: DistributionState) -> DistributionState:
    """Combination of two accumulators (inputs unchanged)."""
    return DistributionState(a.pred.merged(b.pred), a.obs.merged(b.obs))


def wasserstein1_log(p: Pool, o: Pool) -> float:
    """W1 between two pooled log-rain distributions, CDFs linear inside each fine bin."""
    a, b = p.cdf_at_edges()[:-1] - o.cdf_at_edges()[:-1], p.cdf_at_edges()[1:] - o.cdf_at_edges()[1:]
    width = (U_HI - U_LO) / N_FINE
    same_sign = a * b >= 0
    with np.errstate(invalid="ignore", divide="ignore"):
        crossing = (a * a + b * b) / (2.0 * (np.abs(a) + np.abs(b)))
    return float(width * np.where(same_sign, 0.5 * (np.abs(a) + np.abs(b)), crossing).sum())


def _ratios(p: Pool, o: Pool) -> dict[str, ScoreValue]:
    out = {}
    for name, level in (("p95_ratio", 0.95), ("p99_ratio", 0.99), ("p999_ratio", 0.999)):
        out[name] = divide(
            p.quantile(level), o.quantile(level), f"the truth's P{level * 100:g} is 0 mm/h (too few wet pixels)"
        )
    out["max_ratio"] = divide(p.max, o.max, "the truth has no rain (max 0 mm/h)")
    out["wet_fraction_ratio"] = divide(p.wet / p.n, o.wet / o.n, f"the truth has no pixel > {WET_MM_H:g} mm/h")
    out["std_ratio"] = divide(np.sqrt(p.m2 / p.n), np.sqrt(o.m2 / o.n), "the truth is constant (std 0)")
    return out


def distribution_compute(state: DistributionState) -> DistributionResult:
    """Scores and curves of everything accumulated (see module docstring)."""
    p, o = state.pred, state.obs
    centres = np.sqrt(PLOT_EDGES[:-1] * PLOT_EDGES[1:])
    dlog = np.diff(np.log10(PLOT_EDGES))
    if p.n == 0 or o.n == 0:
        nan = divide(0.0, 0.0, "no valid pixel")
        empty = np.full(len(QQ_LEVELS), np.nan)
        hist = np.full(centres.shape, np.nan)
        return DistributionResult(
            nan, nan, nan, nan, nan, nan, nan, nan, nan, nan, QQ_LEVELS, empty, empty, centres, hist, hist
        )
    r = _ratios(p, o)
    return DistributionResult(
        w1_log=ScoreValue(wasserstein1_log(p, o)),
        **r,
        std_truth=ScoreValue(float(np.sqrt(o.m2 / o.n))),
        std_prediction=ScoreValue(float(np.sqrt(p.m2 / p.n))),
        wet_fraction_truth=ScoreValue(o.wet / o.n),
        qq_levels=QQ_LEVELS,
        qq_truth=np.array([o.quantile(q) for q in QQ_LEVELS]),
        qq_prediction=np.array([p.quantile(q) for q in QQ_LEVELS]),
        hist_centres=centres,
        hist_truth=o.plot / (o.n * dlog),
        hist_prediction=p.plot / (p.n * dlog),
    )
