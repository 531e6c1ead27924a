"""Synthetic, contract-compliant predictions files for tests and benchmarks (no model needed).

``make_predictions(path, kind)`` writes a CF-netCDF with ``rain_rate`` (member,
time, y, x), ``truth``, ``mask``, ``ir_108`` and the attributes of the
predictions contract (BRIEF / DESIGN.md). The truth is a synthetic rain field:
multi-scale Gaussian-filtered noise (scales 1-8 px) through a power law above a
level, about 30 % wet with cells to 50+ mm/h. The members are

- ``perfect``: copies of the truth;
- ``smooth``: the truth blurred with a Gaussian of 3 px (best MAE, too few
  extremes, little small-scale power);
- ``shifted``: the truth shifted by a random offset of 4-10 px per member and
  field (rain in the wrong place: worst CSI, members disagree);
- ``noisy``: the truth times independent log-normal noise per member and pixel.

A 6-px strip along the right edge is masked (mask 0, truth NaN).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import xarray as xr
from scipy import ndimage

KINDS = ("perfect", "smooth", "shifted", "noisy")
MASKED_COLUMNS = 6


def synthetic_rain(n_time: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """(n_time, size, size) float32 rain rate, mm/h: multi-scale smooth noise through a power law."""
    z = np.zeros((n_time, size, size))
    for sigma, weight in ((1.0, 0.25), (3.0, 0.5), (8.0, 1.0)):
        layer = ndimage.gaussian_filter(rng.standard_normal((n_time, size, size)), sigma=(0, sigma, sigma), mode="wrap")
        z += weight * layer / layer.std()
    z /= z.std()
    return (12.0 * np.maximum(z - 0.5, 0.0) ** 1.6).astype(np.float32)


def _shift(field: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Shift a (Y, X) field by (dy, dx) px, filling with 0 (no wrap-around)."""
    out = np.zeros_like(field)
    ny, nx = field.shape
    out[max(dy, 0) : ny + min(dy, 0), max(dx, 0) : nx + min(dx, 0)] = field[
        max(-dy, 0) : ny - max(dy, 0), max(-dx, 0) : nx - max(dx, 0)
    ]
    return out


def _members(truth: np.ndarray, kind: str, members: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "perfect":
        return np.repeat(truth[None], members, axis=0)
    if kind == "smooth":
        return np.repeat(ndimage.gaussian_filter(truth, sigma=(0, 3, 3))[None], members, axis=0)
    if kind == "noisy":
        return (truth[None] * rng.lognormal(0.0, 0.5, (members,) + truth.shape)).astype(np.float32)
    if kind == "shifted":
        out = np.empty((members,) + truth.shape, dtype=np.float32)
        for m in range(members):
            for t in range(truth.shape[0]):
                dy, dx = rng.integers(4, 11, size=2) * rng.choice([-1, 1], size=2)
                out[m, t] = _shift(truth[t], int(dy), int(dx))
        return out
    raise ValueError(f"unknown kind {kind!r}; one of {KINDS}")


def brightness_temperature(truth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A crude IR_108 (K) that cools with rain: 285 K clear, about 215 K over heavy rain, plus noise."""
    cold = 1.0 - np.exp(-np.nan_to_num(truth) / 4.0)
    bt = 285.0 - 70.0 * ndimage.gaussian_filter(cold, sigma=(0, 2, 2)) + rng.normal(0.0, 1.5, truth.shape)
    return bt.astype(np.float32)


def make_predictions(
    path: str | Path, kind: str = "perfect", n_time: int = 16, members: int = 4, size: int = 64, seed: int = 0
) -> Path:
    """Write a synthetic predictions netCDF of ``kind`` (see module docstring) to ``path``; returns the path."""
    rng = np.random.default_rng(seed)
    truth = synthetic_rain(n_time, size, rng)
    bt = brightness_temperature(truth, rng)
    ens = _members(truth, kind, members, np.random.default_rng(seed + 1000))
    mask = np.ones(truth.shape, dtype=np.int8)
    mask[:, :, size - MASKED_COLUMNS :] = 0
    truth = np.where(mask == 1, truth, np.nan).astype(np.float32)
    times = np.datetime64("2021-06-01T12:00:00", "ns") + np.arange(n_time) * np.timedelta64(15, "m")
    ds = xr.Dataset(
        {
            "rain_rate": (
                ("member", "time", "y", "x"),
                ens.astype(np.float32),
                {"units": "mm h-1", "long_name": "rain rate"},
            ),
            "truth": (("time", "y", "x"), truth, {"units": "mm h-1"}),
            "mask": (("time", "y", "x"), mask, {"long_name": "1 where the radar saw"}),
            "ir_108": (("time", "y", "x"), bt, {"units": "K"}),
        },
        coords={
            "valid_time": ("time", times),
            "event": ("time", np.array([f"ev{t // 8}" for t in range(n_time)])),
            "sample": ("time", np.arange(n_time)),
            "member": ("member", np.arange(members)),
            "y": ("y", 4000.0 * (size - 0.5 - np.arange(size))),
            "x": ("x", 4000.0 * (0.5 + np.arange(size))),
        },
        attrs={
            "method": kind,
            "nfe": 1,
            "steps": 1,
            "sampler": "none",
            "seeds": list(range(members)),
            "checkpoint": "",
            "data_source": "synthetic",
            "infrared": "simulated",
            "seconds_per_member": [0.5] * members,
            "events": json.dumps(sorted({f"ev{t // 8}" for t in range(n_time)})),
            "qpeflow_version": "test",
        },
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    ds.to_netcdf(tmp)
    os.replace(tmp, path)
    return path


def make_ir_baseline_predictions(path: str | Path, source: str | Path, method: str = "gpi") -> Path:
    """A predictions file as ``qpeflow predict`` writes it for an IR baseline, from ``source``'s IR and truth.

    One member computed from ``source``'s ``ir_108`` (K) with the literature formula
    (:data:`qpeflow.methods.baselines.BASELINES`); same truth, mask, coordinates;
    attributes ``method``, ``nfe = 0``, ``steps = 0``, one seed.
    """
    from qpeflow.methods.baselines import BASELINES

    ds = xr.load_dataset(source)
    rain = np.asarray(BASELINES[method](ds["ir_108"].transpose("time", "y", "x").values.astype(np.float64)))
    ds = ds.drop_vars("rain_rate").drop_dims("member", errors="ignore")
    ds["rain_rate"] = (("member", "time", "y", "x"), rain[None].astype(np.float32), {"units": "mm h-1"})
    ds = ds.assign_coords(member=("member", [0]))
    ds.attrs.update(method=method, nfe=0, steps=0, sampler="none", seeds=[0], seconds_per_member=[0.001])
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    ds.to_netcdf(tmp)
    os.replace(tmp, path)
    return path
