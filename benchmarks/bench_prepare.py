"""Benchmark: archive-scale ``prepare --source sevmos`` on dask.distributed (issue 13).

    PYTHONPATH=. python benchmarks/bench_prepare.py [--files 384] [--size 64] [--block-files 48] [--lengths 96,192,384]

Writes a test archive of ``--files`` sevmos-layout files (``tests/writers/sevmos.py``: the team's
layout, ``size`` x ``size`` 1 km pixels, 15-min slots, a moving rain blob) to a temp folder, then
prepares it with :func:`qpeflow.data.archive_prepare.prepare_sevmos_archive` on a local cluster:

* files/s with 1 and 2 worker processes over the whole archive (cluster start-up not counted);
* peak resident memory (RSS) of the client process and of the largest worker against archive
  length (``--lengths``, each a folder of links to the first N files, 2 workers): with time
  blocks and zarr region writes it should stay flat, bounded by one block.

Figures from a shared 2-core machine swing a lot; they are printed, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

from qpeflow.config import PrepareConfig
from qpeflow.data.archive_prepare import prepare_sevmos_archive
from tests.writers.meteofrance import mf_grid
from tests.writers.sevmos import default_bt, write_sevmos

T0 = np.datetime64("2019-06-01T00:10:00", "s")
CHANNELS = ("WV_062", "WV_073", "IR_087", "IR_097", "IR_108", "IR_120", "IR_134")


def write_archive(folder: Path, n: int, size: int) -> list[Path]:
    """``n`` sevmos files 15 min apart: a rain blob drifting east, quality 90."""
    yy, xx = np.mgrid[:size, :size]
    grid, quality = mf_grid(size, size), np.full((size, size), 90)
    paths = []
    for k in range(n):
        cx = (k * 3) % size
        rain = (10.0 * np.exp(-((yy - size / 2) ** 2 + (xx - cx) ** 2) / (size * 2.0))).astype(np.float32)
        paths.append(write_sevmos(folder, T0 + np.timedelta64(15 * k, "m"), default_bt(rain), rain, quality, grid))
    return paths


class PeakRss:
    """Samples the RSS (MB) of this process and of the given pids every 50 ms; keeps each one's peak."""

    def __init__(self, pids: list[int]) -> None:
        self.procs = [psutil.Process(os.getpid()), *(psutil.Process(p) for p in pids)]
        self.peak = [0.0] * len(self.procs)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for i, p in enumerate(self.procs):
                with contextlib.suppress(psutil.Error):  # a worker that just exited
                    self.peak[i] = max(self.peak[i], p.memory_info().rss / 2**20)
            self._stop.wait(0.05)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run(folder: Path, out: Path, workers: int, block_files: int, cfg: PrepareConfig) -> tuple[float, float, float]:
    """Seconds, client peak RSS, largest worker peak RSS (MB) of one prepare."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        pids = list(client.run(os.getpid).values())
        with PeakRss(pids) as rss:
            start = time.perf_counter()
            prepare_sevmos_archive(cfg, folder, out, client=client, block_files=block_files, progress=False)
            seconds = time.perf_counter() - start
    return seconds, rss.peak[0], max(rss.peak[1:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=384)
    ap.add_argument("--size", type=int, default=64, help="1 km pixels per side")
    ap.add_argument("--block-files", type=int, default=48)
    ap.add_argument("--lengths", default="96,192,384", help="archive lengths for the RSS curve")
    args = ap.parse_args()
    cfg = PrepareConfig(
        source="sevmos", channels=CHANNELS, time_steps=4, resolution_km=2.0, patch=16, dry_keep_fraction=0.2, seed=0
    )
    with tempfile.TemporaryDirectory(prefix="bench_prepare_") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        files = write_archive(root / "archive", args.files, args.size)
        print(f"wrote {len(files)} sevmos files ({args.size}x{args.size} px) in {time.perf_counter() - start:.1f} s")
        for workers in (1, 2):
            s, client_mb, worker_mb = run(root / "archive", root / f"w{workers}.zarr", workers, args.block_files, cfg)
            print(
                f"workers={workers} files={len(files)} seconds={s:.1f} files/s={len(files) / s:.1f} "
                f"peak_rss_client_mb={client_mb:.0f} peak_rss_worker_mb={worker_mb:.0f}"
            )
        for n in (int(v) for v in args.lengths.split(",")):
            sub = root / f"first{n}"
            sub.mkdir()
            for f in files[:n]:
                (sub / f.name).symlink_to(f)
            s, client_mb, worker_mb = run(sub, root / f"n{n}.zarr", 2, args.block_files, cfg)
            print(
                f"length={n} workers=2 seconds={s:.1f} files/s={n / s:.1f} "
                f"peak_rss_client_mb={client_mb:.0f} peak_rss_worker_mb={worker_mb:.0f}"
            )


if __name__ == "__main__":
    main()
