"""A trained checkpoint over a store split -> CF-netCDF predictions (DESIGN.md, "Predictions").

File layout: ``rain_rate`` (member, time, y, x) mm/h, ``truth`` (time, y, x) mm/h,
``mask`` (time, y, x) int8 (1 = radar saw), ``ir_108`` (time, y, x) K at the valid
time; coordinates ``valid_time``, ``event``, ``sample``, ``row0``/``col0`` (time),
``member``; attributes method, nfe, steps, sampler, seeds, checkpoint, data_source,
infrared, seconds_per_member, events, qpeflow_version.

Member m uses seed ``seed + m``: its b-th batch draws from a generator seeded with
``SeedSequence([seed + m, b])`` (as :mod:`qpeflow.inference.estimate` does per tile), so a
member is reproduced from its seed alone (for the same batch size).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from tqdm import tqdm

from qpeflow.build import Estimator, load_estimator
from qpeflow.checkpoint import qpeflow_version
from qpeflow.data.dataset import StoreDataset, collate
from qpeflow.errors import QpeflowError
from qpeflow.io.atomic import atomic_path


@dataclass(frozen=True)
class PredictResult:
    """path: the netCDF written; members, samples: its sizes; nfe per member; seconds_per_member."""

    path: Path
    members: int
    samples: int
    nfe: int
    seconds_per_member: tuple[float, ...]


def batch_seed(member_seed: int, batch: int) -> int:
    """Seed of member ``member_seed``'s generator for its ``batch``-th call."""
    return int(np.random.SeedSequence([int(member_seed), int(batch)]).generate_state(1)[0])


def _run_members(
    est: Estimator, data: StoreDataset, members: int, steps: int, seed: int, sampler: str, batch_size: int
) -> tuple[np.ndarray, int, list[float]]:
    """rain (M, N, H, W) mm/h, nfe, seconds per member (summed over batches)."""
    n, (ny, nx) = len(data), data.size
    rain = np.zeros((members, n, ny, nx), dtype=np.float32)
    seconds, nfe = [0.0] * members, 0
    starts = range(0, n, batch_size)
    for b, s in enumerate(tqdm(starts, desc="predict", unit="batch")):
        cond = collate([data[i] for i in range(s, min(s + batch_size, n))]).cond
        for m in range(members):
            t0 = time.perf_counter()
            out = est(cond, 1, steps, [batch_seed(seed + m, b)], sampler)
            seconds[m] += time.perf_counter() - t0
            rain[m, s : s + cond.shape[0]] = out.rain_mmh[0, :, 0]
            nfe = max(nfe, out.nfe)
    return rain, nfe, seconds


def _truth(data: StoreDataset) -> tuple[np.ndarray, np.ndarray]:
    """truth (N, H, W) mm/h (0 where masked), mask (N, H, W) int8."""
    pairs = [data.raw(i)[1:] for i in range(len(data))]
    mask = np.stack([p[1] for p in pairs]).astype(np.int8)
    truth = np.stack([np.nan_to_num(p[0][0]) for p in pairs]).astype(np.float32) * mask
    return truth, mask


def _events(data: StoreDataset) -> list[str]:
    return sorted({str(e) for e in data.coords.get("event", [])})


def _dataset(est: Estimator, data: StoreDataset, rain: np.ndarray, attrs: dict[str, Any]) -> xr.Dataset:
    truth, mask = _truth(data)
    dims = ("time", "y", "x")
    variables: dict[str, Any] = {
        "rain_rate": (
            ("member", *dims),
            rain,
            {"long_name": "estimated rain rate", "units": "mm h-1", "standard_name": "lwe_precipitation_rate"},
        ),
        "truth": (dims, truth, {"long_name": "radar rain rate", "units": "mm h-1"}),
        "mask": (
            dims,
            mask,
            {"long_name": "radar coverage", "flag_values": [0, 1], "flag_meanings": "not_observed observed"},
        ),
    }
    ir = data.ir_kelvin("IR_108")
    if ir is not None:
        variables["ir_108"] = (dims, ir, {"long_name": "IR_108 brightness temperature at the valid time", "units": "K"})
    coords: dict[str, Any] = {
        "member": ("member", np.arange(rain.shape[0], dtype=np.int32)),
        "sample": ("time", data.indices.astype(np.int64)),
        "y": ("y", np.arange(rain.shape[2], dtype=np.int32)),
        "x": ("x", np.arange(rain.shape[3], dtype=np.int32)),
    }
    for k, v in data.coords.items():
        coords[k] = ("time", v.astype(str) if k == "event" else v)
    return xr.Dataset(variables, coords=coords, attrs=attrs)


def write_netcdf(ds: xr.Dataset, out: str | Path) -> Path:
    """Write ``ds`` to ``out`` atomically (:mod:`qpeflow.io.atomic`)."""
    out = Path(out)
    with atomic_path(out) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", encoding={"rain_rate": {"zlib": True, "complevel": 4}})
    return out


def predict(
    ckpt: str | Path,
    store: str | Path,
    split: str = "test",
    members: int | None = None,
    steps: int | None = None,
    seed: int = 0,
    sampler: str | None = None,
    out: str | Path = "predictions.nc",
    batch_size: int = 32,
    device: str = "auto",
    max_samples: int | None = None,
) -> PredictResult:
    """Estimate ``members`` fields for every sample of ``split`` and write the predictions file.

    ``max_samples`` keeps at most that many samples, evenly spaced over the split
    (same samples for every checkpoint, so files stay comparable).

    ``members``, ``steps`` and ``sampler`` left as None come from the checkpoint's
    ``sample`` config section (sampler ``""``: the method's default).
    """
    est = load_estimator(ckpt, device)
    members = est.cfg.sample.members if members is None else members
    steps = est.cfg.sample.steps if steps is None else steps
    sampler = est.cfg.sample.sampler if sampler is None else sampler
    if members < 1 or steps < 1 or batch_size < 1:
        raise QpeflowError(
            f"predict: members, steps and batch size must be >= 1 (got {members}, {steps}, {batch_size})"
        )
    data = StoreDataset(
        store, replace(est.cfg.data, store=str(store)), split, crop=False, ir_stats=(est.ir_mean, est.ir_std)
    ).thin(max_samples)
    rain, nfe, seconds = _run_members(est, data, members, steps, seed, sampler, batch_size)
    attrs = {
        "Conventions": "CF-1.8",
        "title": f"qpeflow {est.label} rain-rate estimates",
        "method": est.label,
        "nfe": int(nfe),
        "steps": int(steps),
        "sampler": sampler or "default",
        "seeds": [seed + m for m in range(members)],
        "checkpoint": str(ckpt),
        "checkpoint_step": est.step,
        "data_source": str(data.attrs.get("source", "")),
        "infrared": str(data.attrs.get("infrared", "")),
        "store": str(store),
        "split": split,
        "resolution_km": float(data.attrs.get("resolution_km", 0.0)),
        "seconds_per_member": [round(s, 4) for s in seconds],
        "events": json.dumps(_events(data)),
        "train_data_source": str(est.provenance.get("source", "")),
        "qpeflow_version": qpeflow_version(),
    }
    path = write_netcdf(_dataset(est, data, rain, attrs), out)
    return PredictResult(path, members, len(data), nfe, tuple(seconds))
