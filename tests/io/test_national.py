"""National radar readers (KNMI, MeteoSwiss, FMI, BoM) on the real sample files, and Weather4cast OPERA crops."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from qpeflow.io import detect_format, read
from qpeflow.io.grid import OPERA_CRS, Grid
from qpeflow.io.radar_odim import read_w4c_rates

# (relative path, format, shape, valid time, crs, plausible (lon, lat) of the centre pixel)
FAMILIES = [
    (
        "radar/KNMI/2010/08/RAD_NL25_RAP_5min_201008260600.h5",
        "knmi",
        (765, 700),
        "2010-08-26T06:00:00",
        "stere",
        (5.3, 52.3),
    ),
    (
        "radar/mch/20160711/AQC161932225V_00005.801.gif",
        "mch_gif",
        (640, 710),
        "2016-07-11T22:25:00",
        "somerc",
        (7.5, 46.5),
    ),
    (
        "radar/fmi/pgm/20160928/201609281625_fmi.radar.composite.lowest_FIN_SUOMI1.pgm.gz",
        "fmi_pgm",
        (1226, 760),
        "2016-09-28T16:25:00",
        "stere",
        (25.0, 63.5),
    ),
    (
        "radar/bom/prcp-c10/66/2020/10/31/66_20201031_120000.prcp-c10.nc",
        "bom_nc",
        (512, 512),
        "2020-10-31T12:00:00",
        "aea",
        (153.24, -27.72),
    ),
]


@pytest.mark.parametrize("relative, fmt, shape, time, crs, centre", FAMILIES, ids=[f[1] for f in FAMILIES])
def test_real_national_file(real_data, relative, fmt, shape, time, crs, centre):
    path = real_data(relative)
    assert detect_format(path) == fmt
    (field,) = read(path)
    assert field.quantity == "rain_rate" and field.units == "mm/h"
    assert field.grid.shape == shape and field.data.dtype == np.float32
    assert field.valid_time == np.datetime64(time)
    assert field.grid.crs_name == crs
    values = field.data[np.isfinite(field.data)]
    assert 0.2 < field.coverage <= 1.0
    assert values.min() == 0.0 and 1.0 < values.max() < 300.0  # rain somewhere, no absurd rates
    assert 0.001 < (values > 0.1).mean() < 0.9
    lon, lat = field.grid.lonlat()
    cy, cx = shape[0] // 2, shape[1] // 2
    assert (lon[cy, cx], lat[cy, cx]) == pytest.approx(centre, abs=1.5)
    assert lat[0, cx] > lat[-1, cx]  # row 0 is north (both hemispheres)
    assert lon[cy, 0] < lon[cy, -1]  # column 0 is west


def test_knmi_corners_match_file(real_data):
    path = real_data(FAMILIES[0][0])
    (field,) = read(path)
    with h5py.File(path) as fh:  # LL, UL, UR, LR (lon, lat) of the outer corners
        corners = fh["geographic"].attrs["geo_product_corners"].reshape(4, 2)
    lon, lat = field.grid.lonlat()
    assert (lon[-1, 0], lat[-1, 0]) == pytest.approx(tuple(corners[0]), abs=0.02)
    assert (lon[0, -1], lat[0, -1]) == pytest.approx(tuple(corners[2]), abs=0.02)


def test_knmi_sequence_times(real_data):
    folder = real_data("radar/KNMI/2010/08")
    files = sorted(folder.glob("RAD_NL25_RAP_5min_20100826000*.h5"))[:2]
    times = [read(f)[0].valid_time for f in files]
    assert times[1] - times[0] == np.timedelta64(5, "m")


def test_w4c_rates_crop(tmp_path):
    rng = np.random.default_rng(3)
    rates = rng.gamma(0.5, 2.0, size=(3, 1, 12, 10)).astype(np.float32)
    rates[1, 0, :2, :2] = -1.0  # missing
    path = tmp_path / "boxi_0015.test.rates.crop.h5"
    with h5py.File(path, "w") as fh:
        fh.create_dataset("rates.crop", data=rates)
    assert detect_format(path) == "w4c_rates"
    grid = Grid(OPERA_CRS, 0.0, 2000.0, 0.0, -2000.0, (12, 10))
    fields = read_w4c_rates(path, grid=grid, start_time=np.datetime64("2019-06-01T00:00"))
    assert len(fields) == 3 and fields[2].valid_time == np.datetime64("2019-06-01T00:30")
    assert np.isnan(fields[1].data[:2, :2]).all() and fields[1].coverage == pytest.approx(1 - 4 / 120)
    np.testing.assert_array_equal(fields[0].data, rates[0, 0])
    bare = read(path)
    assert bare[0].attrs["georeferenced"] is False and np.isnat(bare[0].valid_time)
