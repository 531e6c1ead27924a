"""`qpeflow prepare` with bad targets and bad archives (issue 15, cases 1, 2, 4, 9 and 14).

Every case: exit status 2, one line naming the file, nothing new or partial left, nothing old lost.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr

from qpeflow.cli import main
from qpeflow.config import DEFAULT_CHANNELS
from qpeflow.data.dataset import open_store
from qpeflow.io.grid import Grid
from tests.cli.errors import one_line_error
from tests.paths import REPO
from tests.writers.odim import write_odim
from tests.writers.satip import write_satip

SMALL = [
    "--source",
    "synthetic",
    "--n-events",
    "3",
    "--no-progress",
    *("--set", "prepare.patch=16", "--set", "prepare.patches_per_frame=1"),
    *("--set", "prepare.draws_train=1", "--set", "prepare.draws_eval=1"),
]
SATIP = "seviri/satip-uk-20231220"
FRAMES = ("202312201145", "202312201200", "202312201215", "202312201230")
RADAR_CRS = "+proj=laea +lat_0=54 +lon_0=-2 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"


def _listing(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_out_that_is_no_store_is_refused_unless_overwrite(tmp_path: Path, capsys) -> None:
    target = tmp_path / "thesis"
    target.mkdir()
    (target / "chapter1.tex").write_text("years of work")
    sibling = tmp_path / "thesis.tmp"  # the old fixed temp name: someone else's folder, never deleted
    sibling.mkdir()
    (sibling / "keep.txt").write_text("mine")
    before = _listing(tmp_path)
    assert main(["prepare", *SMALL, "--out", str(target)]) == 2
    assert "is not a qpeflow store" in one_line_error(capsys, target, "--overwrite")
    assert _listing(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["thesis", "thesis.tmp"]
    assert main(["prepare", *SMALL, "--out", str(target), "--overwrite"]) == 0
    open_store(target)
    assert (sibling / "keep.txt").read_text() == "mine"
    assert main(["prepare", *SMALL, "--out", str(target), "--seed", "1"]) == 0  # a qpeflow store: replaced


def test_out_that_is_a_file(tmp_path: Path, capsys) -> None:
    target = tmp_path / "store.zarr"
    target.write_text("a file")
    assert main(["prepare", *SMALL, "--out", str(target)]) == 2
    assert "is a file" in one_line_error(capsys, target)
    assert target.read_text() == "a file" and sorted(p.name for p in tmp_path.iterdir()) == ["store.zarr"]


def test_two_concurrent_prepares_leave_one_readable_store(tmp_path: Path) -> None:
    out = tmp_path / "s.zarr"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "qpeflow.cli", "prepare", *SMALL, "--out", str(out)]
    procs = [
        subprocess.Popen([*cmd, "--seed", str(seed)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for seed in (0, 1)
    ]
    results = [p.communicate(timeout=300) for p in procs]
    for proc, (stdout, stderr) in zip(procs, results):
        assert proc.returncode == 0, stderr.decode()[-2000:]
        assert b"prepared" in stdout
    ds = open_store(out)  # complete and verified: one of the two, not a mixture
    assert ds.attrs["seed"] in (0, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.zarr"]  # no temp or old folder left


def _archive(tmp_path: Path, satip: Path, negative: bool = False) -> tuple[Path, Path]:
    sat, radar = tmp_path / "sat", tmp_path / "radar"
    sat.mkdir()
    radar.mkdir()
    for stamp in FRAMES:
        (sat / f"{stamp}.zarr.zip").symlink_to(satip / f"{stamp}.zarr.zip")
    grid = Grid(RADAR_CRS, -160e3, 2000.0, 160e3, -2000.0, (160, 160))
    rain = np.zeros(grid.shape, np.float32)
    rain[40:120, 40:120] = 5.0
    path = radar / "comp_20231220T1230.h5"
    write_odim(path, rain, grid, np.datetime64("2023-12-20T12:30"))
    if negative:
        _negative_rain(path, (slice(60, 80), slice(60, 80)), -50.0)
    return sat, radar


def _negative_rain(path: Path, where: tuple[slice, slice], value: float) -> None:
    """Re-encode the ODIM data with offset -100 mm/h so that ``where`` decodes to ``value`` (< 0)."""
    with h5py.File(path, "r+") as fh:
        what, data = fh["dataset1/what"], fh["dataset1/data1/data"]
        gain, codes = float(what.attrs["gain"]), data[...].astype(np.float64)
        rain = np.where(codes > 0, codes * gain + float(what.attrs["offset"]), 0.0)
        rain[where] = value
        what.attrs["offset"] = -100.0
        data[...] = np.where(rain != 0, np.rint((rain + 100.0) / gain), codes).astype(np.uint16)


def _pairs(sat: Path, radar: Path, out: Path) -> list[str]:
    return ["prepare", "--source", "pairs", "--sat", str(sat), "--radar", str(radar), "--out", str(out)]


def test_pairs_masks_and_counts_negative_rain_without_progress_bars(tmp_path: Path, real_data, capsys, caplog) -> None:
    sat, radar = _archive(tmp_path, real_data(SATIP), negative=True)
    out = tmp_path / "pairs.zarr"
    args = [*_pairs(sat, radar, out), "--no-progress", "--set", "prepare.patch=32", "--set", "prepare.draws_train=1"]
    with caplog.at_level(logging.INFO):
        assert main(args) == 0
    err = capsys.readouterr().err
    assert "it/s" not in err and "%|" not in err, err  # --no-progress holds for pairs too
    assert any("400 pixel(s) of negative rain" in r.getMessage() for r in caplog.records)
    ds = xr.open_zarr(out)
    assert ds.attrs["radar_negative_pixels_masked"] == 400
    target, mask = ds["target"].values[:, 0], ds["mask"].values
    assert (target >= 0).all() and (~mask).any() and (target[mask] > 1).any()


def _bad_sat_file(sat: Path, case: str) -> Path:
    path = sat / "202312201130.zarr.zip"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "corrupt":
        path.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    else:  # all NaN: every count is the fill value
        counts = np.full((20, 20, len(DEFAULT_CHANNELS)), -1, np.int16)
        write_satip(path, counts, list(DEFAULT_CHANNELS), np.datetime64("2023-12-20T11:30"))
    return path


@pytest.mark.parametrize("case, words", [("empty", "empty file"), ("corrupt", "corrupt"), ("all-nan", "all NaN")])
def test_pairs_names_a_bad_satellite_file(case: str, words: str, tmp_path: Path, real_data, capsys) -> None:
    sat, radar = _archive(tmp_path, real_data(SATIP))
    bad = _bad_sat_file(sat, case)
    out = tmp_path / "pairs.zarr"
    assert main([*_pairs(sat, radar, out), "--no-progress"]) == 2
    err = one_line_error(capsys, bad, words)
    assert "missing" not in err and "overlap" not in err, err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["radar", "sat"]
