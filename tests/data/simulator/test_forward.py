"""The infrared forward operator: physics limits, ambiguity, determinism, bad input."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from qpeflow.data.simulator.channels import ALL_CHANNELS, brightness_temperature, planck
from qpeflow.data.simulator.forward import geometry, lead_max, simulate_ir
from qpeflow.data.simulator.params import PARAM_RANGES, SimulatorParams, climatological_surface_temperature
from qpeflow.errors import QpeflowError
from qpeflow.io.regrid import equal_area_grid

N = 48
# no cloud but the rain's own: no independent layers, anvils, rainless systems or system shield
CLEAR = dict(
    cirrus_cover=0.0,
    midcloud_cover=0.0,
    lowcloud_cover=0.0,
    anvil_gain=0.0,
    noise_scale=0.0,
    dry_system_copies=0,
    system_shield_fraction=1.0,
)


def _times(n: int, start: str = "2021-06-01T00:00") -> np.ndarray:
    return np.datetime64(start) + np.arange(n) * np.timedelta64(15, "m")


def _cell(n_t: int, peak: float, row: int = N // 2, col: int = N // 2, radius: float = 3.0) -> np.ndarray:
    yy, xx = np.mgrid[:N, :N]
    blob = peak * np.exp(-((yy - row) ** 2 + (xx - col) ** 2) / (2 * radius**2))
    return np.repeat(blob[None], n_t, axis=0).astype(np.float32)


GRID = equal_area_grid(5.0, 50.0, 4.0, (N, N))
THREE = ("IR_108", "IR_120", "WV_062")  # the channels these checks index as 0, 1, 2


def test_planck_roundtrip() -> None:
    t = np.array([200.0, 250.0, 300.0])
    for wl in (3.92, 6.25, 10.8, 13.4):
        np.testing.assert_allclose(brightness_temperature(wl, planck(wl, t)), t, rtol=1e-10)


def test_shapes_determinism_and_all_channels() -> None:
    rain = _cell(6, 20.0)
    p = SimulatorParams()
    a = simulate_ir(rain, GRID, _times(6), p, np.random.default_rng(1), ALL_CHANNELS)
    b = simulate_ir(rain, GRID, _times(6), p, np.random.default_rng(1), ALL_CHANNELS)
    c = simulate_ir(rain, GRID, _times(6), p, np.random.default_rng(2), ALL_CHANNELS)
    assert a.shape == (6, len(ALL_CHANNELS), N, N) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.isfinite(a).all() and a.min() > 170 and a.max() < 340


def test_clear_sky_is_near_surface_temperature_with_small_split_window() -> None:
    p = dataclasses.replace(SimulatorParams(), **CLEAR, surface_temperature_k=290.0, diurnal_amplitude_k=0.0)
    ir = simulate_ir(np.zeros((3, N, N), np.float32), GRID, _times(3), p, np.random.default_rng(0), THREE)
    i108, i120, wv62 = ir[:, 0], ir[:, 1], ir[:, 2]
    assert 283 < np.median(i108) < 292  # skin minus a few K of water-vapour absorption
    assert 0.5 < np.median(i108 - i120) < 5.0  # clear-sky split window (water vapour; 0.5-5 K, moist: large)
    assert 215 < np.median(wv62) < 245  # upper-tropospheric humidity channel


def test_deep_convection_is_cold_and_opaque_thin_cirrus_has_split_window() -> None:
    deep = simulate_ir(
        _cell(6, 80.0, radius=5),
        GRID,
        _times(6),
        dataclasses.replace(SimulatorParams(), **CLEAR, parallax_scale=0.0),
        np.random.default_rng(0),
        THREE,
    )
    core = deep[-1, :, N // 2 - 1 : N // 2 + 2, N // 2 - 1 : N // 2 + 2]
    assert core[0].max() < 225  # IR_108 near the tropopause
    assert np.abs(core[0] - core[1]).max() < 1.0  # opaque: split window ~ 0
    assert np.abs(core[2] - core[0]).max() < 6.0  # WV_062 close to IR_108 at deep tops
    cirrus = dataclasses.replace(SimulatorParams(), **{**CLEAR, "cirrus_cover": 0.6, "cirrus_optical_depth": 0.6})
    ir = simulate_ir(np.zeros((3, N, N), np.float32), GRID, _times(3), cirrus, np.random.default_rng(0), THREE)
    sw = ir[:, 0] - ir[:, 1]
    assert 2.0 < np.percentile(sw, 99) < 10.0  # thin cirrus: 2-8 K


def test_parallax_moves_a_tall_top_north_over_europe() -> None:
    p = dataclasses.replace(SimulatorParams(), **CLEAR, psf_fwhm_km=4.0)
    rain = _cell(4, 80.0, radius=2)
    cold = []
    for scale in (0.0, 1.0):
        ir = simulate_ir(
            rain, GRID, _times(4), dataclasses.replace(p, parallax_scale=scale), np.random.default_rng(0), ("IR_108",)
        )[-1, 0]
        w = np.clip(240.0 - ir, 0, None)
        cold.append((w * np.arange(N)[:, None]).sum() / w.sum())
    geo = geometry(GRID)
    expected = p.tropopause_km * geo.row_per_km[N // 2, N // 2]  # ~1.5 h / 4 km
    assert geo.row_per_km[N // 2, N // 2] > 0.3  # northward, > 1.2 km per km of height
    assert cold[0] - cold[1] == pytest.approx(expected, rel=0.5)  # rows decrease = north


def test_tops_cool_before_the_rain_and_anvils_outlive_it() -> None:
    p = dataclasses.replace(
        SimulatorParams(),
        **{**CLEAR, "anvil_gain": 3.0},
        lead_minutes=30.0,
        parallax_scale=0.0,
        anvil_lifetime_minutes=120.0,
    )
    rain = np.zeros((12, N, N), np.float32)
    rain[4:7] = _cell(3, 60.0)  # rain only in frames 4..6
    ir = simulate_ir(rain, GRID, _times(12), p, np.random.default_rng(0), ("IR_108",))[:, 0]
    centre = ir[:, N // 2 - 3 : N // 2 + 4, N // 2 - 3 : N // 2 + 4].mean(axis=(1, 2))
    assert centre[3] < centre[0] - 10  # colder 15 min before the rain arrives
    assert centre[2] < centre[0] - 5  # and already cooling 30 min before
    domain_cold = (ir < 240).sum(axis=(1, 2))
    assert domain_cold[9] > 0.5 * domain_cold[6]  # cold anvil persists 45 min after the rain


def test_lead_max_weights() -> None:
    x = np.zeros((5, 1, 1))
    x[3] = 10.0
    out = lead_max(x, 15.0, 30.0)[:, 0, 0]
    np.testing.assert_allclose(out, [0.0, 4.0, 7.0, 10.0, 0.0])


def test_params_sample_within_ranges_and_json() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        p = SimulatorParams.sample(rng, 52.0, np.datetime64("2010-08-26"))
        for k, (lo, hi) in PARAM_RANGES.items():
            assert lo <= getattr(p, k) <= hi, k
    assert json.loads(p.to_json())["lead_minutes"] == pytest.approx(p.lead_minutes, abs=1e-3)
    summer = climatological_surface_temperature(50, np.datetime64("2020-07-20"))
    winter = climatological_surface_temperature(50, np.datetime64("2020-01-20"))
    assert summer - winter > 15 and climatological_surface_temperature(-30, np.datetime64("2020-01-20")) > 290


def test_bad_input_is_a_clear_error() -> None:
    p = SimulatorParams()
    with pytest.raises(QpeflowError, match="does not match"):
        simulate_ir(np.zeros((3, 10, 10)), GRID, _times(3), p, np.random.default_rng(0))
    with pytest.raises(QpeflowError, match="unknown channel"):
        simulate_ir(np.zeros((3, N, N)), GRID, _times(3), p, np.random.default_rng(0), ("IR_999",))
    with pytest.raises(QpeflowError, match="increase"):
        simulate_ir(np.zeros((3, N, N)), GRID, _times(3)[::-1], p, np.random.default_rng(0))


def _stratiform(surface_k: float, rate: float = 1.0, **kw) -> np.ndarray:
    """IR_108 (K) of a ``rate`` mm/h stratiform band filling the middle third of the grid (last frame)."""
    base = dict(surface_temperature_k=surface_k, parallax_scale=0.0, top_texture_km=0.0, warm_rain_fraction=0.0)
    p = dataclasses.replace(SimulatorParams(), **{**CLEAR, **base, **kw})
    rain = np.zeros((4, N, N), np.float32)
    rain[:, :, N // 3 : 2 * N // 3] = rate
    return simulate_ir(rain, GRID, _times(4), p, np.random.default_rng(0), ("IR_108",))[-1, 0]


def test_stratiform_tops_are_set_by_temperature_whatever_the_surface() -> None:
    tops = [np.median(_stratiform(t)[:, N // 2 - 2 : N // 2 + 3]) for t in (275.0, 295.0)]
    nominal = SimulatorParams().stratiform_top_temperature_k
    assert all(abs(t - nominal) < 3.0 for t in tops), tops  # the same 1 mm/h look in a cold and a warm event
    assert abs(tops[0] - tops[1]) < 2.0


def test_only_light_rain_falls_from_warm_shallow_cloud() -> None:
    band = (slice(None), slice(N // 2 - 2, N // 2 + 3))
    light, moderate = (np.median(_stratiform(285.0, r, warm_rain_fraction=1.0)[band]) for r in (0.5, 3.0))
    p = SimulatorParams()
    assert light > p.cloud_top_temperature(p.warm_top_km + 0.5)  # everywhere a warm-rain region: a low top
    assert p.warm_rain_max_mmh <= 3.0 and moderate < p.stratiform_top_temperature_k  # 3 mm/h: a deep ice top


def test_rainless_copies_of_the_rain_systems_add_cold_dry_cloud() -> None:
    kw = dict(dry_system_offset_km=64.0)  # 16 px: the copies sit beside the band, left and right
    alone = _stratiform(285.0, **kw)
    with_copies = _stratiform(285.0, **kw, dry_system_copies=2)
    dry = np.ones((N, N), bool)
    dry[:, N // 3 - 4 : 2 * N // 3 + 4] = False  # away from the band and its shield
    assert (alone[dry] < 250).mean() < 0.05
    assert (with_copies[dry] < 250).mean() > 0.3  # as cold as stratiform rain, and dry


def test_the_system_shield_surrounds_large_systems_only() -> None:
    big = _stratiform(285.0, system_shield_fraction=0.1, system_shield_scale_km=40.0)
    far = np.zeros((N, N), bool)
    far[:, : N // 3 - 4] = True  # 16+ km beyond the band's edge: past the ordinary shield
    assert (big[far] < 255).mean() > 0.3
    shower = dataclasses.replace(
        SimulatorParams(), **{**CLEAR, "system_shield_fraction": 0.1}, parallax_scale=0.0, warm_rain_fraction=0.0
    )
    ir = simulate_ir(_cell(4, 1.0, radius=2), GRID, _times(4), shower, np.random.default_rng(0), ("IR_108",))[-1, 0]
    yy, xx = np.mgrid[:N, :N]
    ring = np.hypot(yy - N // 2, xx - N // 2) > 8  # 32 km from a 2-px shower
    assert (ir[ring] < 255).mean() < 0.02
