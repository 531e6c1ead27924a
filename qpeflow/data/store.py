"""The prepared-store writer shared by every source (synthetic, radar, opera, pairs).

Layout (DESIGN.md "File contracts", names fixed): ``inputs`` (sample, time_in,
channel, y, x) float32 normalised IR, ``target`` (sample, layer=1, y, x) float32
mm/h (0 where masked, never NaN), ``mask`` (sample, y, x) bool; coords
``valid_time``, ``event``, ``split``, ``channel``, ``time_in``, ``row0``, ``col0``;
attrs ``ir_mean``/``ir_std`` (K, per channel, from the train split) and provenance.

Usage::

    arrays = StoreArrays(inputs_k, target, mask, valid_time, event, split, row0, col0,
                         channels, time_in)
    summary = write_store("out.zarr", arrays, attrs={"source": "pairs", "infrared": "observed", ...})
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qpeflow.errors import QpeflowError
from qpeflow.io.atomic import atomic_dir

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class StoreArrays:
    """Everything per sample (N samples, T input frames, C channels, H x W patches).

    Attributes:
        inputs: (N, T, C, H, W) float32 brightness temperature in K (NOT normalised;
            :func:`write_store` normalises); NaN allowed only where the IR is missing.
        target: (N, H, W) or (N, 1, H, W) rain rate mm/h; NaN is written as 0 and masked.
        mask: (N, H, W) bool, True where the radar saw.
        valid_time: (N,) datetime64.
        event: (N,) str event id.
        split: (N,) str in {"train", "val", "test"}, assigned by event.
        row0, col0: (N,) int patch origin in the event grid.
        channels: C channel names.
        time_in: T offsets in minutes relative to the valid time, e.g. (-45, -30, -15, 0).
    """

    inputs: np.ndarray
    target: np.ndarray
    mask: np.ndarray
    valid_time: np.ndarray
    event: np.ndarray
    split: np.ndarray
    row0: np.ndarray
    col0: np.ndarray
    channels: tuple[str, ...]
    time_in: tuple[int, ...]


@dataclass(frozen=True)
class StoreSummary:
    """What was written: sample counts per split and the wet fraction (>= 0.1 mm/h, masked pixels)."""

    path: Path
    counts: dict[str, int]
    wet_fraction: float
    ir_mean: tuple[float, ...]
    ir_std: tuple[float, ...]


def check_split_by_event(event: np.ndarray, split: np.ndarray) -> None:
    """Raise if an event appears in two splits or a split name is unknown."""
    bad = sorted(set(np.unique(split)) - set(SPLITS))
    if bad:
        raise QpeflowError(f"store: unknown split name(s) {bad}; expected {SPLITS}")
    for ev in np.unique(event):
        if len(np.unique(split[event == ev])) > 1:
            raise QpeflowError(f"store: event {ev!r} appears in more than one split")


def ir_statistics(inputs: np.ndarray, split: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std (K) over the train split (all samples if it is empty).

    Args:
        inputs: (N, T, C, H, W) K.
    Returns:
        two (C,) float64 arrays.
    """
    idx = np.flatnonzero(split == "train") if np.any(split == "train") else np.arange(len(inputs))
    n_ch = inputs.shape[2]
    total, sq, count = np.zeros(n_ch), np.zeros(n_ch), np.zeros(n_ch)
    for start in range(0, len(idx), 256):  # chunked float64 sums: no full-size temporaries
        x = inputs[idx[start : start + 256]].astype(np.float64)
        ok = np.isfinite(x)
        x = np.where(ok, x, 0.0)
        total += x.sum(axis=(0, 1, 3, 4))
        sq += (x * x).sum(axis=(0, 1, 3, 4))
        count += ok.sum(axis=(0, 1, 3, 4))
    mean = total / np.maximum(count, 1)
    std = np.sqrt(np.maximum(sq / np.maximum(count, 1) - mean**2, 0.0))
    return mean, np.maximum(std, 1e-3)


