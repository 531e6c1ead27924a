"""FSS by summed-area tables: brute force, batches, limiting cases, pysteps spatialscores.fss."""

from __future__ import annotations

import numpy as np
import pytest

from qpeflow.verify.spatial import fss_accum, fss_compute, fss_init, fss_merge, summed_area_table, window_fractions

SCALES = (1, 2, 4, 8, 16, 32, 64)
THRESHOLDS = (1.0, 5.0, 10.0)


def rain_fields(seed: int, shape=(4, 40, 40)):
    rng = np.random.default_rng(seed)
    from scipy.ndimage import gaussian_filter

    obs = 20 * np.maximum(gaussian_filter(rng.standard_normal(shape), (0, 3, 3)) * 3 - 0.3, 0)
    pred = 20 * np.maximum(gaussian_filter(rng.standard_normal(shape), (0, 3, 3)) * 3 - 0.3, 0) * 0.5 + 0.5 * obs
    return pred, obs


def compute(pred, obs, thresholds=THRESHOLDS, scales=SCALES):
    state = fss_init(thresholds, scales)
    fss_accum(state, pred, obs)
    return fss_compute(state)


def test_window_fractions_against_brute_force_window():
    rng = np.random.default_rng(0)
    binary = rng.random((9, 11)) > 0.6
    table = summed_area_table(binary)
    for scale in (1, 2, 3, 4, 7, 20):
        got = window_fractions(table, scale)
        for i in range(9):
            for j in range(11):
                lo_i, lo_j = i - scale // 2, j - scale // 2
                total = sum(
                    binary[a, b]
                    for a in range(lo_i, lo_i + scale)
                    for b in range(lo_j, lo_j + scale)
                    if 0 <= a < 9 and 0 <= b < 11
                )
                assert got[i, j] == pytest.approx(total / scale**2)


def test_fss_against_brute_force_with_nan_mask():
    pred, obs = rain_fields(1, (2, 16, 16))
    obs[:, :3, :] = np.nan
    s = compute(pred, obs, (1.0,), (1, 3, 4))
    valid = np.isfinite(obs)
    for k, scale in enumerate((1, 3, 4)):
        num = den = 0.0
        for t in range(2):
            ef, eo = (pred[t] >= 1) & valid[t], (np.nan_to_num(obs[t]) >= 1) & valid[t]
            for i in range(16):
                for j in range(16):
                    if not valid[t, i, j]:
                        continue
                    win = np.s_[
                        max(i - scale // 2, 0) : max(i - scale // 2 + scale, 0),
                        max(j - scale // 2, 0) : max(j - scale // 2 + scale, 0),
                    ]
                    sf, so = ef[win].sum() / scale**2, eo[win].sum() / scale**2
                    num += (sf - so) ** 2
                    den += sf**2 + so**2
        assert s.fss[0][k].value == pytest.approx(1 - num / den, rel=1e-12)


def test_batches_and_merge_equal_all_at_once():
    pred, obs = rain_fields(2)
    whole = compute(pred, obs)
    a, b = fss_init(THRESHOLDS, SCALES), fss_init(THRESHOLDS, SCALES)
    fss_accum(a, pred[0], obs[0])
    fss_accum(a, pred[1:2], obs[1:2])
    fss_accum(b, pred[2:], obs[2:])
    merged = fss_compute(fss_merge(a, b))
    for k in range(3):
        for s in range(len(SCALES)):
            assert merged.fss[k][s].value == pytest.approx(whole.fss[k][s].value, rel=1e-12)


def test_perfect_forecast_gives_one():
    _, obs = rain_fields(3)
    s = compute(obs.copy(), obs)
    assert all(v.value == pytest.approx(1.0) for row in s.fss for v in row)


@pytest.mark.filterwarnings("error")
def test_no_event_gives_nan_with_reason():
    s = compute(np.zeros((2, 8, 8)), np.zeros((2, 8, 8)))
    assert np.isnan(s.fss[0][0].value) and "no pixel >= 1 mm/h" in s.fss[0][0].reason


def test_same_numbers_as_pysteps_fss():
    spatial = pytest.importorskip("pysteps.verification.spatialscores")
    pred, obs = rain_fields(4, (3, 48, 40))
    ours = compute(pred, obs)
    for k, thr in enumerate(THRESHOLDS):
        for s, scale in enumerate(SCALES):
            ref = spatial.fss_init(thr, scale)
            for t in range(3):
                spatial.fss_accum(ref, pred[t], obs[t])
            assert ours.fss[k][s].value == pytest.approx(spatial.fss_compute(ref), abs=1e-6), (thr, scale)
