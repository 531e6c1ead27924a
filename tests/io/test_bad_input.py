"""Bad input, built in tmp_path: every case raises QpeflowError naming the file and the problem."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

from qpeflow.errors import QpeflowError
from qpeflow.io import read
from qpeflow.io.grid import OPERA_CRS, Grid
from qpeflow.io.sample_data import fetch
from qpeflow.io.satellite_common import check_brightness_temperature
from tests.writers.odim import write_odim
from tests.writers.satip import write_satip

GRID = Grid(OPERA_CRS, 0.0, 2000.0, 0.0, -2000.0, (10, 12))
TIME = np.datetime64("2021-01-01T00:00", "s")


def good_odim(path, **kwargs):
    write_odim(path, np.ones(GRID.shape, np.float32), GRID, TIME, **kwargs)
    return path


def assert_error(path, match: str, **kwargs) -> None:
    with pytest.raises(QpeflowError, match=match) as info:
        read(path, **kwargs)
    assert str(path) in str(info.value)


def test_truncated_hdf5(tmp_path):
    path = good_odim(tmp_path / "full.h5")
    data = path.read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[: len(data) // 2])
    assert_error(cut, "truncated or corrupt")


def test_odim_without_quantity(tmp_path):
    assert_error(good_odim(tmp_path / "noq.h5", with_quantity=False), "no what/quantity")


def test_odim_without_rain_quantity(tmp_path):
    assert_error(good_odim(tmp_path / "qind.h5", quantity="QIND"), "no RATE/ACRR")


def test_corrupt_zip(tmp_path):
    path = tmp_path / "202312201200.zarr.zip"
    path.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    assert_error(path, "corrupt or truncated zip")


def test_unknown_format(tmp_path):
    path = tmp_path / "notes.dat"
    path.write_text("just some text, not a radar file\n")
    assert_error(path, "unknown file format")
    assert_error(tmp_path / "absent.h5", "file not found")


def test_hdf5_of_unknown_layout(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as fh:
        fh.create_dataset("foo", data=np.zeros(3))
    assert_error(path, "unknown file format")


def test_truncated_netcdf(tmp_path, real_data):
    src = real_data("radar/bom/prcp-c10/66/2020/10/31/66_20201031_120000.prcp-c10.nc")
    data = src.read_bytes()
    cut = tmp_path / "66_20201031_120000.prcp-c10.nc"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(QpeflowError) as info:
        read(cut)
    assert str(cut) in str(info.value)


def test_corrupt_gzip_pgm(tmp_path, real_data):
    src = real_data("radar/fmi/pgm/20160928/201609281625_fmi.radar.composite.lowest_FIN_SUOMI1.pgm.gz")
    cut = tmp_path / src.name
    cut.write_bytes(src.read_bytes()[:5000])
    with pytest.raises(QpeflowError) as info:
        read(cut)
    assert str(cut) in str(info.value)


def test_seviri_lacking_a_channel(tmp_path):
    path = tmp_path / "202312201200.zarr.zip"
    write_satip(path, np.full((4, 5, 1), 700, np.int16), ["IR_108"], TIME)
    assert_error(path, "channel 'WV_062' not in file", channels=["IR_108", "WV_062"])


def test_hrit_lacking_a_channel(tmp_path, real_data):
    folder = real_data("seviri/hrit-msg2-20101011")
    for f in folder.iterdir():
        if "000005" not in f.name:  # keep PRO, EPI and one IR_108 segment
            shutil.copy(f, tmp_path / f.name)
    assert_error(tmp_path, "channel 'IR_120' not in file", channels=("IR_120",))


def test_brightness_temperature_in_celsius(tmp_path):
    cube = np.random.default_rng(0).uniform(-60, 20, size=(1, 11, 5, 6)).astype(np.float32)
    path = tmp_path / "boxi_0015.test.reflbt0.ns.h5"
    with h5py.File(path, "w") as fh:
        fh.create_dataset("REFL-BT", data=cube)
    assert_error(path, "wrong units for IR_108: median .* deg C", channels=["IR_108"])
    with pytest.raises(QpeflowError, match="outside 150-350 K"):
        check_brightness_temperature(np.full((3, 3), 400.0), "IR_108", "f.nc")
    check_brightness_temperature(np.full((3, 3), 250.0), "IR_108", "f.nc")  # sane: no error


def test_fetch_without_network_names_file(tmp_path, monkeypatch):
    monkeypatch.setenv("QPEFLOW_DATA", str(tmp_path))
    name = "radar/OPERA/20180824/T_PAAH21_C_EUOC_20180824180000.hdf"
    with pytest.raises(QpeflowError, match="could not be downloaded") as info:
        fetch([name], base_url="http://127.0.0.1:9/")  # closed local port: fails at once, no network
    assert str(tmp_path / name) in str(info.value) and "QPEFLOW_DATA" in str(info.value)
    with pytest.raises(QpeflowError, match="not a known sample file"):
        fetch(["radar/nowhere.h5"])
