"""Archive-scale ``prepare --source sevmos`` on dask.distributed: bounded memory, resumable, atomic.

1. **Blocks in parallel.** The time-ordered files are cut into blocks of ``block_files``
   (:mod:`qpeflow.data.archive_blocks`); each block is one task on a dask.distributed cluster
   (a ``LocalCluster`` of ``workers`` single-threaded processes by default, or the scheduler at
   ``scheduler`` for a real cluster, whose workers must see the archive and the output folder
   under the same paths). A task writes its patches in K and a summary into the work folder
   ``OUT.incomplete/`` beside the output, which says by its name that the store is not done.
2. **Resumable.** A rerun of the same command (same files, config and block size: the
   manifest) skips every block whose summary exists and whose npz still has its sha256; a
   different manifest starts afresh.
3. **Assembly in zarr regions.** The split (by UTC day, chronological) and the normalisation
   (train days) come from the block summaries alone; the store's metadata is written once for
   all N samples, then block after block is normalised and written into its region
   ``[offset, offset + n)``: memory is bounded by one block, never by the archive. The store is
   assembled in a temp folder and appears under its name only complete and verified
   (:func:`qpeflow.io.atomic.atomic_dir`, :func:`qpeflow.data.store.verify_store`); then the work
   folder is removed.

The store has the layout and attributes of :func:`qpeflow.data.sevmos_prepare.prepare_sevmos`,
with ``prepare_engine = "dask.distributed"`` and ``block_files``; patches differ from the serial
path's only by the random draws of dry patches (one generator per block).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from qpeflow.config import PrepareConfig
from qpeflow.data.archive_blocks import BlockPlan, BlockSummary, finished_block, load_block, plan_blocks, run_block
from qpeflow.data.pairs import split_by_day
from qpeflow.data.sevmos_prepare import _factor, coarse_grid, sevmos_files, store_attrs
from qpeflow.data.store import (
    SPLITS,
    StoreArrays,
    StoreSummary,
    _dataset,
    _plain,
    _version,
    check_store_target,
    verify_store,
)
from qpeflow.errors import QpeflowError, input_error
from qpeflow.io.atomic import atomic_dir, write_text
from qpeflow.io.grid import Grid

log = logging.getLogger(__name__)
#: one day of 15-min slots per block
DEFAULT_BLOCK_FILES = 96
STORE_CHUNK = 64  # samples per zarr chunk, as write_store


def work_folder(out: Path) -> Path:
    """Where blocks are kept until the store is complete: ``OUT.incomplete`` beside ``OUT``."""
    return out.with_name(out.name + ".incomplete")


def _manifest(files: list[Path], p: PrepareConfig, block_files: int) -> dict[str, Any]:
    names = hashlib.sha256("\n".join(str(f) for f in files).encode()).hexdigest()
    return {"files_sha256": names, "n_files": len(files), "config": asdict(p), "block_files": block_files}


def _open_work(out: Path, manifest: dict[str, Any]) -> Path:
    """The work folder for ``manifest``; an existing one of another manifest is discarded."""
    work = work_folder(out)
    path = work / "manifest.json"
    text = json.dumps(manifest, sort_keys=True, default=str)
    if work.exists() and (not path.is_file() or path.read_text() != text):
        log.warning("%s: made for other files or settings: starting afresh", work)
        shutil.rmtree(work)
    (work / "blocks").mkdir(parents=True, exist_ok=True)
    if not path.is_file():
        write_text(work / "README", "qpeflow prepare: store not complete; rerun the same command to resume.\n")
        write_text(path, text)
    return work


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """A dask.distributed Client: of ``scheduler`` (address) or of a local cluster of ``workers`` processes."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            client = Client(scheduler, timeout="30s")
        except OSError as exc:
            raise QpeflowError(f"--scheduler {scheduler}: cannot reach a dask scheduler there ({exc})") from None
        with client:
            yield client
        return
    n = workers or max(1, min(4, os.cpu_count() or 1))
    with (
        LocalCluster(
            n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _run_blocks(client: Any, todo: list[BlockPlan], p: PrepareConfig, work: Path, progress: bool) -> list[BlockSummary]:
    from distributed import as_completed

    futures = [
        client.submit(run_block, plan, p, str(work), key=f"qpeflow-block-{plan.index}-{os.getpid()}") for plan in todo
    ]
    done = []
    bar = tqdm(total=len(futures), desc="blocks", unit="block", leave=False, disable=not progress)
    for future in as_completed(futures):
        done.append(future.result())  # a QpeflowError raised on a worker is raised here
        bar.update()
    bar.close()
    return done


def prepare_sevmos_archive(
    cfg: PrepareConfig,
    sat_dir: str | Path,
    out: str | Path,
    *,
    client: Any = None,
    scheduler: str | None = None,
    workers: int | None = None,
    block_files: int = DEFAULT_BLOCK_FILES,
    progress: bool = True,
    overwrite: bool = False,
) -> StoreSummary:
    """Build the store ``out`` from the sevmos files under ``sat_dir`` in time blocks (module docstring).

    Args:
        client: an existing dask.distributed Client (else one is made from ``scheduler`` / ``workers``).
        block_files: files per block (>= ``time_steps``): memory per task and per region write.

    Raises:
        QpeflowError: as :func:`qpeflow.data.sevmos_prepare.prepare_sevmos`, naming the file.
    """
    out = Path(out)
    check_store_target(out, overwrite)
    if block_files < cfg.time_steps:
        raise QpeflowError(f"block_files {block_files}: must be >= time_steps ({cfg.time_steps})")
    files = sevmos_files(sat_dir)
    work = _open_work(out, _manifest(files, cfg, block_files))
    plans = plan_blocks(files, block_files, cfg.time_steps)
    kept = {plan.index: finished_block(work, plan.index) for plan in plans}
    todo = [plan for plan in plans if kept[plan.index] is None]
    log.info("archive prepare: %d block(s), %d already written and verified", len(plans), len(plans) - len(todo))
    if todo:
        if client is not None:
            kept.update((s.index, s) for s in _run_blocks(client, todo, cfg, work, progress))
        else:
            with dask_client(scheduler, workers) as own:
                kept.update((s.index, s) for s in _run_blocks(own, todo, cfg, work, progress))
    summaries = [kept[plan.index] for plan in plans]
    assert all(s is not None for s in summaries)
    summary = _assemble(out, work, [s for s in summaries if s is not None], files, cfg, block_files, overwrite)
    shutil.rmtree(work, ignore_errors=True)
    return summary


def _check_blocks(summaries: list[BlockSummary], files: list[Path], p: PrepareConfig, block_files: int) -> Grid:
    """The 1 km grid shared by every block; the prepare_sevmos errors when nothing can be written."""
    grids = [Grid.from_attrs(s.grid) for s in summaries]
    for s, g in zip(summaries, grids):
        if g != grids[0]:
            name = files[min(s.index * block_files, len(files) - 1)]
            raise input_error(name, f"grid {g.shape} at x0 {g.x0:.0f} m, y0 {g.y0:.0f} m differs from {files[0]}'s")
    if sum(s.samples for s in summaries) == 0:
        complete = sum(s.complete for s in summaries)
        gap = next((s.gap for s in summaries if s.gap), None)
        if complete == 0:
            raise input_error(
                gap or files[-1],
                f"no {p.time_steps} consecutive sevmos files {p.cadence_minutes} min apart"
                + (" (a time gap before this file)" if gap else f" among {len(files)} file(s)"),
            )
        raise input_error(
            files[0].parent, f"no {p.patch} x {p.patch} patch with enough radar coverage in {complete} window(s)"
        )
    return grids[0]


def _statistics(summaries: list[BlockSummary], split_of: dict[str, str], n_ch: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std (K) of the train days (all days if none), as store.ir_statistics."""
    use = [d for s in summaries for d in s.days if split_of[d] == "train"] or list(split_of)
    total, sq, count = np.zeros(n_ch), np.zeros(n_ch), np.zeros(n_ch)
    for s in summaries:
        for day, (a, b, c) in s.days.items():
            if day in use:
                total, sq, count = total + a, sq + b, count + c
    mean = total / np.maximum(count, 1)
    std = np.sqrt(np.maximum(sq / np.maximum(count, 1) - mean**2, 0.0))
    return mean, np.maximum(std, 1e-3)


def _attrs(
    p: PrepareConfig, grid: Grid, summaries: list[BlockSummary], files: list[Path], extra: dict[str, Any]
) -> dict[str, Any]:
    split_of = extra.pop("split_of")
    attrs = {
        **store_attrs(p, grid, split_of, sum(s.dropped for s in summaries), files),
        "prepare_engine": "dask.distributed",
        "qpeflow_version": _version(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        **extra,
    }
    return {k: _plain(v) for k, v in attrs.items()}


def _template(n: int, p: PrepareConfig, attrs: dict[str, Any]) -> Any:
    """The store's variables for all ``n`` samples as lazy zeros: only metadata is written from it."""
    import dask.array as da
    import xarray as xr

    t, c, s = p.time_steps, len(p.channels), p.patch

    def zeros(shape: tuple[int, ...], dtype: Any) -> Any:
        return da.zeros(shape, dtype=dtype, chunks=(STORE_CHUNK, *shape[1:]))

    time_in = tuple(int(k * p.cadence_minutes) for k in range(-(t - 1), 1))
    ds = xr.Dataset(
        {
            "inputs": (("sample", "time_in", "channel", "y", "x"), zeros((n, t, c, s, s), np.float32)),
            "target": (("sample", "layer", "y", "x"), zeros((n, 1, s, s), np.float32)),
            "mask": (("sample", "y", "x"), zeros((n, s, s), bool)),
        },
        coords={
            "valid_time": ("sample", zeros((n,), "datetime64[ns]")),
            "event": ("sample", zeros((n,), "<U10")),
            "split": ("sample", zeros((n,), "<U5")),
            **{k: ("sample", zeros((n,), np.int64)) for k in ("row0", "col0", "draw")},
            "channel": ("channel", np.asarray(p.channels, dtype=str)),
            "time_in": ("time_in", np.asarray(time_in, np.int64)),
        },
        attrs=attrs,
    )
    ds["valid_time"].encoding = {"units": "seconds since 1970-01-01", "dtype": "int64"}
    return ds


def _block_dataset(z: dict[str, np.ndarray], p: PrepareConfig, split_of: dict[str, str], mean, std) -> Any:  # type: ignore[no-untyped-def]
    times = z["valid_time"].astype("datetime64[s]")
    day = np.array([str(t) for t in times.astype("datetime64[D]")], "<U10")
    time_in = tuple(int(k * p.cadence_minutes) for k in range(-(p.time_steps - 1), 1))
    arrays = StoreArrays(
        z["inputs"], z["target"], z["mask"], times, day, np.array([split_of[d] for d in day], "<U5"),
        z["row0"], z["col0"], tuple(p.channels), time_in,
    )  # fmt: skip
    return _dataset(arrays, mean, std, {}).drop_vars(["channel", "time_in"])


def _assemble(
    out: Path,
    work: Path,
    summaries: list[BlockSummary],
    files: list[Path],
    p: PrepareConfig,
    block_files: int,
    overwrite: bool,
) -> StoreSummary:
    """Split, normalisation, metadata once, then one zarr region per block; swapped in when verified."""
    import zarr

    grid = _check_blocks(summaries, files, p, block_files)
    split_of = split_by_day([d for s in summaries for d in s.sample_days], p.val_fraction, p.test_fraction)
    mean, std = _statistics(summaries, split_of, len(p.channels))
    n = sum(s.samples for s in summaries)
    no_train = not any(split_of[d] == "train" for s in summaries for d in s.days)
    extra = {"split_of": split_of, "block_files": block_files, "ir_mean": mean.tolist(), "ir_std": std.tolist()}
    extra["normalisation_from"] = "all" if no_train else "train"
    attrs = _attrs(p, coarse_grid(grid, _factor(grid, p.resolution_km, str(files[0]))), summaries, files, extra)
    with atomic_dir(out) as tmp:
        _template(n, p, attrs).to_zarr(tmp, mode="w", compute=False, zarr_format=2, consolidated=False)
        offset = 0
        for s in (s for s in summaries if s.samples):
            block = _block_dataset(load_block(work, s.index), p, split_of, mean, std)
            region = {"sample": slice(offset, offset + s.samples)}
            block.to_zarr(tmp, region=region, mode="r+", zarr_format=2, consolidated=False, write_empty_chunks=True)
            offset += s.samples
        zarr.consolidate_metadata(str(tmp), zarr_format=2)
        verify_store(tmp)
        check_store_target(out, overwrite)  # a folder that appeared meanwhile is not replaced either
    counts = {
        name: sum(c for s in summaries for d, c in s.sample_days.items() if split_of[d] == name) for name in SPLITS
    }
    seen = sum(s.seen for s in summaries)
    wet = sum(s.wet for s in summaries) / seen if seen else 0.0
    log.info("archive prepare: %d samples in %d block(s)", n, len(summaries))
    return StoreSummary(out, counts, wet, tuple(mean.tolist()), tuple(std.tolist()))
