"""Time blocks of a sevmos archive: the unit of work, of memory and of resumption for :mod:`archive_prepare`.

A block is ``block_files`` consecutive files (in time order); its task reads them and the
``time_steps - 1`` files before them (so windows that straddle the block's start are formed
exactly once, by the block holding their last file), and writes

* ``blocks/NNNNN.npz``: the block's patches, brightness temperature still in K (``inputs``
  (n, T, C, p, p) float32, ``target`` (n, p, p) mm/h, ``mask``, ``valid_time`` (n,) s since 1970,
  ``row0``, ``col0``);
* ``blocks/NNNNN.json``: its summary: sample count, complete / dropped windows, the first file
  after a time gap, the 1 km grid, per-day channel sums for the normalisation, the wet pixel count,
  and the npz's sha256,

each through :func:`qpeflow.io.atomic.atomic_path`, the npz first: a block whose json exists and
whose npz still has the recorded sha256 is complete and verified (:func:`finished_block`). The
random generator of block ``b`` is ``default_rng([seed, b])``: a block's patches do not depend on
which worker ran it, in what order, or whether the run was resumed.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qpeflow.config import PrepareConfig
from qpeflow.data.pairs import cut_patches
from qpeflow.data.sevmos_prepare import coarse_frame
from qpeflow.errors import input_error
from qpeflow.io.atomic import atomic_path, write_text
from qpeflow.io.checksum import sha256_file

BLOCK_ARRAYS = ("inputs", "target", "mask", "valid_time", "row0", "col0")
#: netCDF4/HDF5 is not thread-safe (two threads reading at once crash the process): a worker with
#: several threads reads one file at a time; the parallelism is in processes (one thread each by default)
_NETCDF_LOCK = threading.Lock()


@dataclass(frozen=True)
class BlockPlan:
    """Block ``index``: its own files (windows end there) after ``context`` earlier files."""

    index: int
    files: tuple[str, ...]
    context: int


@dataclass(frozen=True)
class BlockSummary:
    """What a block task returns (and keeps in its json); plain types only.

    Attributes:
        days: UTC day -> [channel sums (C,), sums of squares (C,), finite counts (C,)] of the block's
            inputs in K, for the train-split normalisation.
        wet, seen: target pixels >= 0.1 mm/h and seen pixels (mask True).
    """

    index: int
    samples: int
    complete: int
    dropped: int
    gap: str | None
    grid: dict[str, Any]
    days: dict[str, list[list[float]]]
    sample_days: dict[str, int]
    wet: int
    seen: int
    sha256: str


def plan_blocks(files: list[Path], block_files: int, time_steps: int) -> list[BlockPlan]:
    """Cut the time-ordered ``files`` into blocks of ``block_files``, each with its window context."""
    plans = []
    for index, start in enumerate(range(0, len(files), block_files)):
        first = max(0, start - (time_steps - 1))
        own = [str(f) for f in files[first : start + block_files]]
        plans.append(BlockPlan(index, tuple(own), start - first))
    return plans


def block_paths(work: Path, index: int) -> tuple[Path, Path]:
    """The npz and json of block ``index`` under the work folder."""
    return work / "blocks" / f"{index:05d}.npz", work / "blocks" / f"{index:05d}.json"


def finished_block(work: Path, index: int) -> BlockSummary | None:
    """The summary of block ``index`` if it was written completely and its npz is intact, else None."""
    npz, meta = block_paths(work, index)
    if not (npz.is_file() and meta.is_file()):
        return None
    try:
        summary = BlockSummary(**json.loads(meta.read_text()))
    except (ValueError, TypeError):
        return None
    return summary if sha256_file(npz) == summary.sha256 else None


def load_block(work: Path, index: int) -> dict[str, np.ndarray]:
    """The arrays of block ``index`` (see module docstring)."""
    with np.load(block_paths(work, index)[0]) as z:
        return {k: z[k] for k in BLOCK_ARRAYS}


def _day_sums(inputs: np.ndarray, times: np.ndarray) -> tuple[dict[str, list[list[float]]], dict[str, int]]:
    """Per UTC day: channel sums, sums of squares and finite counts of inputs (n, T, C, p, p) K."""
    days = np.array([str(t) for t in times.astype("datetime64[s]").astype("datetime64[D]")])
    sums: dict[str, list[list[float]]] = {}
    counts: dict[str, int] = {}
    for day in sorted(set(days)):
        x = inputs[days == day].astype(np.float64)
        ok = np.isfinite(x)
        x = np.where(ok, x, 0.0)
        sums[day] = [x.sum(axis=(0, 1, 3, 4)).tolist(), (x * x).sum(axis=(0, 1, 3, 4)).tolist()]
        sums[day].append(ok.sum(axis=(0, 1, 3, 4)).astype(float).tolist())
        counts[day] = int((days == day).sum())
    return sums, counts


def _windows(plan: BlockPlan, p: PrepareConfig) -> tuple[list[Any], int, int, str | None, dict[str, Any]]:
    """Patches of every complete window ending at one of the block's own files (sevmos_prepare rules)."""
    rng = np.random.default_rng([p.seed, plan.index])
    recent: deque[tuple[np.datetime64, np.ndarray]] = deque(maxlen=p.time_steps)
    step = np.timedelta64(p.cadence_minutes * 60, "s")
    parts, complete, dropped, gap, grid = [], 0, 0, None, None
    for i, name in enumerate(plan.files):
        with _NETCDF_LOCK:
            time, g, bt, rain = coarse_frame(Path(name), p)
        if grid is not None and g != grid:
            raise input_error(
                name, f"grid {g.shape} at x0 {g.x0:.0f} m, y0 {g.y0:.0f} m differs from {plan.files[0]}'s"
            )
        grid = g
        if recent and time - recent[-1][0] != step:
            gap = gap or (name if i >= plan.context else None)
            recent.clear()
        recent.append((time, bt))
        if i < plan.context:
            continue
        if len(recent) == p.time_steps:
            complete += 1
            parts.append((time, cut_patches(np.stack([b for _, b in recent]), rain, p.patch, p.dry_keep_fraction, rng)))
        elif plan.index > 0 or i >= p.time_steps - 1:  # not the archive's start: a slot before this one is missing
            dropped += 1
    assert grid is not None
    return [(t, q) for t, q in parts if len(q.rain)], complete, dropped, gap, grid.to_attrs()


