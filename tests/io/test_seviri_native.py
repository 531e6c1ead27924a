"""SEVIRI native (.nat) end to end through satpy ``seviri_l1b_native``, on files written in the real format."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from qpeflow.errors import QpeflowError
from qpeflow.io import detect_format, read
from qpeflow.io.sat_sequence import checked_sequence, platform_of, read_frames
from tests.writers.seviri_native import write_native

pytest.importorskip("satpy")
START = dt.datetime(2023, 12, 20, 12, 0)


def _counts(cold: int = 350) -> np.ndarray:
    c = np.full((8, 12), 600, np.uint16)
    c[:2, :3] = cold  # a cold north-west corner
    return c


def test_native_file_reads_north_up_in_kelvin(tmp_path):
    path = write_native(tmp_path, START, {"IR_108": _counts(), "WV_062": np.full((8, 12), 220, np.uint16)})
    assert detect_format(path) == "seviri_native"
    ir, wv = read(path, channels=("IR_108", "WV_062"))
    assert ir.units == "K" and ir.data.shape == (8, 12)
    cold, warm = ir.data[:2, :3], ir.data[2:, 3:]
    assert np.ptp(cold) == 0 and np.ptp(warm) == 0 and 150 < cold.max() < warm.min() < 350  # NW corner, not SE
    assert np.ptp(wv.data) == 0 and 150 < wv.data.min() < 350 and wv.name == "WV_062"
    assert ir.valid_time == np.datetime64("2023-12-20T12:15:00")  # end of the repeat cycle
    assert platform_of(ir) == "Meteosat-11"
    lon, lat = ir.grid.lonlat()
    assert 40 < lat[-1, 0] < lat[0, 0] < 45 and lon[0, 0] < lon[0, -1]  # lines 3200-3207: southern France


def test_native_sequence_and_the_bad_file_is_named(tmp_path):
    for k in range(3):
        write_native(tmp_path, START + dt.timedelta(minutes=15 * k), {"IR_108": _counts(350 + 50 * k)})
    frames = read_frames([tmp_path], ("IR_108",))
    chosen = checked_sequence(frames, ("IR_108",), [-30, -15, 0], 15)
    assert [str(f.valid_time)[11:16] for f in chosen] == ["12:15", "12:30", "12:45"]
    good = sorted(tmp_path.glob("*.nat"))[1]
    bad = good.with_name(good.name.replace("1227", "1257"))
    bad.write_bytes(good.read_bytes()[:200000])  # a truncated download
    with pytest.raises(QpeflowError) as err:
        read_frames([tmp_path], ("IR_108",))
    msg = str(err.value)
    assert msg.startswith(str(bad) + ":") and "\n" not in msg  # the file, never its folder
