"""A prepared store straight from a folder of the team's ``sevmos`` files (``--source sevmos``).

Each ``sevmos_YYYY-MM-DD_HHMMSS.nc`` already holds the 7 SEVIRI channels and the
Meteo-France rain on one 1 km grid (:mod:`qpeflow.io.sevmos`). Files are read once, in
time order, keeping only the last ``time_steps`` frames (memory bounded by the window):

* radar pixels whose quality is below ``prepare.quality_threshold`` (default 50 %) are masked;
* 1 km is coarsened to ``prepare.resolution_km`` by block means: rain by the area mean of
  the seen pixels (a block seen on less than half its area is masked), brightness temperature
  by the mean of its finite pixels;
* a window is ``time_steps`` consecutive files exactly ``cadence_minutes`` (15) apart; a window
  with a missing slot is dropped and counted;
* windows are cut into patches as for ``pairs`` (:func:`qpeflow.data.pairs.cut_patches`), split
  chronologically by UTC day; the store says ``infrared = "observed"``, ``source = "sevmos"``.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from qpeflow.config import PrepareConfig
from qpeflow.data.pairs import Patches, cut_patches, split_by_day
from qpeflow.data.store import StoreArrays, StoreSummary, write_store
from qpeflow.errors import QpeflowError, input_error
from qpeflow.io.grid import Grid
from qpeflow.io.quality import quality_mask
from qpeflow.io.sevmos import read_sevmos_file

log = logging.getLogger(__name__)
MIN_BLOCK_SEEN = 0.5  # a coarse rain pixel needs this fraction of its 1 km pixels seen


def sevmos_files(folder: str | Path) -> list[Path]:
    """The ``sevmos_*.nc`` files under ``folder`` (recursively), in name (= time) order."""
    root = Path(folder)
    if not root.is_dir():
        raise QpeflowError(f"{root}: not a folder")
    files = sorted((p for p in root.rglob("sevmos_*.nc") if p.is_file()), key=lambda p: p.name)
    if not files:
        raise QpeflowError(f"{root}: no sevmos_YYYY-MM-DD_HHMMSS.nc files")
    return files


def block_mean(a: np.ndarray, f: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the finite values of each ``f`` x ``f`` block of a (..., ny, nx) array, and the finite fraction.

    The array is cut to a multiple of ``f``; blocks without a finite value are NaN.
    """
    ny, nx = (a.shape[-2] // f) * f, (a.shape[-1] // f) * f
    blocks = a[..., :ny, :nx].reshape(*a.shape[:-2], ny // f, f, nx // f, f)
    seen = np.isfinite(blocks)
    total = np.where(seen, blocks, 0.0).sum(axis=(-3, -1))
    count = seen.sum(axis=(-3, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return (total / count).astype(np.float32), (count / (f * f)).astype(np.float32)


def coarse_grid(grid: Grid, f: int) -> Grid:
    ny, nx = grid.shape[0] // f, grid.shape[1] // f
    return Grid(grid.crs, grid.x0, grid.dx * f, grid.y0, grid.dy * f, (ny, nx))


def _factor(grid: Grid, resolution_km: float, path: str) -> int:
    f = int(round(resolution_km * 1000.0 / grid.dx))
    if f < 1 or abs(f * grid.dx - resolution_km * 1000.0) > 1e-3 * grid.dx:
        raise input_error(path, f"{grid.dx:g} m pixels cannot be block-averaged to {resolution_km:g} km")
    return f


def coarse_frame(path: Path, p: PrepareConfig) -> tuple[np.datetime64, Grid, np.ndarray, np.ndarray]:
    """One file -> (time, 1 km grid, coarse BT (C, ny, nx) K, coarse rain (ny, nx) mm/h, NaN masked)."""
    s = read_sevmos_file(path, p.channels)
    f = _factor(s.grid, p.resolution_km, str(path))
    rain = np.where(quality_mask(s.quality, p.quality_threshold), s.rain, np.nan)
    bt, _ = block_mean(np.stack([s.bt[c] for c in p.channels]), f)
    coarse, seen = block_mean(rain, f)
    return s.time, s.grid, bt, np.where(seen >= MIN_BLOCK_SEEN, coarse, np.nan)


@dataclass
class _Windows:
    """What one pass over the files gives: patches per complete window, the 1 km grid, windows dropped."""

    parts: list[tuple[np.datetime64, Patches]] = field(default_factory=list)
    grid: Grid | None = None
    dropped: int = 0
    gap: str | None = None  # the first file after a time gap
    complete: int = 0


def _windows(files: list[Path], p: PrepareConfig, rng: np.random.Generator, progress: bool = True) -> _Windows:
    """Read the files once, in order, keeping the last ``time_steps`` frames; cut every complete window."""
    recent: deque[tuple[np.datetime64, np.ndarray]] = deque(maxlen=p.time_steps)
    out = _Windows()
    step = np.timedelta64(p.cadence_minutes * 60, "s")
    for i, path in enumerate(tqdm(files, desc="sevmos", unit="file", leave=False, disable=not progress)):
        time, g, bt, rain = coarse_frame(path, p)
        if out.grid is not None and g != out.grid:
            raise input_error(path, f"grid {g.shape} at x0 {g.x0:.0f} m, y0 {g.y0:.0f} m differs from {files[0]}'s")
        out.grid = g
        if recent and time - recent[-1][0] != step:
            out.gap = out.gap or str(path)
            recent.clear()
        recent.append((time, bt))
        if len(recent) == p.time_steps:
            out.complete += 1
            bts = np.stack([b for _, b in recent])
            out.parts.append((time, cut_patches(bts, rain, p.patch, p.dry_keep_fraction, rng)))
        elif i >= p.time_steps - 1:  # not the archive's start: a slot before this one is missing
            out.dropped += 1
    return out


def prepare_sevmos(
    cfg: PrepareConfig, sat_dir: str | Path, out: str | Path, progress: bool = True, overwrite: bool = False
) -> StoreSummary:
    """Build the store ``out`` from the sevmos files under ``sat_dir`` (module docstring).

    Raises:
        QpeflowError: no files, a file missing a channel, grids that differ, or no complete window / patch.
    """
    files = sevmos_files(sat_dir)
    w = _windows(files, cfg, np.random.default_rng(cfg.seed), progress)
    parts = [(t, q) for t, q in w.parts if len(q.rain)]
    if not parts:
        if w.complete == 0:
            raise input_error(
                w.gap or files[-1],
                f"no {cfg.time_steps} consecutive sevmos files {cfg.cadence_minutes} min apart"
                + (" (a time gap before this file)" if w.gap else f" among {len(files)} file(s)"),
            )
        raise input_error(
            sat_dir, f"no {cfg.patch} x {cfg.patch} patch with enough radar coverage in {w.complete} window(s)"
        )
    log.info("sevmos: %d complete windows, %d dropped for a missing slot", w.complete, w.dropped)
    assert w.grid is not None
    grid = coarse_grid(w.grid, _factor(w.grid, cfg.resolution_km, str(files[0])))
    return _write(out, parts, grid, cfg, w.dropped, files, overwrite)


def _write(
    out: str | Path,
    parts: list[tuple[np.datetime64, Patches]],
    grid: Grid,
    p: PrepareConfig,
    dropped: int,
    files: list[Path],
    overwrite: bool = False,
) -> StoreSummary:
    day = [str(t.astype("datetime64[D]")) for t, q in parts for _ in range(len(q.rain))]
    split_of = split_by_day(day, p.val_fraction, p.test_fraction)
    time_in = tuple(int(k * p.cadence_minutes) for k in range(-(p.time_steps - 1), 1))
    arrays = StoreArrays(
        inputs=np.concatenate([q.bt for _, q in parts]).astype(np.float32),
        target=np.concatenate([q.rain for _, q in parts]).astype(np.float32),
        mask=np.concatenate([q.mask for _, q in parts]),
        valid_time=np.array([t for t, q in parts for _ in range(len(q.rain))], "datetime64[s]"),
        event=np.array(day),
        split=np.array([split_of[d] for d in day]),
        row0=np.concatenate([q.row0 for _, q in parts]),
        col0=np.concatenate([q.col0 for _, q in parts]),
        channels=tuple(p.channels),
        time_in=time_in,
    )
    return write_store(out, arrays, store_attrs(p, grid, split_of, dropped, files), overwrite=overwrite)


def store_attrs(
    p: PrepareConfig, grid: Grid, split_of: dict[str, str], dropped: int, files: list[Path]
) -> dict[str, Any]:
    """The attributes of a store built from sevmos files (serial or archive-scale): observed
    infrared, the split of every day, the windows dropped for a missing slot, the files."""
    return {
        "source": "sevmos",
        "infrared": "observed",
        "simulator_version": "",
        "simulator_params": "{}",
        "cadence_minutes": p.cadence_minutes,
        "resolution_km": grid.dx / 1000.0,
        "quality_threshold": p.quality_threshold,
        "events": json.dumps([{"event": d, "split": s} for d, s in sorted(split_of.items())]),
        "windows_dropped_missing_slot": dropped,
        "satellite_files": json.dumps([str(f) for f in files]),
        **grid.to_attrs(),
    }
