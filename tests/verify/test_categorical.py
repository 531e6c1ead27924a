"""Contingency-table scores: brute force, batches, limiting cases, pysteps det_cat_fct."""

from __future__ import annotations

import numpy as np
import pytest

from qpeflow.verify.categorical import categorical_accum, categorical_compute, categorical_init, categorical_merge

THRESHOLDS = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0)


def rain_pair(seed: int, shape=(6, 24, 24), nan_fraction=0.05):
    rng = np.random.default_rng(seed)
    obs = rng.gamma(0.6, 5.0, shape) * (rng.random(shape) > 0.4)
    pred = np.clip(obs * rng.lognormal(0, 0.6, shape) + rng.normal(0, 0.5, shape), 0, None)
    obs[rng.random(shape) < nan_fraction] = np.nan
    return pred, obs


def scores_of(pred, obs, thresholds=THRESHOLDS):
    state = categorical_init(thresholds)
    categorical_accum(state, pred, obs)
    return categorical_compute(state)


def brute_force(pred, obs, thr):
    h = f = m = r = 0
    for p, o in zip(pred.ravel(), obs.ravel()):
        if np.isnan(p) or np.isnan(o):
            continue
        h += p > thr and o > thr
        f += p > thr and not o > thr
        m += not p > thr and o > thr
        r += not p > thr and not o > thr
    n = h + f + m + r
    hr = (h + m) * (h + f) / n
    return {
        "pod": h / (h + m),
        "far": f / (h + f),
        "csi": h / (h + f + m),
        "bias": (h + f) / (h + m),
        "hss": 2 * (h * r - f * m) / ((h + m) * (m + r) + (h + f) * (f + r)),
        "ets": (h - hr) / (h + f + m - hr),
    }


def test_against_brute_force_loop():
    pred, obs = rain_pair(0, shape=(2, 20, 20))
    scores = scores_of(pred, obs, (0.5, 2.0, 5.0))
    for k, thr in enumerate((0.5, 2.0, 5.0)):
        expected = brute_force(pred, obs, thr)
        for name, value in expected.items():
            assert getattr(scores, name)[k].value == pytest.approx(value, rel=1e-12), (name, thr)


def test_batches_and_merge_equal_all_at_once():
    pred, obs = rain_pair(1)
    whole = scores_of(pred, obs)
    a, b = categorical_init(THRESHOLDS), categorical_init(THRESHOLDS)
    for t in range(3):
        categorical_accum(a, pred[t], obs[t])
    categorical_accum(b, pred[3:], obs[3:])
    merged = categorical_compute(categorical_merge(a, b))
    assert merged == whole


def test_perfect_forecast():
    _, obs = rain_pair(2)
    s = scores_of(obs.copy(), obs, (0.1, 1.0, 5.0))
    for k in range(3):
        assert (s.pod[k].value, s.far[k].value, s.csi[k].value, s.bias[k].value) == (1.0, 0.0, 1.0, 1.0)
        assert s.hss[k].value == pytest.approx(1.0) and s.ets[k].value == pytest.approx(1.0)


@pytest.mark.filterwarnings("error")
def test_zero_rain_truth_gives_nan_with_reason():
    obs = np.zeros((2, 8, 8))
    pred = np.zeros((2, 8, 8))
    pred[0, 0, 0] = 3.0
    s = scores_of(pred, obs, (1.0, 20.0))
    assert np.isnan(s.pod[0].value) and "no observed pixel > 1 mm/h" in s.pod[0].reason
    assert s.far[0].value == 1.0 and s.far[0].reason is None
    assert np.isnan(s.csi[1].value) and s.csi[1].reason


def test_same_numbers_as_pysteps_det_cat_fct():
    det_cat = pytest.importorskip("pysteps.verification.detcatscores")
    pred, obs = rain_pair(3, nan_fraction=0.0)
    ours = scores_of(pred, obs)
    for k, thr in enumerate(THRESHOLDS):
        ref = det_cat.det_cat_fct(pred, obs, thr, ["POD", "FAR", "CSI", "HSS", "ETS", "BIAS"])
        for name in ("pod", "far", "csi", "hss", "ets", "bias"):
            assert getattr(ours, name)[k].value == pytest.approx(ref[name.upper()], abs=1e-6), (name, thr)
