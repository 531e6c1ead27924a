"""Radar rain sequences: time resampling, gaps, regridding; real files through the real_data fixture."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest

from qpeflow.config import PrepareConfig
from qpeflow.data import radar_sequences as rs
from qpeflow.io.field import RAIN_RATE, Field
from qpeflow.io.regrid import equal_area_grid

SRC = equal_area_grid(8.0, 47.0, 1.0, (40, 40))


def _field(minute: int, value: float) -> Field:
    t = np.datetime64("2020-06-01T12:00", "s") + np.timedelta64(minute, "m")
    return Field(np.full((40, 40), value, np.float32), RAIN_RATE, "mm/h", t, SRC, f"f{minute}")


def test_five_minute_files_average_into_fifteen_minute_frames() -> None:
    b = rs._FrameBuilder(5, 15, 4.0)
    for k, minute in enumerate(range(5, 35, 5)):  # files ending 12:05 .. 12:30
        b.add(_field(minute, float(k)))
    (t1, f1), (t2, f2) = sorted(b.frames.items())
    assert t2 - t1 == 15
    assert np.nanmean(f1) == pytest.approx(1.0) and np.nanmean(f2) == pytest.approx(4.0)  # means of 0,1,2 / 3,4,5
    assert b.grid is not None and b.grid.dx == 4000.0 and b.grid.shape == (10, 10)


def test_ten_minute_accumulations_are_bin_weighted() -> None:
    b = rs._FrameBuilder(10, 15, 4.0)
    for minute, v in ((10, 3.0), (20, 6.0), (30, 9.0)):  # (12:00,12:10], (12:10,12:20], (12:20,12:30]
        b.add(_field(minute, v))
    frames = dict(sorted(b.frames.items()))
    values = [float(np.nanmean(v)) for v in frames.values()]
    assert values == pytest.approx([(3 + 3 + 6) / 3, (6 + 9 + 9) / 3])


def test_gaps_split_sequences_never_interpolated() -> None:
    frames = {t: np.zeros((2, 2)) for t in (0, 15, 30, 60, 75, 90, 105)}
    assert rs._split_contiguous(frames, 15) == [[0, 15, 30], [60, 75, 90, 105]]


def test_missing_file_breaks_the_sequence(real_data, tmp_path) -> None:
    folder = real_data("radar/mch/20150515")
    files = sorted(folder.glob("AQC*.gif"))[:15]
    cfg = dataclasses.replace(PrepareConfig(), time_steps=2)
    whole = rs.load_event("mch-test", "mch", files, cfg)
    assert len(whole) == 1
    seq = whole[0]
    dt = np.diff(seq.times.astype(np.int64))
    assert (dt == 900).all() and seq.rain.shape[0] >= 4
    assert seq.grid.dx == 4000.0 and seq.rain.shape[1:] == seq.grid.shape
    assert np.nanmax(seq.rain) > 0.1 and np.nanmin(seq.rain) >= 0
    gap = files[:6] + files[7:]
    parts = rs.load_event("mch-test", "mch", gap, dataclasses.replace(cfg, time_steps=1))
    assert len(parts) == 2  # one missing 5-min file removes one 15-min frame: two runs
    assert sum(p.rain.shape[0] for p in parts) == seq.rain.shape[0] - 1
    for p in parts:
        assert (np.diff(p.times.astype(np.int64)) == 900).all()


def test_empty_files_are_skipped_with_a_count(monkeypatch, caplog, tmp_path) -> None:
    calls = iter([_field(5, 1.0), None, _field(15, 2.0)])
    monkeypatch.setattr(rs, "_rain_field", lambda path: next(calls))
    with caplog.at_level(logging.INFO):
        out = rs.load_event(
            "x",
            "knmi",
            [tmp_path / "a", tmp_path / "b", tmp_path / "c"],
            dataclasses.replace(PrepareConfig(), time_steps=1),
        )
    assert out == [] and "skipped 1 empty" in caplog.text


def test_two_km_grid_works(real_data) -> None:
    folder = real_data("radar/mch/20150515")
    cfg = dataclasses.replace(PrepareConfig(), resolution_km=2.0, time_steps=1)
    seqs = rs.load_event("mch-2km", "mch", sorted(folder.glob("AQC*.gif"))[1:4], cfg)
    assert seqs and seqs[0].grid.dx == 2000.0 and seqs[0].rain.shape[1:] == (320, 355)


def test_family_listing_groups_by_day(real_data) -> None:
    real_data("radar/fmi")
    events = rs.family_events("fmi")
    assert set(events) == {"fmi-20160928", "fmi-20170509"} and all(len(v) == 40 for v in events.values())


def test_opera_event_gets_several_ir_draws_all_in_test(monkeypatch) -> None:
    seq = rs.RainSequence(
        "opera-20180824",
        "opera",
        SRC,
        np.zeros((4, 40, 40), np.float32),
        np.arange(4).astype("datetime64[s]"),
        split="test",
    )
    monkeypatch.setattr(rs, "_sequences", lambda families, cfg: [seq])
    out = rs.opera_sequences(dataclasses.replace(PrepareConfig(), opera_ir_draws=3), np.random.default_rng(0))
    assert [s.event for s in out] == [f"opera-20180824-ir{k}" for k in range(3)]
    assert all(s.split == "test" and s.rain is seq.rain for s in out)
