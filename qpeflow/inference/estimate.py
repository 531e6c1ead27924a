"""Rain maps from SEVIRI files with a trained checkpoint (``qpeflow estimate``).

Pipeline: load the checkpoint (:func:`qpeflow.inference.estimator.load_estimator`) -> read the
satellite files and pick the slots ``t0 + time_in`` the model was trained on
(:mod:`qpeflow.io.sat_sequence`; every bad input is a one-line error naming the
file, raised before anything is written) -> choose the target grid and coarsen
it to the training resolution (:mod:`qpeflow.io.target_grid`) -> regrid every
channel of every slot to it -> normalise with the checkpoint's statistics
(``estimator.ir_norm``, :class:`~qpeflow.data.transforms.IRNorm`) -> estimate member by member, every network
call over overlapping tiles (:mod:`qpeflow.inference.tiled_net`) -> CF-1.8 netCDF written
atomically (:mod:`qpeflow.inference.rain_netcdf`) and an optional PNG quick-look
(:mod:`qpeflow.plots.quicklook`).

Member m samples the whole domain with the one seeding rule of
:mod:`qpeflow.inference.driver` (the scene is sample 0); the sampler's state and noise are full-domain fields and only
each network evaluation is tiled and blended (:mod:`qpeflow.inference.tiled_net`), so a
generative member has no seam where tiles overlap.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from qpeflow.errors import QpeflowError
from qpeflow.inference.driver import SEEDING_RULE, Members, run_members
from qpeflow.inference.estimator import Estimator, load_estimator
from qpeflow.inference.rain_netcdf import RainMaps, write_rain_netcdf
from qpeflow.inference.tiled_net import TiledNet, Tiling, tiled_mean
from qpeflow.io.checksum import sha256_file
from qpeflow.io.field import Field
from qpeflow.io.grid import Grid
from qpeflow.io.sat_sequence import Frame, Reader, checked_sequence, platform_of, read_frames
from qpeflow.io.target_grid import target_grid

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EstimateOptions:
    """Choices of ``qpeflow estimate`` (defaults = the CLI's)."""

    grid: str = "opera"  # opera | native | path of a YAML grid file (qpeflow.io.target_grid)
    members: int = 4
    steps: int = 8
    sampler: str = ""  # "" = the method's default
    seed: int = 0
    tile: int = 64
    overlap: int = 16
    batch: int = 8  # tiles per network call
    resolution_km: float | None = None  # None: the checkpoint's training resolution
    bbox: tuple[float, float, float, float] | None = None  # lon_min, lat_min, lon_max, lat_max
    tolerance_minutes: float = 2.0  # slot time vs t0 + time_in
    valid_time: str | None = None  # t0, e.g. "2023-12-20T12:15"; None: the latest slot given
    device: str = "auto"


@dataclass(frozen=True)
class Inputs:
    """The checked, regridded, normalised input of one estimate."""

    cond: np.ndarray  # (T, C, ny, nx) float32 normalised, NaN without data
    grid: Grid
    frames: tuple[Frame, ...]
    ir_108: np.ndarray | None  # (ny, nx) K at t0


def _regrid(field: Field, grid: Grid) -> np.ndarray:
    """``field`` on ``grid`` (ny, nx) float32: block mean when coarsening, bilinear when refining."""
    if field.grid == grid:
        return field.data.astype(np.float32)
    from qpeflow.io.regrid import regrid

    method = "mean" if grid.dx >= field.grid.dx else "bilinear"
    return regrid(field, grid, method=method).data.astype(np.float32)


def _parse_time(text: str | None) -> np.datetime64 | None:
    if text is None:
        return None
    try:
        return np.datetime64(text.rstrip("Z"), "s")
    except ValueError:
        raise QpeflowError(f"--time {text!r}: expected an ISO time such as 2023-12-20T12:15") from None


def prepare_inputs(frames: Sequence[Frame], estimator: Estimator, options: EstimateOptions) -> Inputs:
    """Check the sequence against the checkpoint, choose the grid, regrid and normalise."""
    channels, time_in = list(estimator.channels), [int(t) for t in estimator.time_in]
    t0 = _parse_time(options.valid_time)
    chosen = checked_sequence(
        frames, channels, time_in, float(estimator.cadence_minutes), options.tolerance_minutes, t0
    )
    last = chosen[-1].fields[channels[0]]
    resolution = options.resolution_km
    if resolution is None:
        resolution = float(estimator.provenance.get("resolution_km", 0.0) or 0.0)
    grid = target_grid(options.grid, last.grid, np.isfinite(last.data), resolution, options.bbox, last.source)
    bt = np.empty((len(chosen), len(channels), *grid.shape), np.float32)
    for t, frame in enumerate(tqdm(chosen, desc="regrid", unit="slot", leave=False)):
        for c, name in enumerate(channels):
            bt[t, c] = _regrid(frame.fields[name], grid)
    cond = estimator.ir_norm.forward(bt).astype(np.float32)
    ir = chosen[-1].fields.get("IR_108")
    ir_108 = _regrid(ir, grid) if ir is not None else None
    return Inputs(cond, grid, tuple(chosen), ir_108)


def estimate_members(estimator: Estimator, cond: np.ndarray, options: EstimateOptions) -> Members:
    """Members of rain (M, 1, ny, nx) mm/h over the whole domain (the driver's seeding rule, sample key 0).

    The sampler's state and noise are full-domain fields; only each network
    evaluation, and each whole-cond callable of the method (a residual's mean, a
    flow's centre), is tiled (:mod:`qpeflow.inference.tiled_net`).
    """
    tiling = Tiling(options.tile, options.overlap, options.batch)
    tiled = estimator.with_parts(
        TiledNet(estimator.net, tiling) if estimator.net is not None else None,
        estimator.method.map_cond_fns(lambda fn: tiled_mean(fn, tiling)),
    )
    full = torch.from_numpy(cond)[None].to(estimator.device)  # (1, T, C, H, W), NaN where no data
    return run_members(tiled, full, [0], options.members, options.steps, options.seed, options.sampler)


def provenance(
    checkpoint: str | Path, estimator: Any, inputs: Inputs, options: EstimateOptions, nfe: int, seconds: list[float]
) -> dict[str, Any]:
    """Global attributes: checkpoint, its training data, sampling settings, input files."""
    from qpeflow.checkpoint import qpeflow_version

    train = dict(estimator.provenance)
    infrared = str(train.get("infrared", "unknown"))
    method = str(getattr(estimator, "label", "unknown"))  # unet | ddpm | cfm, "_residual" appended if so
    attrs: dict[str, Any] = {
        "source": "qpeflow estimate from Meteosat SEVIRI infrared",
        "method": method,
        "checkpoint": str(checkpoint),
        "checkpoint_sha256": sha256_file(checkpoint),
        "data_source": str(train.get("source", "unknown")),
        "infrared": infrared,
        "training_data": train,
        "nfe": nfe,
        "steps": options.steps,
        "sampler": options.sampler or "default",
        "seeds": [int(options.seed)],
        "seeding": SEEDING_RULE,
        "members": options.members,
        "seconds_per_member": seconds,
        "tile": options.tile,
        "overlap": options.overlap,
        "channels": list(estimator.channels),
        "time_in": [int(t) for t in estimator.time_in],
        "input_files": [f for frame in inputs.frames for f in frame.files],
        "input_times": [str(frame.valid_time) for frame in inputs.frames],
        "platform": platform_of(next(iter(inputs.frames[-1].fields.values()))),
        "resolution_m": float(inputs.grid.dx),
        **inputs.grid.to_attrs(),
        "qpeflow_version": qpeflow_version(),
        "history": f"{np.datetime64('now')}Z qpeflow estimate",
        "comment": "No radar truth exists for this scene: this is an estimate, not an observation.",
    }
    if infrared == "simulated":
        attrs["comment"] += " The model learnt from radar rain paired with SIMULATED infrared."
    return attrs


def estimate_files(
    checkpoint: str | Path,
    sat_paths: Sequence[str | Path],
    out: str | Path,
    options: EstimateOptions = EstimateOptions(),
    png: str | Path | None = None,
    reader: Reader | None = None,
) -> Path:
    """Run the whole pipeline (module docstring) and return the netCDF path.

    Raises:
        QpeflowError: any bad input (checkpoint, satellite files, grid); nothing is written then.
    """
    from qpeflow.training.device import pick_device

    if options.members < 1 or options.steps < 1:
        raise QpeflowError(f"--members and --steps must be >= 1, got {options.members} and {options.steps}")
    device = pick_device(options.device)
    estimator = load_estimator(checkpoint, device)
    inputs = prepare_inputs(read_frames(sat_paths, estimator.channels, reader), estimator, options)
    log.info(
        "estimating on a %d x %d grid (%.1f km), %d member(s), %d step(s)",
        *inputs.grid.shape,
        inputs.grid.dx / 1000,
        options.members,
        options.steps,
    )
    members = estimate_members(estimator, inputs.cond, options)
    rain, nfe, seconds = np.clip(members.rain[:, 0], 0.0, None), members.nfe, list(members.seconds)
    attrs = provenance(estimator.checkpoint, estimator, inputs, options, nfe, seconds)
    maps = RainMaps(rain, inputs.grid, inputs.frames[-1].valid_time, inputs.ir_108, attrs)
    path = write_rain_netcdf(maps, out)
    if png is not None:
        from qpeflow.plots.quicklook import write_quicklook

        write_quicklook(maps, png)
    finite = rain[np.isfinite(rain)]
    log.info(
        "wrote %s: max %.1f mm/h, wet (>0.1 mm/h) fraction %.3f, NFE %d, %.1f s per member",
        path,
        float(finite.max()) if finite.size else float("nan"),
        float((finite > 0.1).mean()) if finite.size else float("nan"),
        nfe,
        float(np.mean(seconds)),
    )
    return path
