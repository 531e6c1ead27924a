"""The prepared-store writer shared by every source (synthetic, radar, opera, pairs).

Layout (DESIGN.md "File contracts", names fixed): ``inputs`` (sample, time_in,
channel, y, x) float32 normalised IR, ``target`` (sample, layer=1, y, x) float32
mm/h (0 where masked, never NaN), ``mask`` (sample, y, x) bool; coords
``valid_time``, ``event``, ``split``, ``channel``, ``time_in``, ``row0``, ``col0``,
``draw`` (sample, int: the infrared realisation; 0 for observed infrared);
attrs ``ir_mean``/``ir_std`` (K, per channel, from the train split) and provenance.

Usage::

    arrays = StoreArrays(inputs_k, target, mask, valid_time, event, split, row0, col0,
                         channels, time_in)
    summary = write_store("out.zarr", arrays, attrs={"source": "pairs", "infrared": "observed", ...})

An existing ``out`` is replaced only when it is a qpeflow store (or ``overwrite``
is given: :func:`check_store_target`), through a unique temp folder and two
renames (:func:`qpeflow.io.atomic.atomic_dir`). :func:`verify_store` checks a
store when it is opened: every chunk present, target finite and >= 0 where the
mask is True, inputs finite.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qpeflow.errors import QpeflowError, input_error
from qpeflow.io.atomic import atomic_dir

log = logging.getLogger(__name__)
SPLITS = ("train", "val", "test")
STORE_VARS = ("inputs", "target", "mask")
#: attributes every qpeflow store carries (what tells it from any other folder)
STORE_ATTRS = ("ir_mean", "ir_std", "infrared")
#: inputs larger than this are checked for missing chunks only, not scanned value by value
VERIFY_INPUT_BYTES = 1 << 30


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
        draw: (N,) int infrared draw of each sample (simulated IR: samples of one event
            and time that differ only in their draw share the rain target); None = all 0.
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
    draw: np.ndarray | None = None


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
            "draw": ("sample", np.zeros(len(a.inputs), np.int64) if a.draw is None else np.asarray(a.draw, np.int64)),
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


def _open_group(path: Path) -> Any:
    import zarr

    return zarr.open_group(str(path), mode="r")


def is_qpeflow_store(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` is a zarr folder with the variables and attributes of a prepared store."""
    p = Path(path)
    if not p.is_dir():
        return False
    try:
        group = _open_group(p)
        names = set(group.array_keys())
        attrs = dict(group.attrs)
    except Exception:  # not zarr at all, or unreadable metadata: not a store to replace silently
        return False
    return set(STORE_VARS) <= names and all(a in attrs for a in STORE_ATTRS)


def check_store_target(out: str | os.PathLike[str], overwrite: bool = False) -> None:
    """Raise unless ``out`` may be replaced: absent, a qpeflow store, or ``overwrite``.

    Raises:
        QpeflowError: ``out`` is a file, or a folder that is no qpeflow store (without ``overwrite``).
    """
    p = Path(out)
    if overwrite or not (p.exists() or p.is_symlink()):
        return
    if not p.is_dir():
        raise input_error(p, "is a file, not a store folder (pass --overwrite to replace it anyway)")
    if not is_qpeflow_store(p):
        raise input_error(
            p, "exists and is not a qpeflow store: refusing to replace it (pass --overwrite to replace it anyway)"
        )


def _missing_chunks(group: Any, path: Path) -> None:
    """zarr reads an absent chunk as its fill value (NaN, False) without a word: refuse instead.

    Only the data variables are checked; :func:`write_store` writes every one of their
    chunks, even all-False ones (``write_empty_chunks``).
    """
    for name in STORE_VARS:
        arr = group[name]
        have, need = int(arr.nchunks_initialized), int(arr.nchunks)
        if have < need:
            raise input_error(
                path,
                f"damaged store: '{name}' lacks {need - have} of its {need} chunk(s) "
                "(copied or written incompletely?); prepare it again",
            )


def _scan(group: Any, path: Path) -> None:
    """Target finite and >= 0 where the mask is True; inputs finite (when small enough to scan)."""
    target, mask, inputs = group["target"], group["mask"], group["inputs"]
    n = int(target.shape[0])
    step = max(1, int(target.chunks[0]))
    scan_inputs = int(np.prod(inputs.shape)) * inputs.dtype.itemsize <= VERIFY_INPUT_BYTES
    if not scan_inputs:
        log.info("%s: inputs larger than %d bytes: checked for missing chunks only", path, VERIFY_INPUT_BYTES)
    for start in range(0, n, step):
        sl = slice(start, min(n, start + step))
        t, m = np.asarray(target[sl])[:, 0], np.asarray(mask[sl], bool)
        bad = m & ~(np.isfinite(t) & (t >= 0))
        if bad.any():
            k = start + int(np.flatnonzero(bad.any(axis=(1, 2)))[0])
            raise input_error(path, f"damaged store: target of sample {k} is NaN or negative where the mask is True")
        if scan_inputs and not np.isfinite(np.asarray(inputs[sl])).all():
            raise input_error(path, f"damaged store: non-finite inputs in samples {sl.start}-{sl.stop - 1}")


def verify_store(path: str | os.PathLike[str]) -> None:
    """Check a store when it is opened: every chunk present, values finite where they must be.

    Raises:
        QpeflowError: a missing chunk (zarr would silently fill it with NaN / False),
            an unreadable chunk, NaN or negative rain where the mask is True, or
            non-finite normalised infrared.
    """
    p = Path(path)
    try:
        group = _open_group(p)
        _missing_chunks(group, p)
        _scan(group, p)
    except QpeflowError:
        raise
    except Exception as exc:  # a chunk that does not decompress, a broken .zarray ...
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise input_error(p, f"damaged store: cannot read it ({type(exc).__name__}: {first})") from None


def write_store(
    out: str | os.PathLike[str], arrays: StoreArrays, attrs: dict[str, Any], overwrite: bool = False
) -> StoreSummary:
    """Normalise the IR with train-split statistics and write the store atomically.

    Args:
        out: destination ``STORE.zarr``; an existing one is replaced atomically if it
            is a qpeflow store or ``overwrite`` is given (:func:`check_store_target`).
        arrays: the samples (see :class:`StoreArrays`), IR in K.
        overwrite: replace ``out`` even if it is not a qpeflow store.
        attrs: provenance (``source``, ``infrared``, ``simulator_version``,
            ``simulator_params``, ``cadence_minutes``, ``resolution_km``, ``events``,
            grid attrs ...). ``ir_mean``, ``ir_std``, ``qpeflow_version``, ``created``
            are added here.

    Returns:
        :class:`StoreSummary`.
    """
    check_store_target(out, overwrite)
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
        ds.to_zarr(tmp, mode="w", consolidated=True, zarr_format=2, write_empty_chunks=True)
        check_store_target(path, overwrite)  # a folder that appeared meanwhile is not replaced either
    split = np.asarray(arrays.split)
    m = np.asarray(ds["mask"].values)
    wet = float((ds["target"].values[:, 0][m] >= 0.1).mean()) if m.any() else 0.0
    return StoreSummary(
        path, {s: int((split == s).sum()) for s in SPLITS}, wet, tuple(mean.tolist()), tuple(std.tolist())
    )


def events_attr(events: list[dict[str, Any]]) -> str:
    """The ``events`` attribute: a JSON list of per-event provenance dicts."""
    return json.dumps(events)
