"""Pooled distributions: quantiles, W1 of log-rain, ratios, histogram, batches, zero rain."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from qpeflow.verify.distribution import (
    PLOT_EDGES,
    distribution_accum,
    distribution_compute,
    distribution_init,
    distribution_merge,
)

BIN = 0.0012  # relative width of a fine bin (about ln(10001) / 8192)


def rain(seed: int, shape, wet=0.4, scale=4.0):
    rng = np.random.default_rng(seed)
    return rng.gamma(0.7, scale, shape) * (rng.random(shape) < wet)


def compute(pred, obs):
    state = distribution_init()
    distribution_accum(state, pred, obs)
    return distribution_compute(state)


def test_against_brute_force_numpy_and_scipy():
    obs = rain(0, (6, 30, 30))
    pred = rain(1, (3, 6, 30, 30), wet=0.5, scale=5.0)
    obs[:, :2] = np.nan
    ok = np.isfinite(obs)
    o, p = obs[ok], pred[:, ok].ravel()
    r = compute(pred, obs)
    for level, name in ((0.95, "p95_ratio"), (0.99, "p99_ratio"), (0.999, "p999_ratio")):
        expected = np.quantile(p, level, method="inverted_cdf") / np.quantile(o, level, method="inverted_cdf")
        assert getattr(r, name).value == pytest.approx(expected, rel=5 * BIN + 2e-3), name
    assert r.max_ratio.value == pytest.approx(p.max() / o.max(), rel=1e-12)
    assert r.wet_fraction_ratio.value == pytest.approx(np.mean(p > 0.1) / np.mean(o > 0.1), rel=1e-12)
    assert r.std_ratio.value == pytest.approx(p.std() / o.std(), rel=1e-10)
    w1 = stats.wasserstein_distance(np.log(p + 0.1), np.log(o + 0.1))
    assert r.w1_log.value == pytest.approx(w1, abs=2 * BIN)
    dens = np.histogram(o, PLOT_EDGES)[0] / (o.size * 0.1)
    np.testing.assert_allclose(r.hist_truth, dens, rtol=1e-10)
    qq = [np.quantile(o, q, method="inverted_cdf") for q in r.qq_levels]
    np.testing.assert_allclose(r.qq_truth, qq, rtol=5 * BIN + 2e-3, atol=1e-9)


def test_batches_and_merge_equal_all_at_once():
    obs, pred = rain(2, (5, 20, 20)), rain(3, (2, 5, 20, 20))
    whole = compute(pred, obs)
    a, b = distribution_init(), distribution_init()
    distribution_accum(a, pred[:, :2], obs[:2])
    distribution_accum(b, pred[:, 2:], obs[2:])
    merged = distribution_compute(distribution_merge(a, b))
    for name in ("w1_log", "p95_ratio", "p99_ratio", "p999_ratio", "max_ratio", "wet_fraction_ratio", "std_ratio"):
        assert getattr(merged, name).value == pytest.approx(getattr(whole, name).value, rel=1e-12), name
    np.testing.assert_allclose(merged.qq_prediction, whole.qq_prediction, rtol=1e-12)


def test_identical_distributions():
    obs = rain(4, (4, 25, 25))
    r = compute(obs[::-1].copy(), obs)  # same values, other places
    assert r.w1_log.value == pytest.approx(0.0, abs=1e-12)
    for name in ("p95_ratio", "p99_ratio", "max_ratio", "wet_fraction_ratio", "std_ratio"):
        assert getattr(r, name).value == pytest.approx(1.0, rel=1e-12), name


@pytest.mark.filterwarnings("error")
def test_zero_rain_truth_gives_nan_with_reasons():
    r = compute(rain(5, (2, 10, 10)), np.zeros((2, 10, 10)))
    for name in ("p95_ratio", "p99_ratio", "p999_ratio", "max_ratio", "wet_fraction_ratio", "std_ratio"):
        value = getattr(r, name)
        assert np.isnan(value.value) and value.reason, name
    assert r.w1_log.value > 0
    empty = compute(np.zeros((2, 2)), np.full((2, 2), np.nan))
    assert np.isnan(empty.w1_log.value) and empty.w1_log.reason == "no valid pixel"
