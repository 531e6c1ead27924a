"""Regridding: brute-force block means, exact linear interpolation, OPERA 2->4 km mass, Satip -> OPERA orientation."""

from __future__ import annotations

import warnings

import numpy as np
import pyproj
import pytest
import xarray as xr
import zarr

from qpeflow.io import read
from qpeflow.io.field import Field
from qpeflow.io.grid import OPERA_CRS, Grid
from qpeflow.io.regrid import equal_area_grid, regrid
from qpeflow.io.satellite_satip import decode_counts, read_satip

T0 = np.datetime64("2020-01-01T00:00", "s")


def rain_field(data: np.ndarray, grid: Grid) -> Field:
    return Field(data.astype(np.float32), "rain_rate", "mm/h", T0, grid, "synthetic")


def test_mean_matches_brute_force_block_mean():
    rng = np.random.default_rng(0)
    grid = Grid(OPERA_CRS, 0.0, 2000.0, 0.0, -2000.0, (8, 12))
    data = rng.gamma(0.5, 2.0, size=grid.shape)
    data[0, 0] = np.nan  # 1 of 4 missing: kept (coverage 0.75)
    data[2:4, 2:4] = np.nan
    data[2, 4] = np.nan
    data[3, 5] = np.nan  # 2 of 4 missing: kept at min_coverage 0.5
    coarse = Grid(OPERA_CRS, 0.0, 4000.0, 0.0, -4000.0, (4, 6))
    out = regrid(rain_field(data, grid), coarse, "mean").data
    blocks = data.reshape(4, 2, 6, 2).transpose(0, 2, 1, 3).reshape(4, 6, 4)
    with warnings.catch_warnings():  # the all-NaN block: "mean of empty slice"
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.where(np.isfinite(blocks).mean(-1) >= 0.5, np.nanmean(blocks, -1), np.nan)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert np.isnan(out[1, 1]) and np.isfinite(out[1, 2]) and np.isfinite(out[0, 0])
    strict = regrid(rain_field(data, grid), coarse, "mean", min_coverage=1.0).data
    assert np.isnan(strict[0, 0]) and np.isnan(strict[1, 2])


def test_bilinear_reproduces_a_linear_field_and_nearest_is_identity():
    grid = Grid(OPERA_CRS, 0.0, 1000.0, 0.0, -1000.0, (20, 30))
    xx, yy = np.meshgrid(grid.x, grid.y)
    bt = 250.0 + 1e-4 * xx - 2e-4 * yy
    field = Field(bt.astype(np.float32), "brightness_temperature", "K", T0, grid, "synthetic")
    shifted = Grid(OPERA_CRS, 3300.0, 700.0, -2100.0, -900.0, (15, 25))
    out = regrid(field, shifted, "bilinear").data
    sx, sy = np.meshgrid(shifted.x, shifted.y)
    np.testing.assert_allclose(out, 250.0 + 1e-4 * sx - 2e-4 * sy, atol=1e-3)
    np.testing.assert_array_equal(regrid(field, grid, "nearest").data, field.data)
    outside = Grid(OPERA_CRS, 1e6, 1000.0, 0.0, -1000.0, (3, 3))
    assert np.isnan(regrid(field, outside, "bilinear").data).all()
    with pytest.raises(ValueError, match="unknown regrid method"):
        regrid(field, grid, "cubic")


def test_equal_area_grid_centre_and_size():
    grid = equal_area_grid(5.0, 52.0, 4.0, (100, 120))
    lon, lat = grid.lonlat()
    assert grid.resolution == (4000.0, 4000.0) and grid.shape == (100, 120)
    assert lon[49:51, 59:61].mean() == pytest.approx(5.0, abs=0.05)
    assert lat[49:51, 59:61].mean() == pytest.approx(52.0, abs=0.05)


def test_opera_to_4km_conserves_rain_mass(real_data):
    (field,) = read(real_data("radar/OPERA/20180824/T_PAAH21_C_EUOC_20180824180000.hdf"))
    g = field.grid
    coarse = Grid(g.crs, g.x0, 2 * g.dx, g.y0, 2 * g.dy, (g.shape[0] // 2, g.shape[1] // 2))
    out = regrid(field, coarse, "mean")
    assert out.grid.shape == (1100, 950)
    covered = np.isfinite(out.data)
    fine_covered = np.repeat(np.repeat(covered, 2, 0), 2, 1)
    mass_fine = np.nansum(np.where(fine_covered, field.data, 0.0).astype(np.float64)) * (2.0 * 2.0)  # mm/h km2
    mass_coarse = np.nansum(out.data.astype(np.float64)) * (4.0 * 4.0)
    assert mass_coarse == pytest.approx(mass_fine, rel=0.01)
    assert abs(covered.mean() - field.coverage) < 0.01
    assert np.nanmax(out.data) < np.nanmax(field.data)  # area mean smooths the spike


def test_satip_onto_opera_crop_over_the_uk(real_data):
    path = real_data("seviri/satip-uk-20231220/202312201200.zarr.zip")
    (ir,) = read_satip(path, ["IR_108"])
    opera = Grid(OPERA_CRS, 0.0, 2000.0, 0.0, -2000.0, (2200, 1900))
    uk = opera.crop(900, 400, 500, 500)  # about 15 W - 5 E, 48 - 60 N
    out = regrid(ir, uk, "bilinear")
    values = out.data[np.isfinite(out.data)]
    assert out.coverage > 0.9 and values.min() > 200 and values.max() < 290
    assert abs(np.median(values) - np.median(ir.data)) < 10
    # a known cold-cloud pixel, taken from the raw file (storage order, its own OSGB coordinates,
    # no reader involved), lands in the regridded image where its lon/lat says
    ds = xr.open_zarr(zarr.storage.ZipStore(str(path), mode="r"))
    raw = decode_counts(ds["data"].sel(variable="IR_108").values[0], "IR_108")
    to_lonlat = pyproj.Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True)
    lon_all, lat_all = to_lonlat.transform(ds["x_osgb"].values, ds["y_osgb"].values)
    ulon, ulat = uk.lonlat()
    inside = (
        (lon_all > np.nanmin(ulon) + 1)
        & (lon_all < np.nanmax(ulon) - 1)
        & (lat_all > np.nanmin(ulat) + 1)
        & (lat_all < np.nanmax(ulat) - 1)
    )
    smooth = np.full_like(raw, np.inf)  # the centre of a cold 3x3 patch, so interpolation cannot move it away
    smooth[1:-1, 1:-1] = (
        sum(raw[1 + i : raw.shape[0] - 1 + i, 1 + j : raw.shape[1] - 1 + j] for i in (-1, 0, 1) for j in (-1, 0, 1)) / 9
    )
    r, c = np.unravel_index(np.argmin(np.where(inside, smooth, np.inf)), smooth.shape)
    assert raw[r, c] < 225
    x, y = pyproj.Transformer.from_crs("EPSG:4326", OPERA_CRS, always_xy=True).transform(lon_all[r, c], lat_all[r, c])
    row, col = int((y - uk.y0) / uk.dy), int((x - uk.x0) / uk.dx)
    assert abs(out.data[row, col] - raw[r, c]) < 6
    assert out.data[row, col] < np.percentile(values, 5)