def _dataset(a: StoreArrays, mean: np.ndarray, std: np.ndarray, attrs: dict[str, Any]):  # type: ignore[no-untyped-def]
    import xarray as xr

    z = np.array(a.inputs, dtype=np.float32)  # one copy, normalised in place (float32)
    z -= mean.astype(np.float32)[None, None, :, None, None]
    z /= std.astype(np.float32)[None, None, :, None, None]
    np.nan_to_num(z, copy=False)
    target = np.asarray(a.target, np.float32).reshape(len(a.inputs), 1, *a.inputs.shape[-2:])
    mask = np.asarray(a.mask, bool) & np.isfinite(target[:, 0])
    target = np.where(mask[:, None], np.nan_to_num(target), 0.0).astype(np.float32)
    ds = xr.Dataset(
        {
            "inputs": (("sample", "time_in", "channel", "y", "x"), z),
            "target": (("sample", "layer", "y", "x"), target),
            "mask": (("sample", "y", "x"), mask),
        },
        coords={
            "valid_time": ("sample", np.asarray(a.valid_time).astype("datetime64[ns]")),
            "event": ("sample", np.asarray(a.event).astype(str)),
            "split": ("sample", np.asarray(a.split).astype(str)),
            "row0": ("sample", np.asarray(a.row0, np.int64)),
            "col0": ("sample", np.asarray(a.col0, np.int64)),
            "channel": ("channel", np.asarray(a.channels, dtype=str)),
            "time_in": ("time_in", np.asarray(a.time_in, np.int64)),
        },
        attrs=attrs,
    )
    return ds


def _version() -> str:
    """Installed qpeflow version (package metadata), "unknown" when not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("qpeflow")
    except PackageNotFoundError:
        return "unknown"


def _plain(v: Any) -> Any:
    """Attribute values zarr can store: lists of floats, str, int, float."""
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, tuple):
        return list(v)
    return v


def write_store(out: str | os.PathLike[str], arrays: StoreArrays, attrs: dict[str, Any]) -> StoreSummary:
    """Normalise the IR with train-split statistics and write the store atomically.

    Args:
        out: destination ``STORE.zarr`` (replaced if it exists; written to
            ``STORE.zarr.tmp`` first, then renamed).
        arrays: the samples (see :class:`StoreArrays`), IR in K.
        attrs: provenance (``source``, ``infrared``, ``simulator_version``,
            ``simulator_params``, ``cadence_minutes``, ``resolution_km``, ``events``,
            grid attrs ...). ``ir_mean``, ``ir_std``, ``qpeflow_version``, ``created``
            are added here.

    Returns:
        :class:`StoreSummary`.
    """
    n = len(arrays.inputs)
    if n == 0:
        raise QpeflowError(f"{out}: no samples to write (all events empty or dry?)")
    if arrays.inputs.ndim != 5 or arrays.inputs.shape[1:3] != (len(arrays.time_in), len(arrays.channels)):
        raise QpeflowError(
            f"{out}: inputs shape {arrays.inputs.shape} does not match "
            f"{len(arrays.time_in)} times x {len(arrays.channels)} channels"
        )
    check_split_by_event(np.asarray(arrays.event), np.asarray(arrays.split))
    mean, std = ir_statistics(arrays.inputs, np.asarray(arrays.split))
    full = {k: _plain(v) for k, v in attrs.items()}
    full.update(
        ir_mean=mean.tolist(),
        ir_std=std.tolist(),
        qpeflow_version=_version(),
        created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        normalisation_from="train" if np.any(np.asarray(arrays.split) == "train") else "all",
    )
    ds = _dataset(arrays, mean, std, full)
    chunk = max(1, min(n, 64))
    ds = ds.chunk({"sample": chunk})
    path = Path(out)
    with atomic_dir(path) as tmp:
        ds.to_zarr(tmp, mode="w", consolidated=True, zarr_format=2)
    split = np.asarray(arrays.split)
    m = np.asarray(ds["mask"].values)
    wet = float((ds["target"].values[:, 0][m] >= 0.1).mean()) if m.any() else 0.0
    return StoreSummary(
        path, {s: int((split == s).sum()) for s in SPLITS}, wet, tuple(mean.tolist()), tuple(std.tolist())
    )


def events_attr(events: list[dict[str, Any]]) -> str:
    """The ``events`` attribute: a JSON list of per-event provenance dicts."""
    return json.dumps(events)
