"""MTG FCI level 1c through satpy ``fci_l1c_nc``, on chunk files written in the real layout (issue 13)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from qpeflow.errors import QpeflowError
from qpeflow.io import detect_format, read
from qpeflow.io.field import Field
from qpeflow.io.sat_sequence import check_platform, distinct_files, group_slots, platform_of, read_frames, select_slots
from qpeflow.io.satellite_fci import FCI_TO_SEVIRI, SEVIRI_TO_FCI, slot_key
from qpeflow.io.satellite_satpy import satpy_reader_for
from tests.writers.fci import fci_name, write_fci
from tests.writers.meteofrance import mf_grid
from tests.writers.sevmos import default_bt, write_sevmos

pytest.importorskip("satpy")
START = dt.datetime(2025, 6, 1, 12, 0)
SEVIRI_NC = "W_XX-EUMETSAT-Darmstadt,VIS+IR+HRV+IMAGERY,MSG4+SEVIRI_C_EUMG_20231220120010.nc"


def _bt(seed: int, shape: tuple[int, int] = (12, 16)) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {ch: (215.0 + 10 * k + 40.0 * rng.random(shape)).astype(np.float32) for k, ch in enumerate(FCI_TO_SEVIRI)}


def test_names_route_to_fci_not_to_the_seviri_netcdf_reader():
    name = fci_name(START, 73, 33)
    assert name.startswith("W_XX-EUMETSAT") and name.endswith(".nc")
    assert satpy_reader_for(name) == "fci_l1c_nc"
    assert satpy_reader_for(SEVIRI_NC) == "seviri_l1b_nc"
    assert slot_key(name) == slot_key(fci_name(START, 73, 34)) == "20250601/0073"
    assert slot_key(fci_name(START + dt.timedelta(minutes=10), 74, 33)) != slot_key(name)
    assert SEVIRI_TO_FCI["IR_108"] == "ir_105" and SEVIRI_TO_FCI["WV_062"] == "wv_63"
    assert SEVIRI_TO_FCI["IR_134"] == "ir_133" and SEVIRI_TO_FCI["IR_120"] == "ir_123"


def test_two_chunks_read_as_seviri_channels_north_up(tmp_path):
    south, north = _bt(0), _bt(1)
    first = write_fci(tmp_path, START, south, row0=4950, chunk=33)
    write_fci(tmp_path, START, north, row0=4962, chunk=34)
    assert detect_format(first) == "fci_nc"
    fields = read(first, channels=("IR_108", "WV_062", "IR_134"))
    assert [f.name for f in fields] == ["IR_108", "WV_062", "IR_134"]
    ir = fields[0]
    assert ir.units == "K" and ir.data.shape == (24, 16)  # both chunks of the repeat cycle, unpadded
    expected = np.concatenate([north["ir_105"], south["ir_105"]])  # row 0 north
    np.testing.assert_allclose(ir.data, expected, atol=0.1)
    np.testing.assert_allclose(fields[2].data[12:], south["ir_133"], atol=0.1)
    assert ir.attrs["fci_channel"] == "ir_105" and ir.attrs["sensor"] == "fci"
    assert platform_of(ir) == "Meteosat-12"  # MTG-I1: what provenance records
    assert ir.valid_time == np.datetime64("2025-06-01T12:10:00")  # nominal end of the 10-min cycle
    assert ir.grid.dy < 0 < ir.grid.dx and abs(ir.grid.dx - 2000.0) < 1.0
    assert len(distinct_files([tmp_path])) == 1  # one chunk reads the whole cycle


def test_missing_channel_names_the_file(tmp_path):
    path = write_fci(tmp_path, START, _bt(0), omit=("ir_133",))
    with pytest.raises(QpeflowError) as err:
        read(path, channels=("IR_108", "IR_134"))
    msg = str(err.value)
    assert msg.startswith(str(path)) and "lacks channel ir_133 (asked for as IR_134)" in msg and "\n" not in msg
    with pytest.raises(QpeflowError, match="IR_016' has no FCI counterpart"):
        read(path, channels=("IR_016",))


def _fci_field(minute: int) -> Field:
    grid = mf_grid(4, 4)
    t = np.datetime64("2025-06-01T11:00:00") + np.timedelta64(minute, "m")
    attrs = {"platform": "Meteosat-12", "sensor": "fci"}
    return Field(
        np.full((4, 4), 260.0, np.float32), "brightness_temperature", "K", t, grid, f"fci{minute}.nc", "IR_108", attrs
    )


def test_ten_minute_cycles_against_a_fifteen_minute_checkpoint():
    frames = group_slots([_fci_field(m) for m in range(0, 60, 10)])  # 11:00 .. 11:50
    chosen = select_slots(frames, [-30, 0], 15)  # multiples of 30 min fall on FCI cycles
    assert [str(f.valid_time)[11:16] for f in chosen] == ["11:20", "11:50"]
    with pytest.raises(QpeflowError) as err:
        select_slots(frames, [-45, -30, -15, 0], 15, tolerance_minutes=2.0)
    msg = str(err.value)
    assert msg.startswith("fci") and "10 min apart (MTG FCI repeat cycles)" in msg
    assert "t0-45 min (11:05) is 5 min from the nearest file" in msg and "2-min tolerance" in msg
    loose = select_slots(frames, [-45, -30, -15, 0], 15, tolerance_minutes=5.0)
    assert len(loose) == 4 and all(
        abs(int((f.valid_time - ft) / np.timedelta64(1, "m"))) <= 5
        for f, ft in zip(
            loose, np.datetime64("2025-06-01T11:50") + np.array([-45, -30, -15, 0]).astype("timedelta64[m]")
        )
    )


def test_fci_file_mixed_with_seviri_files_is_named(tmp_path):
    sev = tmp_path / "sev"
    sev.mkdir()
    rain = np.zeros((16, 16), np.float32)  # the team's script writes quality untransposed: square
    when = np.datetime64("2025-06-01T11:55:00")
    sevmos = write_sevmos(sev, when, default_bt(rain), rain, np.full((16, 16), 90), mf_grid(16, 16))
    fci = write_fci(tmp_path, START, _bt(0))
    with pytest.raises(QpeflowError) as err:
        read_frames([sevmos, fci], ("IR_108",))
    msg = str(err.value)
    assert msg.startswith(str(fci)) and f"an MTG FCI file ({Path(fci).name}) mixed with SEVIRI files" in msg
    assert "\n" not in msg
    fields = [*read(sevmos, channels=("IR_108",)), *read(fci, channels=("IR_108",))]
    with pytest.raises(QpeflowError, match="mixed with SEVIRI"):
        check_platform(fields[::-1])
