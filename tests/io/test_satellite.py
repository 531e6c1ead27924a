"""SEVIRI readers: Satip zarr (synthetic and real), satpy HRIT segments (real), Weather4cast REFL-BT."""

from __future__ import annotations

import h5py
import numpy as np
import pyproj
import pytest
import xarray as xr
import zarr

from qpeflow.io import detect_format, read
from qpeflow.io.satellite_satip import SATIP_BOUNDS, decode_counts, read_satip
from qpeflow.io.satellite_w4c import W4C_CHANNELS, read_w4c_hrit
from tests.writers.satip import write_satip

SATIP_FILE = "seviri/satip-uk-20231220/202312201200.zarr.zip"
HRIT_DIR = "seviri/hrit-msg2-20101011"


def test_decode_counts_bounds():
    lo, hi = SATIP_BOUNDS["IR_108"]
    out = decode_counts(np.array([0, 1023, 2000, -1]), "IR_108")
    assert out[:3] == pytest.approx([lo, hi, hi]) and np.isnan(out[3])


def test_synthetic_satip_is_flipped_north_up_west_left(tmp_path):
    ny, nx = 6, 8
    counts = np.full((ny, nx, 2), 800, dtype=np.int16)
    counts[0, 0, 0] = 0  # stored first = south-east corner, coldest IR_108 pixel
    path = tmp_path / "202312201200.zarr.zip"
    write_satip(path, counts, ["IR_108", "WV_062"], np.datetime64("2023-12-20T12:00"))
    assert detect_format(path) == "satip_zarr"
    ir, wv = read(path)
    assert (ir.name, wv.name, ir.units) == ("IR_108", "WV_062", "K")
    assert ir.valid_time == np.datetime64("2023-12-20T12:00")
    assert np.unravel_index(np.argmin(ir.data), ir.data.shape) == (ny - 1, nx - 1)  # south-east = bottom-right
    lon, lat = ir.grid.lonlat()
    assert lon[0, 0] < lon[0, -1] and lat[0, 0] > lat[-1, 0]


def test_real_satip_frame(real_data):
    path = real_data(SATIP_FILE)
    fields = read_satip(path, ["IR_108", "WV_062"])
    ir = fields[0]
    assert ir.grid.shape == (229, 574) and ir.grid.crs_name == "geos"
    assert ir.grid.resolution == pytest.approx((3000.4, 3000.4), abs=0.1)
    assert ir.valid_time == np.datetime64("2023-12-20T12:00")
    p1, p50, p99 = np.percentile(ir.data, [1, 50, 99])
    assert 205 < p1 < 222 and 250 < p50 < 268 and 274 < p99 < 290  # README: about 213 / 259 / 281 K
    assert 0.03 < (ir.data < 233).mean() < 0.2
    assert 220 < np.median(fields[1].data) < 232  # WV_062
    # orientation: our lon/lat of every pixel agrees with the file's own OSGB coordinates
    ds = xr.open_zarr(zarr.storage.ZipStore(str(path), mode="r"))
    x_osgb, y_osgb = ds["x_osgb"].values[::-1, ::-1], ds["y_osgb"].values[::-1, ::-1]
    lon_ref, lat_ref = pyproj.Transformer.from_crs("EPSG:27700", "EPSG:4326", always_xy=True).transform(x_osgb, y_osgb)
    lon, lat = ir.grid.lonlat()
    assert np.nanmax(np.abs(lon - lon_ref)) < 0.02 and np.nanmax(np.abs(lat - lat_ref)) < 0.02


def test_real_hrit_segments(real_data):
    folder = real_data(HRIT_DIR)
    assert detect_format(folder) == "seviri_hrit"
    (ir,) = read(folder, channels=("IR_108",))
    assert ir.units == "K" and ir.grid.crs_name == "geos"
    assert ir.valid_time == np.datetime64("2010-10-11T14:15")  # end of the 14:00 repeat cycle
    assert ir.grid.shape[0] == 2 * 464 and ir.grid.shape[1] > 3000  # two segments of 464 lines
    values = ir.data[np.isfinite(ir.data)]
    assert 175 < values.min() < 215 and 295 < values.max() < 330 and 270 < np.median(values) < 300
    lon, lat = ir.grid.lonlat()
    assert np.nanmax(lat) == pytest.approx(14.8, abs=0.5) and np.nanmin(lat) == pytest.approx(-14.8, abs=0.5)
    row = ir.grid.shape[0] // 2
    finite = np.isfinite(lon[row])
    assert np.all(np.diff(lon[row][finite]) > 0)  # west -> east along a row
    assert np.nanmean(lat[0]) > np.nanmean(lat[-1])  # north first
    # read_seviri(area=...) regrids onto a small LAEA grid over the Gulf of Guinea
    from qpeflow.io import read_seviri
    from qpeflow.io.regrid import equal_area_grid

    (onto,) = read_seviri(folder, ["IR_108"], area=equal_area_grid(5.0, 0.0, 10.0, (40, 50)))
    assert onto.grid.shape == (40, 50) and onto.coverage == 1.0
    assert np.nanmin(onto.data) > 180 and np.nanmax(onto.data) < 320


def test_w4c_reflbt(tmp_path):
    rng = np.random.default_rng(5)
    cube = rng.uniform(200, 290, size=(2, 11, 6, 7)).astype(np.float32)
    for ch in ("IR_016", "VIS006", "VIS008"):
        cube[:, W4C_CHANNELS.index(ch)] = rng.uniform(0, 1, size=(2, 6, 7))
    path = tmp_path / "boxi_0015.test.reflbt0.ns.h5"
    with h5py.File(path, "w") as fh:
        fh.create_dataset("REFL-BT", data=cube)
    assert detect_format(path) == "w4c_hrit"
    fields = read_w4c_hrit(path, channels=["IR_108", "WV_062"], start_time=np.datetime64("2019-06-01T00:00"))
    assert [f.name for f in fields] == ["IR_108", "WV_062", "IR_108", "WV_062"]
    np.testing.assert_array_equal(fields[2].data, cube[1, 4])  # IR_108 is index 4
    np.testing.assert_array_equal(fields[1].data, cube[0, 9])  # WV_062 is index 9
    assert fields[3].valid_time == np.datetime64("2019-06-01T00:15")
    assert len(read(path)) == 22
