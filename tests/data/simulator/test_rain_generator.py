"""The stochastic rain generator: intermittency, spectrum, advection, cell life cycle."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from qpeflow.data.simulator.cloud_fields import EvolvingNoise, powerlaw_noise
from qpeflow.data.simulator.rain_generator import RainEventParams, _cell_intensity, _Cells, simulate_rain


def _spectral_slope(field: np.ndarray) -> float:
    """Log-log slope of the radially averaged power spectrum between 4 and 32 px wavelengths."""
    ps = np.abs(np.fft.fft2(field - field.mean())) ** 2
    k = np.hypot(*np.meshgrid(np.fft.fftfreq(field.shape[0]), np.fft.fftfreq(field.shape[1]), indexing="ij"))
    sel = (k > 1 / 32) & (k < 1 / 4)
    return float(np.polyfit(np.log(k[sel]), np.log(ps[sel]), 1)[0])


def test_shape_determinism_nonnegative() -> None:
    a = simulate_rain(6, (48, 40), 15, 4.0, np.random.default_rng(0))
    b = simulate_rain(6, (48, 40), 15, 4.0, np.random.default_rng(0))
    assert a.shape == (6, 48, 40) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert (a >= 0).all() and np.isfinite(a).all()


def test_intermittent_lognormal_like_intensities() -> None:
    p = dataclasses.replace(RainEventParams(), wet_fraction=0.25, cell_rate=0.0)
    r = simulate_rain(4, (96, 96), 15, 4.0, np.random.default_rng(1), p)
    wet = r[r > 0]
    assert 0.1 < wet.size / r.size < 0.45  # intermittent: dry and wet areas
    logs = np.log(wet[wet > 0.1])
    assert 0.6 < logs.std() < 2.5  # a broad, log-normal-like spread of intensities
    assert np.percentile(wet, 99) > 5 * np.median(wet)  # heavy upper tail


def test_noise_has_the_power_law_spectrum() -> None:
    f = powerlaw_noise((128, 128), 3.0, np.random.default_rng(0))
    assert abs(f.mean()) < 1e-9 and f.std() == pytest.approx(1.0)
    assert _spectral_slope(f) == pytest.approx(-3.0, abs=0.4)


def test_evolving_noise_is_advected_and_keeps_variance() -> None:
    noise = EvolvingNoise((64, 64), 3.0, 4.0, (3.0, 0.0), 1e6, np.random.default_rng(0))
    a = noise.field()
    b = noise.step()  # nearly frozen (huge lifetime): a pure 3-px eastward shift
    assert np.corrcoef(np.roll(a, 3, axis=1).ravel(), b.ravel())[0, 1] > 0.99
    assert b.std() == pytest.approx(1.0, rel=0.3)


def test_cells_grow_then_decay() -> None:
    ages = np.arange(0.0, 61.0, 5.0)
    one = np.ones_like(ages)
    cells = _Cells(one, one, ages, 60 * one, 20 * one, 50 * one, 2 * one, one, 0 * one)
    i = _cell_intensity(cells)
    assert i[0] == 0 and i[4] == pytest.approx(50.0) and i[-1] == pytest.approx(0.0, abs=1e-9)
    assert np.all(np.diff(i[:5]) > 0) and np.all(np.diff(i[4:]) < 0)


def test_convective_cells_add_heavy_rain() -> None:
    calm = dataclasses.replace(RainEventParams(), cell_rate=0.0, wet_fraction=0.1)
    stormy = dataclasses.replace(calm, cell_rate=4.0, cell_peak_mmh=50.0)
    a = simulate_rain(8, (64, 64), 15, 4.0, np.random.default_rng(2), calm)
    b = simulate_rain(8, (64, 64), 15, 4.0, np.random.default_rng(2), stormy)
    assert (b >= 20).sum() > 5 * max((a >= 20).sum(), 1)
