"""RAPSD: against pysteps utils.spectral.rapsd, batches, ratio limiting cases, NaN fill."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from qpeflow.verify.spectral import rapsd_accum, rapsd_compute, rapsd_fields, rapsd_init, rapsd_merge


def fields(seed: int, shape=(3, 32, 32)):
    rng = np.random.default_rng(seed)
    return np.maximum(gaussian_filter(rng.standard_normal(shape), (0, 1.5, 1.5)) * 10, 0)


@pytest.mark.parametrize("shape", [(32, 32), (33, 33), (24, 40)])
def test_same_numbers_as_pysteps_rapsd(shape):
    spectral = pytest.importorskip("pysteps.utils.spectral")
    field = fields(0, (1,) + shape)[0]
    ref = spectral.rapsd(field, fft_method=np.fft)
    got = rapsd_fields(field)
    assert got.shape == ref.shape
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-12)


def test_against_brute_force_radial_mean():
    field = fields(1, (1, 16, 16))[0]
    power = np.abs(np.fft.fftshift(np.fft.fft2(field))) ** 2 / field.size
    got = rapsd_fields(field)
    for r in range(8):
        vals = [power[i, j] for i in range(16) for j in range(16) if round(np.hypot(i - 8, j - 8)) == r]
        assert got[r] == pytest.approx(np.mean(vals), rel=1e-10)


def test_batches_and_merge_equal_all_at_once():
    pred, obs = fields(2, (5, 32, 32)), fields(3, (5, 32, 32))
    whole = rapsd_init((32, 32))
    rapsd_accum(whole, pred, obs)
    a, b = rapsd_init((32, 32)), rapsd_init((32, 32))
    rapsd_accum(a, pred[:2], obs[:2])
    rapsd_accum(b, pred[2], obs[2])
    rapsd_accum(b, pred[3:], obs[3:])
    merged, ref = rapsd_compute(rapsd_merge(a, b)), rapsd_compute(whole)
    np.testing.assert_allclose(merged.prediction, ref.prediction, rtol=1e-12)
    np.testing.assert_allclose(merged.ratio, ref.ratio, rtol=1e-12)
    np.testing.assert_allclose(ref.truth, rapsd_fields(obs)[:, 1:].mean(axis=0), rtol=1e-12)


def test_ratio_is_one_for_perfect_and_small_for_smooth():
    obs = fields(4, (4, 64, 64))
    perfect = rapsd_init((64, 64))
    rapsd_accum(perfect, obs.copy(), obs)
    r = rapsd_compute(perfect)
    np.testing.assert_allclose(r.ratio, 1.0)
    assert r.small_scale_ratio.value == pytest.approx(1.0)
    assert r.wavelength[0] == 64 and np.all(np.diff(r.wavelength) < 0)
    smooth = rapsd_init((64, 64))
    rapsd_accum(smooth, gaussian_filter(obs, (0, 3, 3)), obs)
    assert rapsd_compute(smooth).small_scale_ratio.value < 0.2


@pytest.mark.filterwarnings("error")
def test_nan_filled_with_zero_and_zero_truth_gives_reason():
    obs = fields(5, (2, 32, 32))
    obs[:, :, :4] = np.nan
    state = rapsd_init((32, 32))
    rapsd_accum(state, np.where(np.isnan(obs), 99.0, obs), obs)  # prediction masked where the truth is
    np.testing.assert_allclose(rapsd_compute(state).ratio, 1.0)
    zero = rapsd_init((32, 32))
    rapsd_accum(zero, fields(6, (2, 32, 32)), np.zeros((2, 32, 32)))
    res = rapsd_compute(zero)
    assert np.isnan(res.small_scale_ratio.value) and "no power" in res.small_scale_ratio.reason
    assert np.all(np.isnan(res.ratio))
