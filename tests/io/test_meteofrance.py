"""Meteo-France 1 km mosaic + grid file, and the sevmos collocated files (issue 13)."""

from __future__ import annotations

import netCDF4
import numpy as np
import pytest

from qpeflow.errors import QpeflowError
from qpeflow.io import detect_format, read
from qpeflow.io.quality import apply_quality
from qpeflow.io.radar_meteofrance import read_meteofrance
from qpeflow.io.sevmos import read_sevmos, read_sevmos_file
from tests.writers.meteofrance import GRID_NAME, mf_grid, write_mf_grid, write_mosaic
from tests.writers.sevmos import default_bt, write_sevmos

TIME = np.datetime64("2019-06-01T12:10:00", "s")


def _fields(shape=(24, 20), seed=0):
    rng = np.random.default_rng(seed)
    rain = np.round(rng.gamma(0.5, 3.0, shape) / 0.12) * 0.12  # on the 0.12 mm/h quantum
    rain[:3, :4] = np.nan  # outside coverage
    quality = rng.integers(0, 101, shape)
    quality[5, 5:9] = 255  # invalid
    rain[0, -1] = 0.0
    return rain.astype(np.float32), quality


@pytest.mark.parametrize("north_first", [True, False])
def test_mosaic_rate_quality_time_grid(tmp_path, north_first):
    rain, quality = _fields()
    grid = mf_grid(24, 20)
    write_mf_grid(tmp_path / GRID_NAME, grid, y_north_first=north_first)
    path = write_mosaic(tmp_path, rain, quality, TIME, y_north_first=north_first)
    assert detect_format(path) == "meteofrance" and detect_format(tmp_path / GRID_NAME) == "meteofrance_grid"
    (field,) = read(path)  # grid file found beside it
    assert field.units == "mm/h" and field.valid_time == TIME
    assert field.grid.shape == (24, 20) and field.grid.x0 == pytest.approx(grid.x0) and field.grid.dy == -1000.0
    bad = np.isnan(rain) | (quality > 200)
    np.testing.assert_array_equal(np.isnan(field.data), bad)
    np.testing.assert_allclose(field.data[~bad], rain[~bad], atol=1e-4)  # ACRR/100*12
    q = field.attrs["quality"]
    np.testing.assert_array_equal(np.isnan(q), quality > 200)
    masked = apply_quality(field, 50.0)
    np.testing.assert_array_equal(np.isnan(masked.data), bad | (quality < 50))


def test_grid_file_opens_with_pyresample_as_the_team_does(tmp_path):
    from pyresample.geometry import AreaDefinition

    grid = mf_grid(24, 20)
    write_mf_grid(tmp_path / GRID_NAME, grid)
    area = AreaDefinition.from_cf(str(tmp_path / GRID_NAME), variable="grid_mapping", x="X", y="Y")
    assert area.shape == (24, 20)
    np.testing.assert_allclose(area.area_extent, grid.extent, atol=1e-3)


def test_acrr_codes_and_time_units_as_in_the_file(tmp_path):
    rain, quality = _fields()
    write_mf_grid(tmp_path / GRID_NAME, mf_grid(24, 20))
    path = write_mosaic(tmp_path, rain, quality, TIME, units="minutes since 2019-06-01 00:00:00")
    with netCDF4.Dataset(path) as nc:
        nc.set_auto_maskandscale(False)
        assert nc["ACRR"].dtype == np.uint16 and nc["ACRR"][0, 0, 0] == 65535  # missing code
        nc_minutes = int(nc["time"][0])
    (field,) = read_meteofrance(path, grid_file=tmp_path / GRID_NAME)
    # the writer stored seconds since 1970 but the units say minutes since 2019-06-01: the units rule
    assert field.valid_time == np.datetime64("2019-06-01T00:00", "s") + np.timedelta64(nc_minutes, "m")


def _one_line(err, path):
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg
    return msg


def test_bad_mosaics(tmp_path):
    rain, quality = _fields()
    alone = tmp_path / "alone"
    alone.mkdir()
    path = write_mosaic(alone, rain, quality, TIME)
    with pytest.raises(QpeflowError) as err:
        read(path)
    assert "without its grid file" in _one_line(err, path)
    write_mf_grid(tmp_path / GRID_NAME, mf_grid(24, 20))
    path = write_mosaic(tmp_path, rain, quality, TIME, units=None)
    with pytest.raises(QpeflowError) as err:
        read(path)
    assert "no units" in _one_line(err, path)
    path = write_mosaic(tmp_path, rain, quality, TIME, name="cumul_france_1536-1km-5min_201906011215.nc")
    with netCDF4.Dataset(path, "a") as nc:  # a QUALITY of another shape
        nc.renameVariable("QUALITY", "Q_OLD")
        nc.createDimension("X2", 7)
        nc.createVariable("QUALITY", "u1", ("time", "Y", "X2"))[:] = 90
    with pytest.raises(QpeflowError) as err:
        read(path)
    assert "QUALITY has shape" in _one_line(err, path)


def _sevmos(tmp_path, time=TIME, shape=(16, 16), **kw):
    rain, quality = _fields(shape, seed=int(time.astype(int)) % 97)
    return write_sevmos(tmp_path, time, default_bt(rain), rain, quality, mf_grid(*shape), **kw), rain, quality


def test_sevmos_layout_and_transposes(tmp_path):
    path, rain, quality = _sevmos(tmp_path)
    with netCDF4.Dataset(path) as nc:
        assert nc["rain_rate"].dimensions == ("x", "y") and nc["rain_rate"].missing_value == -99
        assert nc["rain_quality"].dtype == np.int32 and nc["rain_quality"].missing_value == 255
        assert nc["IR_108"].dimensions == ("y", "x")
    assert detect_format(path) == "sevmos"
    s = read_sevmos_file(path)
    assert s.time == TIME and s.grid.shape == (16, 16) and s.attrs["platform_name"] == "Meteosat-11"
    bad = np.isnan(rain) | (quality > 200)
    np.testing.assert_array_equal(np.isnan(s.rain), bad)  # -99 and -98 are both missing
    np.testing.assert_allclose(s.rain[~bad], rain[~bad], atol=1e-5)  # transposed back
    np.testing.assert_array_equal(np.isnan(s.quality), quality > 200)
    np.testing.assert_array_equal(s.quality[quality <= 200], quality[quality <= 200])
    np.testing.assert_allclose(s.bt["IR_108"], default_bt(rain)["IR_108"], atol=1e-4)
    fields = read(path, channels=("IR_108", "WV_062"))
    assert [f.name for f in fields] == ["IR_108", "WV_062"] and fields[0].units == "K"
    (*_, rain_field) = read_sevmos(path, ("IR_108",), rain=True)
    assert rain_field.attrs["quality"].shape == (16, 16)


def test_sevmos_missing_channel(tmp_path):
    rain, quality = _fields((16, 16))
    bt = default_bt(rain)
    del bt["IR_134"]
    path = write_sevmos(tmp_path, TIME, bt, rain, quality, mf_grid(16, 16))
    with pytest.raises(QpeflowError) as err:
        read(path, channels=("IR_108", "IR_134"))
    assert "'IR_134' not in file" in _one_line(err, path)
