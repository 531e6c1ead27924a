"""Ensemble scores: fair CRPS, rank histogram, spread-skill, Brier/reliability."""

from __future__ import annotations

import numpy as np
import pytest

from qpeflow.verify.ensemble import ensemble_accum, ensemble_compute, ensemble_init, ensemble_merge


def ensemble(seed: int, members=5, shape=(3, 12, 12), nan=True):
    rng = np.random.default_rng(seed)
    obs = rng.gamma(0.8, 3.0, shape)
    ens = obs[None] * rng.lognormal(0.1, 0.5, (members,) + shape) + rng.random((members,) + shape) * 0.01
    if nan:
        obs[0, :2] = np.nan
        ens[-1, 1, 3:5] = np.nan
    return ens, obs


def compute(ens, obs, thresholds=(1.0, 5.0), seed=0):
    state = ensemble_init(ens.shape[0], thresholds, seed)
    ensemble_accum(state, ens, obs)
    return ensemble_compute(state)


def test_fair_crps_and_brier_against_brute_force():
    ens, obs = ensemble(0, members=4, shape=(2, 6, 6))
    s = compute(ens, obs)
    crps, crps_ens, brier1, n = 0.0, 0.0, 0.0, 0
    m = ens.shape[0]
    for idx in np.ndindex(obs.shape):
        x = ens[(slice(None),) + idx]
        y = obs[idx]
        if np.isnan(y) or np.isnan(x).any():
            continue
        skill = np.mean([abs(xi - y) for xi in x])
        pairs = sum(abs(xi - xj) for xi in x for xj in x)
        crps += skill - pairs / (2 * m * (m - 1))
        crps_ens += skill - pairs / (2 * m * m)
        brier1 += (np.mean(x >= 1.0) - (y >= 1.0)) ** 2
        n += 1
    assert s.crps.value == pytest.approx(crps / n, rel=1e-10)
    assert s.crps_ensemble.value == pytest.approx(crps_ens / n, rel=1e-10)
    assert s.brier[0].value == pytest.approx(brier1 / n, rel=1e-10)
    ok = np.isfinite(obs) & np.all(np.isfinite(ens), axis=0)
    k = np.sum(ens >= 5.0, axis=0)[ok]
    for j in range(m + 1):
        hit = obs[ok][k == j] >= 5.0
        assert s.reliability_count[1][j] == hit.size
        if hit.size:
            assert s.reliability_frequency[1][j] == pytest.approx(hit.mean())


def test_one_member_crps_is_mae_and_perfect_is_zero():
    ens, obs = ensemble(1, members=1)
    s = compute(ens, obs)
    ok = np.isfinite(obs) & np.isfinite(ens[0])
    mae = np.mean(np.abs(ens[0] - obs)[ok])
    assert s.crps.value == pytest.approx(mae, rel=1e-12)
    assert s.crps_ensemble.value == pytest.approx(mae, rel=1e-12)
    assert np.isnan(s.spread_skill.value) and "2 members" in s.spread_skill.reason
    perfect = compute(np.repeat(obs[None], 3, axis=0), obs)
    assert perfect.crps.value == pytest.approx(0.0, abs=1e-12)
    assert perfect.brier[0].value == 0.0


def test_batches_and_merge_equal_all_at_once():
    ens, obs = ensemble(2, shape=(4, 10, 10))
    whole = compute(ens, obs)
    a, b = ensemble_init(5, (1.0, 5.0)), ensemble_init(5, (1.0, 5.0))
    ensemble_accum(a, ens[:, :1], obs[:1])
    ensemble_accum(a, ens[:, 1:2], obs[1:2])
    ensemble_accum(b, ens[:, 2:], obs[2:])
    merged = ensemble_compute(ensemble_merge(a, b))
    for name in ("crps", "crps_ensemble", "spread_skill", "rank_flatness"):
        assert getattr(merged, name).value == pytest.approx(getattr(whole, name).value, rel=1e-10), name
    np.testing.assert_array_equal(merged.rank_histogram, whole.rank_histogram)
    np.testing.assert_array_equal(merged.reliability_count, whole.reliability_count)
    assert [v.value for v in merged.brier] == pytest.approx([v.value for v in whole.brier], rel=1e-12)


def test_calibrated_ensemble_is_flat_and_spread_skill_one():
    rng = np.random.default_rng(3)
    members, shape = 6, (40, 50, 50)
    centre = rng.gamma(1.0, 4.0, shape)  # predictable part, known to the ensemble
    ens = centre[None] + rng.normal(0, 1.0, (members,) + shape) * (1 + centre[None] / 4)
    obs = centre + rng.normal(0, 1.0, shape) * (1 + centre / 4)
    s = compute(ens, obs)
    np.testing.assert_allclose(s.rank_histogram, 1 / (members + 1), atol=0.004)
    assert s.rank_flatness.value < 0.02
    assert s.spread_skill.value == pytest.approx(1.0, abs=0.01)
    busy = s.spread_count > 5000
    assert np.all(np.diff(s.spread_rmse[busy]) > 0)  # more spread, more error (binned by the noisy sample spread)
    pooled = np.sqrt(np.sum(s.spread_rmse[busy] ** 2 * s.spread_count[busy]) / s.spread_count[busy].sum())
    assert pooled == pytest.approx(
        np.sqrt(np.sum(s.spread_mean[busy] ** 2 * s.spread_count[busy]) / s.spread_count[busy].sum()), rel=0.15
    )
    freq, count = s.reliability_frequency[0], s.reliability_count[0]
    assert np.all(np.diff(freq) > 0)
    assert np.sum(freq * count) / count.sum() == pytest.approx(np.mean(obs >= 1.0), rel=1e-12)


def test_rank_histogram_ties_spread_uniformly():
    obs = np.zeros((20000,))
    ens = np.zeros((3, 20000))
    s = compute(ens, obs, seed=1)
    np.testing.assert_allclose(s.rank_histogram, 0.25, atol=0.015)


def test_same_numbers_as_pysteps_crps_and_rankhist():
    probscores = pytest.importorskip("pysteps.verification.probscores")
    ensscores = pytest.importorskip("pysteps.verification.ensscores")
    ens, obs = ensemble(4, members=7, shape=(2, 16, 16), nan=False)
    s = compute(ens, obs)
    assert s.crps_ensemble.value == pytest.approx(probscores.CRPS(ens, obs), abs=1e-6)
    np.testing.assert_allclose(s.rank_histogram, ensscores.rankhist(ens, obs, normalize=True), atol=1e-6)


@pytest.mark.filterwarnings("error")
def test_zero_rain_and_empty_are_defined():
    s = compute(np.zeros((3, 2, 5, 5)), np.zeros((2, 5, 5)))
    assert s.crps.value == 0.0 and s.brier[0].value == 0.0
    assert np.isnan(s.spread_skill.value) and s.spread_skill.reason
    empty = compute(np.zeros((3, 2, 2)), np.full((2, 2), np.nan))
    assert np.isnan(empty.crps.value) and empty.crps.reason == "no valid pixel"
    assert np.isnan(empty.rank_flatness.value)
