"""Slot grouping and the checks of a SEVIRI sequence against a checkpoint, on synthetic Fields (no files)."""

from __future__ import annotations

import numpy as np
import pytest

from qpeflow.errors import QpeflowError
from qpeflow.io.field import Field
from qpeflow.io.grid import Grid
from qpeflow.io.sat_sequence import (
    check_platform,
    checked_sequence,
    distinct_files,
    group_slots,
    platform_of,
    select_slots,
)

GRID = Grid("+proj=geos +lon_0=9.5 +h=35785831 +a=6378169 +rf=295.488065897014", 0.0, 3000.0, 5e6, -3000.0, (4, 5))
TIME_IN = [-45, -30, -15, 0]


def _field(
    minute: int, name: str = "IR_108", value: float = 260.0, platform: str = "Meteosat-11", seconds: int = 0
) -> Field:
    t = np.datetime64("2023-12-20T11:00:00") + np.timedelta64(minute * 60 + seconds, "s")
    return Field(
        np.full(GRID.shape, value, np.float32),
        "brightness_temperature",
        "K",
        t,
        GRID,
        f"f{minute:02d}_{name}.zip",
        name,
        {"platform": platform},
    )


def _frames(minutes: list[int], channels: tuple[str, ...] = ("IR_108", "WV_062")):
    return group_slots([_field(m, c, seconds=7 * k) for m in minutes for k, c in enumerate(channels)])


def test_rapid_scan_is_subsampled_to_model_cadence() -> None:
    frames = _frames(list(range(0, 60, 5)))  # 12 frames at 5 min, 11:00-11:55
    assert len(frames) == 12 and set(frames[0].fields) == {"IR_108", "WV_062"}
    chosen = select_slots(frames, TIME_IN, 15)
    assert [str(f.valid_time)[11:16] for f in chosen] == ["11:10", "11:25", "11:40", "11:55"]
    earlier = select_slots(frames, TIME_IN, 15, t0=np.datetime64("2023-12-20T11:50"))  # a chosen valid time
    assert [str(f.valid_time)[11:16] for f in earlier] == ["11:05", "11:20", "11:35", "11:50"]


def test_missing_slot_names_last_file_and_slot() -> None:
    frames = _frames([0, 15, 45])
    with pytest.raises(QpeflowError, match=r"f45_IR_108.zip: missing slot 2023-12-20 11:30 UTC \(t0-15 min\)"):
        select_slots(frames, TIME_IN, 15)


def test_wrong_cadence() -> None:
    with pytest.raises(QpeflowError, match="10 min apart, which cannot give the checkpoint's 15-min"):
        select_slots(_frames([0, 10, 20, 30, 40, 50]), TIME_IN, 15)
    # 5-min data give any multiple of 5 min: a gap is then a missing slot, not a cadence problem
    with pytest.raises(QpeflowError, match="missing slot"):
        select_slots(_frames([0, 5, 10, 20, 25, 45]), TIME_IN, 15)


def test_missing_channel_and_bt_range() -> None:
    frames = _frames([0, 15, 30, 45])
    with pytest.raises(QpeflowError, match="f00_IR_108.zip: lacks channel.s. IR_120"):
        checked_sequence(frames, ["IR_108", "IR_120"], TIME_IN, 15)
    hot = group_slots([_field(m, value=360.0 if m == 30 else 260.0) for m in (0, 15, 30, 45)])
    with pytest.raises(QpeflowError, match="f30_IR_108.zip: IR_108 brightness temperature spans 360.0"):
        checked_sequence(hot, ["IR_108"], TIME_IN, 15)
    assert len(checked_sequence(frames, ["IR_108", "WV_062"], TIME_IN, 15)) == 4


def test_mixed_platforms_and_aliases() -> None:
    assert platform_of(_field(0, platform="MSG4")) == "Meteosat-11"
    check_platform([_field(0), _field(15, platform="MSG4"), _field(30, platform="")])
    with pytest.raises(QpeflowError, match="f15_IR_108.zip: satellite Meteosat-10 mixed with Meteosat-11"):
        check_platform([_field(0), _field(15, platform="Meteosat-10")])


def test_radar_file_given_as_satellite_file(tmp_path) -> None:
    from qpeflow.io.sat_sequence import read_frames
    from tests.writers.odim import write_odim

    path = tmp_path / "radar.h5"
    write_odim(
        path,
        np.zeros((4, 5), np.float32),
        Grid("+proj=laea +lat_0=52 +lon_0=5", 0, 1e3, 0, -1e3, (4, 5)),
        np.datetime64("2023-01-01T00:00"),
    )
    with pytest.raises(QpeflowError, match="radar.h5: not a SEVIRI file .it reads as 'odim'"):
        read_frames([path], ["IR_108"])


def test_hrit_segments_of_one_slot_are_read_once(tmp_path) -> None:
    names = [
        "H-000-MSG2__-MSG2________-IR_108___-000004___-201010111400-__",
        "H-000-MSG2__-MSG2________-IR_108___-000005___-201010111400-__",
        "H-000-MSG2__-MSG2________-_________-PRO______-201010111400-__",
        "H-000-MSG2__-MSG2________-IR_108___-000004___-201010111415-__",
    ]
    for n in names:
        (tmp_path / n).write_bytes(b"")
    files = distinct_files([tmp_path])
    assert [f.name.split("-")[6] for f in files] == ["201010111400", "201010111415"]
