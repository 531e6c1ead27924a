"""Atomic writes (issue 15, cases 2, 12, 13): the user's file mode for every writer, SIGKILL mid-write
keeps the old file, a kill while the old store is deleted keeps a complete store, stale temps go."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from qpeflow.io.atomic import atomic_dir, clean_stale_temps, stale_temps, user_file_mode
from tests.paths import REPO

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(params=[0o022, 0o027])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _checkpoint(path: Path) -> None:
    from qpeflow.checkpoint import save_checkpoint

    save_checkpoint(path, {"state_dict": {"w": torch.zeros(2)}, "step": 1})


def _predictions(path: Path) -> None:
    from qpeflow.io.predictions import write_predictions

    write_predictions(
        xr.Dataset({"rain_rate": (("member", "time", "y", "x"), np.zeros((1, 1, 4, 4), np.float32))}), path
    )


def _maps():  # type: ignore[no-untyped-def]
    from qpeflow.inference.rain_netcdf import RainMaps
    from qpeflow.io.grid import OPERA_CRS, Grid

    grid = Grid(OPERA_CRS, 0.0, 2000.0, 0.0, -2000.0, (6, 8))
    return RainMaps(np.ones((2, 6, 8), np.float32), grid, np.datetime64("2021-06-01T12:00"), None, {"method": "t"})


def _estimate_nc(path: Path) -> None:
    from qpeflow.inference.rain_netcdf import write_rain_netcdf

    write_rain_netcdf(_maps(), path)


def _estimate_png(path: Path) -> None:
    from qpeflow.plots.quicklook import write_quicklook

    write_quicklook(_maps(), path, dpi=20)


def _scores(path: Path) -> None:
    from qpeflow.evaluate import evaluate
    from tests.writers.predictions import make_predictions

    pred = make_predictions(path.parent / "src" / f"{path.stem}.nc", n_time=2, members=2, size=16)
    assert evaluate(pred, path.parent) == path


def _report_png(path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from qpeflow.report.figures import save_png

    fig = Figure(figsize=(1, 1))
    fig.add_subplot().plot([0, 1])
    save_png(fig, path, dpi=20)


def _log_csv(path: Path) -> None:
    from qpeflow.training.log import TrainLog

    TrainLog(path.parent).write(1, 0.5, 1e-3, 1.0, 0.1)


#: final file name -> writer(final path)
WRITERS: dict[str, Callable[[Path], None]] = {
    "checkpoint.pt": _checkpoint,
    "pred.nc": _predictions,
    "rain.nc": _estimate_nc,
    "rain.png": _estimate_png,
    "pred.json": _scores,
    "figure.png": _report_png,
    "log.csv": _log_csv,
}


@pytest.mark.parametrize("name", list(WRITERS))
def test_every_writer_gives_the_users_mode_and_keeps_it_on_overwrite(name: str, umask: int, tmp_path: Path) -> None:
    final = tmp_path / name
    WRITERS[name](final)
    assert _mode(final) == 0o666 & ~umask == user_file_mode()
    os.chmod(final, 0o600)  # as the old writers left it: overwriting restores the user's mode
    WRITERS[name](final)
    assert _mode(final) == 0o666 & ~umask
    os.chmod(final, 0o644)
    WRITERS[name](final)
    assert _mode(final) == (0o644 if umask == 0o022 else 0o640)
    assert not stale_temps(final) and not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_store_folder_and_its_files_get_the_users_mode(umask: int, tmp_path: Path) -> None:
    from qpeflow.data.store import StoreArrays, write_store

    n = 4
    arrays = StoreArrays(
        inputs=np.full((n, 1, 1, 8, 8), 250.0, np.float32),
        target=np.ones((n, 8, 8), np.float32),
        mask=np.ones((n, 8, 8), bool),
        valid_time=np.datetime64("2021-06-01T12:00", "ns") + np.arange(n) * np.timedelta64(15, "m"),
        event=np.array(["a"] * n),
        split=np.array(["train"] * n),
        row0=np.zeros(n, np.int64),
        col0=np.zeros(n, np.int64),
        channels=("IR_108",),
        time_in=(0,),
    )
    store = write_store(tmp_path / "s.zarr", arrays, {"source": "test", "infrared": "simulated"}).path
    assert _mode(store) == 0o777 & ~umask
    files = [p for p in store.rglob("*") if p.is_file()]
    assert files and {_mode(p) for p in files} == {0o666 & ~umask}
    write_store(store, arrays, {"source": "test", "infrared": "simulated"})  # replacing a store keeps the modes
    assert _mode(store) == 0o777 & ~umask and sorted(p.name for p in tmp_path.iterdir()) == ["s.zarr"]


def _python(code: str, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=REPO, env=env, stderr=subprocess.PIPE)


CHECKPOINT_WRITER = """
import sys, torch
from qpeflow.checkpoint import save_checkpoint
torch.manual_seed(0)
save_checkpoint(sys.argv[1], {"state_dict": {"w": torch.rand(64, 1024, 1024)}, "step": 2})  # 256 MiB
"""


def test_sigkill_mid_write_keeps_the_old_file_and_next_start_cleans_up(tmp_path: Path) -> None:
    from qpeflow.checkpoint import save_checkpoint

    final = tmp_path / "checkpoint.pt"
    save_checkpoint(final, {"state_dict": {"w": torch.ones(3)}, "step": 1})
    before = final.read_bytes()
    proc = _python(CHECKPOINT_WRITER, str(final))
    deadline = time.monotonic() + 120
    temps: list[Path] = []
    while time.monotonic() < deadline and proc.poll() is None:
        temps = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp") and p.stat().st_size > 1 << 20]
        if temps:
            break
        time.sleep(0.01)
    assert temps, f"the writer never got going: {proc.stderr.read().decode() if proc.stderr else ''}"
    proc.send_signal(signal.SIGKILL)  # mid-write: the temp file is partial
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    assert final.read_bytes() == before  # nothing old lost, nothing partial under the final name
    assert [p.name for p in stale_temps(final)] == [t.name for t in temps]
    assert clean_stale_temps(final) == 1  # what every writing command does when it starts
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]


DIR_SWAPPER = """
import os, shutil, signal, sys
from pathlib import Path
import qpeflow.io.atomic as atomic

