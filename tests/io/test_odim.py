"""ODIM HDF5 reader: round trip of the test writer, quantities, and facts of the real OPERA file."""

from __future__ import annotations

import numpy as np
import pyproj
import pytest

from qpeflow.io import detect_format, read
from qpeflow.io.grid import OPERA_CRS, Grid
from qpeflow.io.radar_odim import read_odim
from qpeflow.io.zr import dbz_to_rain, rain_to_dbz
from tests.writers.odim import write_odim

OPERA_FILE = "radar/OPERA/20180824/T_PAAH21_C_EUOC_20180824180000.hdf"
TIME = np.datetime64("2021-07-14T15:00:00", "s")


def small_grid() -> Grid:
    return Grid(OPERA_CRS, 1_000_000.0, 2000.0, -1_500_000.0, -2000.0, (30, 40))


def rain_with_holes(rng: np.random.Generator) -> np.ndarray:
    rain = rng.gamma(0.6, 3.0, size=(30, 40)).astype(np.float32)
    rain[rain < 0.5] = 0.0
    rain[:5, :7] = np.nan  # no coverage in the north-west corner
    return rain


def test_roundtrip_rate(tmp_path):
    rain = rain_with_holes(np.random.default_rng(0))
    grid = small_grid()
    path = tmp_path / "comp.h5"
    write_odim(path, rain, grid, TIME)
    assert detect_format(path) == "odim"
    (field,) = read(path)
    assert field.quantity == "rain_rate" and field.units == "mm/h" and field.name == "RATE"
    assert field.valid_time == TIME
    np.testing.assert_array_equal(np.isnan(field.data), np.isnan(rain))
    np.testing.assert_allclose(field.data[~np.isnan(rain)], rain[~np.isnan(rain)], atol=0.006)
    assert (field.data[rain == 0] == 0).all()  # undetect -> 0 rain
    assert field.grid.shape == grid.shape
    for a, b in zip((field.grid.x0, field.grid.dx, field.grid.y0, field.grid.dy), (grid.x0, grid.dx, grid.y0, grid.dy)):
        assert a == pytest.approx(b, abs=0.01)


def test_dbzh_marshall_palmer(tmp_path):
    rain = rain_with_holes(np.random.default_rng(1))
    dbz = np.where(rain > 0, rain_to_dbz(np.where(rain > 0, rain, 1.0)), -40.0).astype(np.float32)
    dbz[np.isnan(rain)] = np.nan
    path = tmp_path / "dbz.h5"
    write_odim(path, dbz, small_grid(), TIME, quantity="DBZH")
    (as_dbz,) = read_odim(path)
    assert as_dbz.quantity == "reflectivity" and as_dbz.units == "dBZ"
    (as_rain,) = read_odim(path, to_rain=True)
    assert as_rain.quantity == "rain_rate" and as_rain.units == "mm/h"
    wet = rain > 0.5
    np.testing.assert_allclose(as_rain.data[wet], rain[wet], rtol=0.01)  # 0.01 dBZ coding
    assert (as_rain.data[rain == 0] == 0).all()
    assert np.isnan(as_rain.data[np.isnan(rain)]).all()
    # Marshall-Palmer: 23 dBZ is about 1 mm/h, 47 dBZ about 31.6 mm/h
    assert dbz_to_rain(np.array([23.0, 47.0])) == pytest.approx([1.0, 31.6], rel=0.01)


def test_acrr_to_rate(tmp_path):
    acc = np.full((30, 40), 0.5, dtype=np.float32)  # 0.5 mm in 5 min = 6 mm/h
    path = tmp_path / "acrr.h5"
    write_odim(path, acc, small_grid(), TIME, quantity="ACRR", minutes=5)
    (mm,) = read_odim(path)
    assert mm.units == "mm" and mm.attrs["accumulation_minutes"] == 5
    (rate,) = read_odim(path, to_rain=True)
    np.testing.assert_allclose(rate.data, 6.0, atol=0.01)


def test_real_opera_frame(real_data):
    path = real_data(OPERA_FILE)
    (field,) = read(path)
    assert field.valid_time == np.datetime64("2018-08-24T18:00:00")
    assert field.grid.shape == (2200, 1900)  # 1900 x 2200 px (nx x ny)
    assert field.grid.resolution == (2000.0, 2000.0)
    assert field.grid.crs_name == "laea"
    assert 0.45 < 1 - field.coverage < 0.55  # about half of the domain has no radar
    assert 1100 < np.nanmax(field.data) < 1300  # the known ~1200 mm/h spike
    assert np.nanmin(field.data) == 0.0
    lon, lat = field.grid.lonlat()
    # outer corners from the file: UL (-39.54, 67.02), LR (29.42, 31.99); centres are 1 px inside
    assert (lon[0, 0], lat[0, 0]) == pytest.approx((-39.5, 67.0), abs=0.1)
    assert (lon[-1, -1], lat[-1, -1]) == pytest.approx((29.4, 32.0), abs=0.1)
    # orientation: the Icelandic radar is covered (north-west), the open Atlantic is not
    to_xy = pyproj.Transformer.from_crs("EPSG:4326", field.grid.crs, always_xy=True)

    def value_at(lon_: float, lat_: float) -> float:
        x, y = to_xy.transform(lon_, lat_)
        return float(field.data[int((y - field.grid.y0) / field.grid.dy), int((x - field.grid.x0) / field.grid.dx)])

    assert np.isfinite(value_at(-21.9, 64.1))  # Keflavik
    assert np.isnan(value_at(-15.0, 45.0))  # Bay of Biscay, far offshore
    assert np.isfinite(value_at(10.0, 50.0))  # Germany


def test_multi_time_file_gives_one_field_per_time(tmp_path):
    import h5py

    path = tmp_path / "two_times.h5"
    write_odim(path, np.ones((30, 40), np.float32), small_grid(), TIME)
    with h5py.File(path, "r+") as fh:
        fh.copy("dataset1", "dataset2")
        fh["dataset2/what"].attrs["endtime"] = np.bytes_("151500")
        fh["dataset2/what"].attrs["starttime"] = np.bytes_("151000")
        fh["dataset2/data1/data"][...] = 200  # 2 mm/h with gain 0.01
    first, second = read(path)
    assert first.valid_time == TIME and second.valid_time == TIME + np.timedelta64(15, "m")
    np.testing.assert_allclose(second.data, 2.0)
