"""ODIM attribute inheritance (root / dataset / data level), QIND quality, and one-line errors (issue 15 case 8)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from qpeflow.errors import QpeflowError
from qpeflow.io import read
from qpeflow.io.quality import apply_quality
from qpeflow.io.radar_odim import read_odim
from tests.io.test_odim import TIME, rain_with_holes, small_grid
from tests.writers.odim import write_odim


@pytest.mark.parametrize("where_at", ["root", "dataset", "data"])
@pytest.mark.parametrize("scaling_at", ["root", "dataset", "data"])
def test_attributes_at_every_level_read_the_same(tmp_path, where_at, scaling_at):
    rain = rain_with_holes(np.random.default_rng(2))
    path = tmp_path / f"{where_at}_{scaling_at}.h5"
    write_odim(path, rain, small_grid(), TIME, where_at=where_at, scaling_at=scaling_at)
    with h5py.File(path) as fh:  # the layout really is the one asked for
        assert ("where" in fh) == (where_at == "root")
        assert ("where" in fh["dataset1/data1"]) == (where_at == "data")
        assert ("quantity" in fh["dataset1/data1/what"].attrs if "what" in fh["dataset1/data1"] else False) == (
            scaling_at == "data"
        )
    (field,) = read(path)
    assert field.name == "RATE" and field.valid_time == TIME and field.grid.shape == (30, 40)
    assert field.grid.x0 == pytest.approx(small_grid().x0, abs=0.01)
    np.testing.assert_array_equal(np.isnan(field.data), np.isnan(rain))
    np.testing.assert_allclose(field.data[~np.isnan(rain)], rain[~np.isnan(rain)], atol=0.006)


def test_deeper_level_overrides_shallower(tmp_path):
    path = tmp_path / "override.h5"
    write_odim(path, np.full((30, 40), 1.0, np.float32), small_grid(), TIME, scaling_at="dataset")
    with h5py.File(path, "r+") as fh:
        dwhat = fh.require_group("dataset1/data1/what")
        dwhat.attrs["gain"] = 0.02  # data level wins over dataset level: codes 100 -> 2 mm/h
        fh["what"].attrs["gain"] = 5.0  # root level loses to both
    (field,) = read_odim(path)
    np.testing.assert_allclose(field.data, 2.0, atol=1e-5)


def test_missing_gain_offset_mean_one_and_zero(tmp_path):
    rain = rain_with_holes(np.random.default_rng(3))
    path = tmp_path / "nogain.h5"
    write_odim(path, rain, small_grid(), TIME, with_gain=False)
    with h5py.File(path) as fh:
        assert "gain" not in fh["dataset1/what"].attrs and "offset" not in fh["dataset1/what"].attrs
    (field,) = read_odim(path)
    ok = ~np.isnan(rain)
    np.testing.assert_allclose(field.data[ok], rain[ok], atol=0.006)
    assert np.isnan(field.data[~ok]).all()


def test_qind_is_a_quality_mask(tmp_path):
    rain = np.full((30, 40), 3.0, np.float32)
    qind = np.tile(np.linspace(0, 1, 40), (30, 1))
    path = tmp_path / "qind.h5"
    write_odim(path, rain, small_grid(), TIME, qind=qind)
    (field,) = read_odim(path)
    np.testing.assert_allclose(field.attrs["quality"], qind * 100, atol=0.5)
    masked = apply_quality(field, 50.0)
    np.testing.assert_array_equal(np.isnan(masked.data), field.attrs["quality"] < 50)
    assert 0 < np.isnan(masked.data).mean() < 1


def _broken(tmp_path, edit) -> str:
    path = tmp_path / "broken.h5"
    write_odim(path, np.ones((30, 40), np.float32), small_grid(), TIME, where_at="dataset")
    with h5py.File(path, "r+") as fh:
        edit(fh)
    return str(path)


def _delete_xsize(fh):
    del fh["dataset1/where"].attrs["xsize"]


def _xsize_zero(fh):
    fh["dataset1/where"].attrs["xsize"] = np.uint64(0)


def _bad_date(fh):
    fh["what"].attrs["date"] = np.bytes_("2021-13-45")
    fh["dataset1/what"].attrs["enddate"] = np.bytes_("2021X714")


def _no_data(fh):
    del fh["dataset1/data1/data"]


def _text_data(fh):
    del fh["dataset1/data1/data"]
    fh["dataset1/data1"].create_dataset("data", data=np.array([[b"ab"] * 40] * 30))


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (_delete_xsize, ["lacks xsize", "dataset1/where"]),
        (_xsize_zero, ["xsize=0"]),
        (_bad_date, ["enddate/endtime", "'2021X714'"]),
        (_no_data, ["dataset1/data1 has no 'data' dataset"]),
        (_text_data, ["dataset1/data1/data holds", "expected numbers"]),
    ],
)
def test_defects_give_one_line_naming_file_and_key(tmp_path, edit, words):
    path = _broken(tmp_path, edit)
    with pytest.raises(QpeflowError) as err:
        read(path)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(path)
    assert "Unable to" not in msg and "synchronously" not in msg  # never h5py's text
    for w in words:
        assert w in msg
