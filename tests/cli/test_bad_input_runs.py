"""train / predict / estimate / evaluate / inspect with bad runs, checkpoints, options, paths and satellite files
(issue 15, cases 3, 5, 6, 7, 9, 10, 11, 13 and 14), against one tiny checkpoint trained here.

Every case: exit status 2, one line naming the file, nothing new or partial left, nothing old lost.
"""

from __future__ import annotations

import json
import os
import struct
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from qpeflow.cli import main
from qpeflow.config import load_config
from qpeflow.training.fit import fit
from tests.cli.errors import one_line_error
from tests.paths import CONFIGS
from tests.writers.predictions import make_predictions
from tests.writers.satip import write_satip
from tests.writers.store import make_tiny_store, tiny_overrides

FIVE = ["IR_108", "IR_120", "WV_062", "WV_073", "IR_087"]
STAMPS = ("2023-12-20T11:45", "2023-12-20T12:00", "2023-12-20T12:15", "2023-12-20T12:30")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny store, and a 1-step CFM run on it (5 channels, 4 frames at 15 min)."""
    tmp = tmp_path_factory.mktemp("run")
    store = make_tiny_store(tmp / "s.zarr", n=16, size=16)
    sets = [*tiny_overrides(store, tmp / "run", 1), f"data.channels={json.dumps(FIVE)}", "model.attention=false"]
    ckpt = fit(load_config(CONFIGS / "cfm.yaml", sets)).checkpoint
    return {"store": store, "ckpt": ckpt, "out": tmp / "run", "sets": [a for o in sets for a in ("--set", o)]}


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _predict(ckpt: Path, store: Path, out: Path, *extra: str) -> list[str]:
    return ["predict", "--checkpoint", str(ckpt), "--store", str(store), "--split", "val", "-o", str(out), *extra]


# case 3 -------------------------------------------------------------------------------------------


def test_train_refuses_an_existing_run_without_resume_or_overwrite(run: dict, capsys) -> None:
    before = _listing(run["out"])
    assert {"checkpoint.pt", "log.csv"} <= set(before)
    cmd = ["train", "--config", str(CONFIGS / "cfm.yaml"), *run["sets"]]
    assert main(cmd) == 2
    assert "--resume" in one_line_error(capsys, run["out"], "--overwrite")
    assert main([*cmd, "--resume", "--overwrite"]) == 2
    one_line_error(capsys, "not both")
    assert _listing(run["out"]) == before  # log not truncated, checkpoint not replaced


def test_train_overwrite_starts_again(tmp_path: Path, run: dict) -> None:
    out = tmp_path / "again"
    out.mkdir()
    (out / "log.csv").write_text("step,loss\n99,1\n")
    sets = [a if not a.startswith("train.out=") else f"train.out={out}" for a in run["sets"]]
    assert main(["train", "--config", str(CONFIGS / "cfm.yaml"), *sets, "--overwrite"]) == 0
    assert "99," not in (out / "log.csv").read_text() and (out / "checkpoint.pt").is_file()


# cases 5, 6, 10: checkpoints and stores ----------------------------------------------------------


def _damaged_checkpoint(src: Path, dst: Path, how: str) -> Path:
    if how == "bit rot":
        data = bytearray(src.read_bytes())
        with zipfile.ZipFile(src) as zf:  # the largest tensor record of the archive
            info = max(zf.infolist(), key=lambda i: i.file_size)
        name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
        at = info.header_offset + 30 + name_len + extra_len + info.file_size // 4
        assert info.file_size > 8192
        data[at : at + 4096] = bytes(b ^ 0x5A for b in data[at : at + 4096])  # 4 KiB of bit rot
        dst.write_bytes(bytes(data))
        return dst
    payload = torch.load(src, weights_only=True)
    if how == "no ir_mean":
        del payload["normalisation"]["ir_mean"]
    elif how == "NaN weights":
        next(iter(payload["ema"].values())).fill_(float("nan"))
    else:  # weights that do not match the checkpoint's own config
        payload["config"]["model"]["base_channels"] = 16
    torch.save(payload, dst)
    return dst


@pytest.mark.parametrize(
    "how, words",
    [
        ("bit rot", "fails its CRC check"),
        ("NaN weights", "holds NaN"),
        ("no ir_mean", "ir_mean"),
        ("other config", "do not match"),
    ],
)
def test_predict_refuses_a_damaged_checkpoint(how: str, words: str, run: dict, tmp_path: Path, capsys) -> None:
    bad = _damaged_checkpoint(run["ckpt"], tmp_path / "bad.pt", how)
    out = tmp_path / "pred.nc"
    assert main(_predict(bad, run["store"], out)) == 2
    one_line_error(capsys, bad, words)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.pt"]


def test_predict_refuses_a_store_with_a_missing_chunk(run: dict, tmp_path: Path, capsys) -> None:
    store = make_tiny_store(tmp_path / "holey.zarr", n=16, size=16)
    next(p for p in (store / "inputs").iterdir() if not p.name.startswith(".")).unlink()
    out = tmp_path / "pred.nc"
    assert main(_predict(run["ckpt"], store, out)) == 2
    one_line_error(capsys, store, "'inputs' lacks 1 of its")
    assert not out.exists()


def test_config_values_that_gave_tracebacks_or_passed_silently(run: dict, tmp_path: Path, capsys) -> None:
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("train:\n  out: caf\xe9\n".encode("latin-1"))
    assert main(["train", "--config", str(bad)]) == 2
    one_line_error(capsys, bad, "not UTF-8")
    for override, named in [("train.lr=.nan", "train.lr"), ("data.patch=0", "data.patch"), ("train.ema_decay=5", "")]:
        assert main(["train", "--config", str(CONFIGS / "cfm.yaml"), "--set", override]) == 2
        one_line_error(capsys, named or "train.ema_decay", "out of range")
    out = tmp_path / "pred.nc"
    for value in ("0", "-1"):
        assert main(_predict(run["ckpt"], run["store"], out, "--max-samples", value)) == 2
        one_line_error(capsys, "--max-samples")
    pred = make_predictions(tmp_path / "p.nc", n_time=2, members=2, size=16)
    scores = tmp_path / "scores"
    assert main(["evaluate", str(pred), "-o", str(scores), "--chunk", "0"]) == 2
    one_line_error(capsys, "--chunk")
    assert main(["evaluate", str(pred), "-o", str(scores), "--set", "eval.fss_scales=[0]"]) == 2
    one_line_error(capsys, "eval.fss_scales")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latin1.yaml", "p.nc"]


# case 7: output paths ------------------------------------------------------------------------------


def test_output_paths_are_checked_before_any_work(run: dict, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "a_folder"
    folder.mkdir()
    assert main(_predict(run["ckpt"], run["store"], folder)) == 2
    one_line_error(capsys, folder, "is a folder")
    file = tmp_path / "a_file"
    file.write_text("x")
    pred = make_predictions(tmp_path / "p.nc", n_time=2, members=2, size=16)
    assert main(["evaluate", str(pred), "-o", str(file)]) == 2
    one_line_error(capsys, file, "is a file")
    assert main(["report", str(tmp_path), "-o", str(file / "sub")]) == 2
    one_line_error(capsys, file, "is a file, not a folder")
    # estimate: the PNG path is refused before the checkpoint is even read, so no .nc is written
    out = tmp_path / "rain.nc"
    cmd = ["estimate", "--checkpoint", str(tmp_path / "absent.pt"), "--sat", str(pred), "-o", str(out)]
    assert main([*cmd, "--png", str(folder)]) == 2
    assert "absent.pt" not in one_line_error(capsys, folder, "--png")
    assert main([*cmd, "--png", str(out)]) == 2
    one_line_error(capsys, "same file")
    assert not out.exists() and file.read_text() == "x" and not any(folder.iterdir())


def test_read_only_output_folder(run: dict, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == locked else real_access(p, mode))
    out = locked / "pred.nc"
    assert main(_predict(run["ckpt"], run["store"], out)) == 2  # as a non-root user with chmod 555 would see
    one_line_error(capsys, out, "not writable")
    assert not any(locked.iterdir())


def test_an_oserror_while_writing_is_one_line(run: dict, tmp_path: Path, capsys, monkeypatch) -> None:
    import qpeflow.io.atomic as atomic

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device", str(tmp_path / "pred.nc"))

    monkeypatch.setattr(atomic.tempfile, "mkstemp", full_disk)
    assert main(_predict(run["ckpt"], run["store"], tmp_path / "pred.nc", "--max-samples", "1")) == 2
    one_line_error(capsys, "pred.nc", "No space left on device")
    assert not any(tmp_path.iterdir())


# case 13: stale temps ------------------------------------------------------------------------------


def test_commands_remove_stale_temps_of_their_outputs_when_they_start(tmp_path: Path, capsys) -> None:
    pred = make_predictions(tmp_path / "p.nc", n_time=2, members=2, size=16)
    scores = tmp_path / "scores"
    scores.mkdir()
    stale = scores / ".p.json.99999999-abcd.tmp"  # a SIGKILLed writer (no such pid)
    live = scores / f".p.json.{os.getpid()}-efgh.tmp"  # a writer still running
    stale.write_text("partial")
    live.write_text("partial")
    assert main(["evaluate", str(pred), "-o", str(scores)]) == 0
    assert not stale.exists() and live.exists() and (scores / "p.json").is_file()


# cases 9, 11, 14: satellite input and messages ------------------------------------------------------


def _frames(folder: Path, channels: list[str] = FIVE, count: int = 800) -> list[str]:
    folder.mkdir(exist_ok=True)
    paths = []
    for stamp in STAMPS:
        path = folder / f"{stamp.replace('-', '').replace(':', '').replace('T', '')}.zarr.zip"
        write_satip(path, np.full((30, 40, len(channels)), count, np.int16), channels, np.datetime64(stamp))
        paths.append(str(path))
    return paths


def _w4c(path: Path) -> Path:
    with h5py.File(path, "w") as fh:
        fh["REFL-BT"] = np.full((4, 11, 8, 8), 260.0, np.float32)
    return path


def _estimate(ckpt: Path, sat: list[str], out: Path, *extra: str) -> list[str]:
    return ["estimate", "--checkpoint", str(ckpt), "--sat", *sat, "--grid", "native", "-o", str(out), *extra]


def test_estimate_satellite_cases(run: dict, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out" / "rain.nc"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(_estimate(run["ckpt"], [str(empty)], out)) == 2
    one_line_error(capsys, empty, "empty folder")
    w4c = _w4c(tmp_path / "boxi_0015.train.reflbt0.ns.h5")
    assert main(_estimate(run["ckpt"], [str(w4c)], out)) == 2
    one_line_error(capsys, w4c, "no time stamps")
    nan = _frames(tmp_path / "nan", count=-1)
    assert main(_estimate(run["ckpt"], nan, out)) == 2
    one_line_error(capsys, nan[0], "all NaN")
    good = _frames(tmp_path / "good")
    assert main(_estimate(run["ckpt"], good, out, "--tolerance", "-5")) == 2
    assert "apart" not in one_line_error(capsys, "--tolerance", ">= 0")
    assert not out.parent.exists()


def test_evaluate_names_an_estimate_file_for_what_it_is(tmp_path: Path, capsys) -> None:
    from qpeflow.inference.rain_netcdf import RainMaps, write_rain_netcdf
    from qpeflow.io.grid import OPERA_CRS, Grid

    grid = Grid(OPERA_CRS, 0.0, 2000.0, 0.0, -2000.0, (6, 8))
    est = write_rain_netcdf(
        RainMaps(np.ones((2, 6, 8), np.float32), grid, np.datetime64("2021-06-01T12:00")), tmp_path / "rain.nc"
    )
    assert main(["evaluate", str(est), "-o", str(tmp_path / "scores")]) == 2
    err = one_line_error(capsys, est, "lacks ['time']", "estimate file")
    assert "no 'member' dimension" not in err


def _bom(path: Path) -> Path:
    import netCDF4

    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("y", 4)
        ds.createDimension("x", 5)
        ds.createVariable("precipitation", "f4", ("y", "x"))[:] = np.ones((4, 5))
        ds.createVariable("x", "f8", ("x",))[:] = np.arange(5.0)
        ds.createVariable("y", "f8", ("y",))[:] = np.arange(4.0)[::-1]
        ds.createVariable("valid_time", "i8")[...] = 1_600_000_600
        ds.createVariable("start_time", "i8")[...] = 1_600_000_000
        ds.createVariable("proj", "i4")  # the grid mapping, without its attributes
    return path


def test_inspect_messages_name_the_file_and_the_real_problem(tmp_path: Path, capsys) -> None:
    bom = _bom(tmp_path / "310.prcp-c10.nc")
    assert main(["inspect", str(bom)]) == 2
    one_line_error(capsys, bom, "'proj' lacks the grid-mapping attribute")
    empty = tmp_path / "comp.h5"
    empty.write_bytes(b"")
    assert main(["inspect", str(empty)]) == 2
    assert "unknown" not in one_line_error(capsys, empty, "empty file")
    nat = tmp_path / "MSG4-SEVI-MSG15-0100-NA-20231220121243.000000000Z-NA.nat"
    nat.write_bytes(b"not a native file" * 64)
    assert main(["inspect", str(nat)]) == 2
    one_line_error(capsys, nat)  # the .nat file itself, not its folder
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([bom.name, empty.name, nat.name])
