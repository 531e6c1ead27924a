"""Intensity classes: brute force, batches and merge, limiting cases, bad edges."""

from __future__ import annotations

import numpy as np
import pytest

from qpeflow.verify.classes import check_edges, classes_accum, classes_compute, classes_init, classes_merge, classify
from qpeflow.verify.suite import SuiteSettings, suite_accum, suite_compute, suite_init
from qpeflow.verify.summary import summarise

EDGES = (0.1, 2.5, 10.0, 50.0)


def rain_pair(seed: int, shape=(4, 20, 20)):
    rng = np.random.default_rng(seed)
    obs = rng.gamma(0.5, 12.0, shape) * (rng.random(shape) > 0.4)
    pred = np.clip(obs * rng.lognormal(0, 0.8, shape) + rng.normal(0, 1.0, shape), 0, None)
    obs[rng.random(shape) < 0.05] = np.nan
    pred[0, 0, 0] = 60.0
    return pred, obs


def brute_force(pred, obs, k):
    lower = (0.0,) + EDGES
    upper = EDGES + (np.inf,)

    def cls(v):
        return next(i for i in range(5) if lower[i] <= v < upper[i]) if v >= 0.1 else 0

    h = f = m = 0
    err, n = 0.0, 0
    for p, o in zip(pred.ravel(), obs.ravel()):
        if np.isnan(p) or np.isnan(o):
            continue
        cp, co = cls(p), cls(o)
        h += cp == k and co == k
        f += cp == k and co != k
        m += cp != k and co == k
        if co == k:
            err, n = err + abs(p - o), n + 1
    return h / (h + f + m), h / (h + m), f / (h + f), err / n


def scores_of(pred, obs):
    state = classes_init(EDGES)
    classes_accum(state, pred, obs)
    return classes_compute(state)


def test_against_brute_force_loop():
    pred, obs = rain_pair(0, shape=(2, 24, 24))
    s = scores_of(pred, obs)
    assert s.names == ("no_rain", "slight", "moderate", "heavy", "violent")
    for k in range(4):
        csi, pod, far, mae = brute_force(pred, obs, k)
        assert s.csi[k].value == pytest.approx(csi, rel=1e-12)
        assert s.pod[k].value == pytest.approx(pod, rel=1e-12)
        assert s.far[k].value == pytest.approx(far, rel=1e-12)
        assert s.mae[k].value == pytest.approx(mae, rel=1e-12)
    rows = s.confusion[np.isfinite(s.confusion).all(axis=1)]
    np.testing.assert_allclose(rows.sum(axis=1), 1.0)


def test_edges_belong_to_the_class_above():
    np.testing.assert_array_equal(
        classify(np.array([0.0, 0.1, 2.49, 2.5, 10.0, 50.0, 99.0]), np.array(EDGES)), [0, 1, 1, 2, 3, 4, 4]
    )


def test_batches_and_merge_equal_all_at_once():
    pred, obs = rain_pair(1)
    whole = scores_of(pred, obs)
    a, b = classes_init(EDGES), classes_init(EDGES)
    classes_accum(a, pred[:1], obs[:1])
    classes_accum(b, pred[1:], obs[1:])
    merged = classes_compute(classes_merge(a, b))
    np.testing.assert_array_equal(merged.counts, whole.counts)
    assert merged.csi == whole.csi and merged.mae[1].value == pytest.approx(whole.mae[1].value)


def test_perfect_forecast_and_absent_class():
    _, obs = rain_pair(2)
    obs = np.minimum(obs, 40.0)  # no violent rain
    s = scores_of(obs.copy(), obs)
    for k in range(4):
        assert (s.csi[k].value, s.pod[k].value, s.far[k].value, s.mae[k].value) == (1.0, 1.0, 0.0, 0.0)
    assert np.isnan(s.csi[4].value) and "violent" in s.csi[4].reason
    np.testing.assert_array_equal(np.diag(s.confusion)[:4], 1.0)
    assert np.isnan(s.confusion[4]).all()


def test_bad_edges_are_refused():
    with pytest.raises(ValueError, match="rain/no-rain threshold 0.1"):
        check_edges(EDGES, (0.5, 1.0, 5.0))
    with pytest.raises(ValueError, match="increasing"):
        check_edges((0.1, 0.05), (0.1,))
    with pytest.raises(ValueError, match="rain/no-rain"):
        suite_init(1, (8, 8), SuiteSettings(thresholds=(1.0, 5.0)))


def test_suite_writes_named_class_scalars_and_confusion_curve():
    pred, obs = rain_pair(3, shape=(2, 16, 16))
    state = suite_init(2, (16, 16), SuiteSettings(fss_scales=(1, 2)))
    suite_accum(state, np.stack([pred, pred]), obs)
    summary = summarise(suite_compute(state))
    entries = [e for e in summary.scalars if e["name"] == "class_csi" and e["on"] == "member1"]
    assert [e["class"] for e in entries] == ["no_rain", "slight", "moderate", "heavy", "violent"]
    assert [e["threshold"] for e in entries] == [0.0, 0.1, 2.5, 10.0, 50.0]
    expected = scores_of(pred, obs)
    assert entries[1]["value"] == pytest.approx(expected.csi[1].value)
    conf = summary.curves["class_confusion_member1"]
    assert len(conf["series"]) == 5 and conf["x"] == [0, 1, 2, 3, 4]
