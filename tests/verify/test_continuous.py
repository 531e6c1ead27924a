"""Continuous scores: brute force, batches, Spearman sampling, limiting cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from qpeflow.verify.continuous import continuous_accum, continuous_compute, continuous_init, continuous_merge


def rain_pair(seed: int, shape=(5, 20, 20)):
    rng = np.random.default_rng(seed)
    obs = rng.gamma(0.6, 5.0, shape) * (rng.random(shape) > 0.4)
    pred = np.clip(obs * rng.lognormal(0, 0.6, shape) + rng.normal(0, 0.5, shape), 0, None)
    obs[rng.random(shape) < 0.05] = np.nan
    pred[rng.random(shape) < 0.02] = np.nan
    return pred, obs


def compute(pred, obs, **kw):
    state = continuous_init(**kw)
    continuous_accum(state, pred, obs)
    return continuous_compute(state)


def test_against_brute_force():
    pred, obs = rain_pair(0)
    s = compute(pred, obs)
    ok = ~(np.isnan(pred) | np.isnan(obs))
    p, o = pred[ok], obs[ok]
    lp, lo = np.log(p + 0.1), np.log(o + 0.1)
    assert s.n == ok.sum()
    assert s.mae.value == pytest.approx(sum(abs(a - b) for a, b in zip(p, o)) / p.size, rel=1e-12)
    assert s.rmse.value == pytest.approx(np.sqrt(np.mean((p - o) ** 2)), rel=1e-12)
    assert s.me.value == pytest.approx(np.mean(p - o), abs=1e-12)
    assert s.pearson.value == pytest.approx(np.corrcoef(p, o)[0, 1], rel=1e-10)
    assert s.spearman.value == pytest.approx(stats.spearmanr(p, o).statistic, rel=1e-10)
    assert s.spearman_exact
    assert s.mae_log.value == pytest.approx(np.mean(np.abs(lp - lo)), rel=1e-12)
    assert s.rmse_log.value == pytest.approx(np.sqrt(np.mean((lp - lo) ** 2)), rel=1e-12)
    assert s.pearson_log.value == pytest.approx(np.corrcoef(lp, lo)[0, 1], rel=1e-10)


def test_batches_and_merge_equal_all_at_once():
    pred, obs = rain_pair(1)
    whole = compute(pred, obs)
    a, b = continuous_init(), continuous_init()
    for t in range(2):
        continuous_accum(a, pred[t], obs[t])
    for t in range(2, 5):
        continuous_accum(b, pred[t], obs[t])
    merged = continuous_compute(continuous_merge(a, b))
    for name in ("mae", "rmse", "me", "pearson", "spearman", "mae_log", "rmse_log", "pearson_log"):
        assert getattr(merged, name).value == pytest.approx(getattr(whole, name).value, rel=1e-10), name


def test_spearman_on_a_bounded_sample_is_close():
    pred, obs = rain_pair(2, shape=(4, 50, 50))
    exact = compute(pred, obs).spearman.value
    sampled = compute(pred, obs, capacity=3000, seed=1)
    assert not sampled.spearman_exact
    assert sampled.spearman.value == pytest.approx(exact, abs=0.05)


def test_perfect_forecast():
    _, obs = rain_pair(3)
    s = compute(obs.copy(), obs)
    assert (s.mae.value, s.rmse.value, s.me.value) == (0.0, 0.0, 0.0)
    assert s.pearson.value == pytest.approx(1.0) and s.spearman.value == pytest.approx(1.0)


@pytest.mark.filterwarnings("error")
def test_zero_rain_truth_gives_nan_correlation_with_reason():
    s = compute(np.ones((3, 4, 4)), np.zeros((3, 4, 4)))
    assert s.mae.value == 1.0
    assert np.isnan(s.pearson.value) and "constant" in s.pearson.reason
    assert np.isnan(s.spearman.value) and s.spearman.reason
    empty = compute(np.full((2, 2), np.nan), np.zeros((2, 2)))
    assert np.isnan(empty.mae.value) and empty.mae.reason == "no valid pixel"