def dying_rmtree(path, ignore_errors=False):
    files = sorted(p for p in Path(path).rglob("*") if p.is_file())
    for p in files[: len(files) // 2]:
        p.unlink()  # half of the old store is gone ...
    os.kill(os.getpid(), signal.SIGKILL)  # ... when the process is killed

atomic.shutil.rmtree = dying_rmtree
with atomic.atomic_dir(sys.argv[1]) as tmp:
    for i in range(6):
        (tmp / f"new{i}").write_text("new")
"""


def test_kill_while_the_old_folder_is_deleted_leaves_the_complete_new_one(tmp_path: Path) -> None:
    final = tmp_path / "store.zarr"
    with atomic_dir(final) as tmp:
        for i in range(6):
            (tmp / f"old{i}").write_text("old")
    proc = _python(DIR_SWAPPER, str(final))
    proc.wait(60)
    assert proc.returncode == -signal.SIGKILL
    assert sorted(p.name for p in final.iterdir()) == [f"new{i}" for i in range(6)]
    (aside,) = stale_temps(final)  # the half-deleted old store, under a hidden name
    assert aside.name.endswith(".old") and 0 < len(list(aside.iterdir())) < 6
    assert clean_stale_temps(final) == 1 and sorted(p.name for p in tmp_path.iterdir()) == ["store.zarr"]


def test_a_live_writers_temp_is_not_stale(tmp_path: Path) -> None:
    final = tmp_path / "x.json"
    mine = tmp_path / f".x.json.{os.getpid()}-abc.tmp"
    dead = tmp_path / ".x.json.99999999-abc.tmp"  # above any pid_max: that writer is gone
    mine.write_text("writing")
    dead.write_text("left by a kill")
    assert stale_temps(final) == [dead]
    assert clean_stale_temps(final) == 1 and mine.exists() and not dead.exists()


def test_stale_temps_of_one_output_leave_a_longer_names_temps_alone(tmp_path: Path) -> None:
    import qpeflow.io.atomic as atomic

    mine = tmp_path / ".a.999999999-x1.tmp"  # a dead writer of "a" (no such pid)
    other = tmp_path / ".a.b.999999999-x2.tmp"  # a dead writer of "a.b": not a temp of "a"
    mine.write_text("x")
    other.write_text("x")
    assert atomic.stale_temps(tmp_path / "a") == [mine]
    assert atomic.clean_stale_temps(tmp_path / "a") == 1 and other.exists() and not mine.exists()
