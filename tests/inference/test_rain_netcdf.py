"""CF-1.8 rain maps: dims, grid mapping (LAEA and geostationary), probabilities, atomic write."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from qpeflow.inference.rain_netcdf import RainMaps, probability_of_exceedance, write_rain_netcdf
from qpeflow.io.grid import OPERA_CRS, Grid

T0 = np.datetime64("2023-12-20T12:30:00")


def test_probability_of_exceedance() -> None:
    rain = np.array([[[0.0, 2.0, np.nan]], [[0.5, 6.0, 1.0]]], np.float32)  # (M=2, 1, 3)
    prob = probability_of_exceedance(rain)
    np.testing.assert_allclose(prob[:, 0, :2], [[0.5, 1.0], [0.0, 1.0], [0.0, 0.5]])
    assert np.isnan(prob[:, 0, 2]).all()


def test_write_laea(tmp_path) -> None:
    grid = Grid(OPERA_CRS, 0.0, 4000.0, -1e6, -4000.0, (6, 8))
    rain = np.random.default_rng(0).gamma(0.5, 2.0, (3, 6, 8)).astype(np.float32)
    attrs = {"nfe": 4, "seeds": [0, 1, 2], "training_data": {"infrared": "simulated"}, "flag": True}
    path = write_rain_netcdf(RainMaps(rain, grid, T0, np.full((6, 8), 250.0, np.float32), attrs), tmp_path / "r.nc")
    ds = xr.open_dataset(path, decode_coords="all")
    assert ds.attrs["Conventions"] == "CF-1.8" and ds.attrs["nfe"] == 4 and ds.attrs["flag"] == 1
    assert list(ds.attrs["seeds"]) == [0, 1, 2] and json.loads(ds.attrs["training_data"])["infrared"] == "simulated"
    assert ds["rain_rate"].dims == ("member", "y", "x") and ds["probability_of_exceedance"].dims[0] == "threshold"
    assert ds["crs"].attrs["grid_mapping_name"] == "lambert_azimuthal_equal_area"
    assert ds["x"].attrs["standard_name"] == "projection_x_coordinate" and float(ds["x"][0]) == 2000.0
    assert ds["lat"].attrs["units"] == "degrees_north" and ds["time"].values == T0
    np.testing.assert_allclose(ds["rain_rate_mean"].values, rain.mean(axis=0), rtol=1e-6)
    assert list(tmp_path.iterdir()) == [path]  # no temporary left
    ds.close()


def test_write_geostationary_uses_scan_angles(tmp_path) -> None:
    h = 35785831.0
    grid = Grid(
        f"+proj=geos +lon_0=9.5 +h={h:.0f} +a=6378169 +rf=295.488065897014", 0.0, 3000.0, 4.5e6, -3000.0, (4, 4)
    )
    ds = xr.open_dataset(write_rain_netcdf(RainMaps(np.zeros((1, 4, 4), np.float32), grid, T0), tmp_path / "g.nc"))
    assert ds["crs"].attrs["grid_mapping_name"] == "geostationary"
    assert ds["x"].attrs["units"] == "rad" and float(ds["x"][0]) == pytest.approx(1500.0 / h)
    ds.close()


def test_failed_write_leaves_nothing(tmp_path, monkeypatch) -> None:
    def boom(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError("disk full")

    monkeypatch.setattr(xr.Dataset, "to_netcdf", boom)
    grid = Grid(OPERA_CRS, 0.0, 4000.0, 0.0, -4000.0, (2, 2))
    with pytest.raises(OSError):
        write_rain_netcdf(RainMaps(np.zeros((1, 2, 2), np.float32), grid, T0), tmp_path / "r.nc")
    assert list(tmp_path.iterdir()) == []
