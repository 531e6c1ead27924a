"""A trained checkpoint over a store split -> CF-netCDF predictions (DESIGN.md, "Predictions").

File layout: ``rain_rate`` (member, time, y, x) mm/h, ``truth`` (time, y, x) mm/h,
``mask`` (time, y, x) int8 (1 = radar saw), ``ir_108`` (time, y, x) K at the valid
time; coordinates ``valid_time``, ``event``, ``sample``, ``row0``/``col0`` (time),
``member``; attributes method, nfe, steps, sampler, seeds, checkpoint, data_source,
infrared, seconds_per_member, events, qpeflow_version.

Members follow the one seeding rule of :mod:`qpeflow.inference.driver`: member m
of store sample k draws from ``SeedSequence([seed, m, k])``, so it is reproduced
from the seed whatever the batch size, thinning or device. A literature baseline
(``--baseline gpi``) writes the same file with one member and nfe 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from tqdm import tqdm

from qpeflow.checkpoint import qpeflow_version
from qpeflow.data.dataset import StoreDataset, collate, open_store
from qpeflow.data.transforms import IRNorm
from qpeflow.errors import QpeflowError, input_error
from qpeflow.inference.driver import SEEDING_RULE, run_members
from qpeflow.inference.estimator import Estimator, baseline_estimator, load_estimator
from qpeflow.io.predictions import write_predictions


@dataclass(frozen=True)
class PredictResult:
    """path: the netCDF written; members, samples: its sizes; nfe per member; seconds_per_member."""

    path: Path
    members: int
    samples: int
    nfe: int
    seconds_per_member: tuple[float, ...]


def _run_members(
    est: Estimator, data: StoreDataset, members: int, steps: int, seed: int, sampler: str, batch_size: int
) -> tuple[np.ndarray, int, list[float]]:
    """rain (M, N, H, W) mm/h, nfe, seconds per member (summed over batches)."""
    n, (ny, nx) = len(data), data.size
    rain = np.zeros((members, n, ny, nx), dtype=np.float32)
    seconds, nfe = [0.0] * members, 0
    for s in tqdm(range(0, n, batch_size), desc="predict", unit="batch"):
        batch = collate([data[i] for i in range(s, min(s + batch_size, n))])
        out = run_members(est, batch.cond, batch.index.tolist(), members, steps, seed, sampler)
        rain[:, s : s + batch.cond.shape[0]] = out.rain
        seconds = [a + b for a, b in zip(seconds, out.seconds)]
        nfe = out.nfe
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


def _baseline_for(name: str, store: str | Path, device: str) -> Estimator:
    """A literature baseline fed with ``store``'s own inputs and normalisation."""
    ds = open_store(store)
    channels = tuple(str(c) for c in ds["channel"].values)
    try:
        norm = IRNorm.from_attrs(ds.attrs)
    except QpeflowError as exc:
        raise input_error(store, str(exc)) from None
    return baseline_estimator(name, norm, channels, int(ds.attrs["cadence_minutes"]), device)


def predict(
    ckpt: str | Path | None,
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
    baseline: str | None = None,
) -> PredictResult:
    """Estimate ``members`` fields for every sample of ``split`` and write the predictions file.

    ``ckpt``: a trained checkpoint; or None with ``baseline`` a key of
    :data:`qpeflow.methods.BASELINES` (one member, nfe 0, the store's own inputs).

    ``max_samples`` keeps at most that many samples, evenly spaced over the split
    (same samples for every checkpoint, so files stay comparable).

    ``members``, ``steps`` and ``sampler`` left as None come from the checkpoint's
    ``sample`` config section (sampler ``""``: the method's default).
    """
    if (ckpt is None) == (baseline is None):
        raise QpeflowError("predict: give either a checkpoint or a baseline name")
    est = load_estimator(ckpt, device) if ckpt is not None else _baseline_for(str(baseline), store, device)
    if est.net is None:
        members, steps = 1, 1
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
        "steps": int(steps) if nfe > 0 else 0,
        "sampler": (sampler or "default") if nfe > 0 else "none",
        "seeds": [int(seed)],
        "seeding": SEEDING_RULE,
        "checkpoint": est.checkpoint,
        "checkpoint_step": est.step,
        "data_source": str(data.attrs.get("source", "")),
        "infrared": str(data.attrs.get("infrared", "")),
        "store": str(store),
        "split": split,
        "resolution_km": float(data.attrs.get("resolution_km", 0.0)),
        "seconds_per_member": [round(s, 4) for s in seconds],
        "events": json.dumps(_events(data)),
        "train_data_source": str(est.provenance.get("source", "")) if est.provenance else "none (a formula)",
        "qpeflow_version": qpeflow_version(),
    }
    path = write_predictions(_dataset(est, data, rain, attrs), out)
    return PredictResult(path, members, len(data), nfe, tuple(seconds))