def _arrays(parts: list[Any], p: PrepareConfig) -> dict[str, np.ndarray]:
    if not parts:
        c = len(p.channels)
        return {
            "inputs": np.zeros((0, p.time_steps, c, p.patch, p.patch), np.float32),
            "target": np.zeros((0, p.patch, p.patch), np.float32),
            "mask": np.zeros((0, p.patch, p.patch), bool),
            "valid_time": np.zeros(0, np.int64),
            "row0": np.zeros(0, np.int64),
            "col0": np.zeros(0, np.int64),
        }
    times = [np.datetime64(t, "s").astype(np.int64) for t, q in parts for _ in range(len(q.rain))]
    return {
        "inputs": np.concatenate([q.bt for _, q in parts]).astype(np.float32),
        "target": np.concatenate([q.rain for _, q in parts]).astype(np.float32),
        "mask": np.concatenate([q.mask for _, q in parts]),
        "valid_time": np.array(times, np.int64),
        "row0": np.concatenate([q.row0 for _, q in parts]),
        "col0": np.concatenate([q.col0 for _, q in parts]),
    }


def run_block(plan: BlockPlan, p: PrepareConfig, work: str) -> BlockSummary:
    """The task of one block (runs on a dask worker): read, cut, write npz then json atomically."""
    parts, complete, dropped, gap, grid = _windows(plan, p)
    arrays = _arrays(parts, p)
    npz, meta = block_paths(Path(work), plan.index)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    with atomic_path(npz) as tmp:
        tmp.write_bytes(buf.getbuffer())
    days, sample_days = _day_sums(arrays["inputs"], arrays["valid_time"].astype("datetime64[s]"))
    target, mask = arrays["target"], arrays["mask"] & np.isfinite(arrays["target"])
    summary = BlockSummary(
        plan.index,
        int(len(target)),
        complete,
        dropped,
        gap,
        grid,
        days,
        sample_days,
        int((target[mask] >= 0.1).sum()),
        int(mask.sum()),
        hashlib.sha256(buf.getbuffer()).hexdigest(),
    )
    write_text(meta, json.dumps(asdict(summary)))
    return summary
