"""Read a few example fields from the predictions files behind the scores, for the maps panel.

Predictions files are CF-netCDF (DESIGN.md, file contracts): ``rain_rate`` (member,
time, y, x) mm/h, ``truth`` (time, y, x) mm/h, ``mask`` (time, y, x) int8 (1 = radar
saw), ``ir_108`` (time, y, x) K (optional), coords ``valid_time``/``event``/``sample`` (time).
Examples are chosen on the first file (spread over the fields ranked by wet area
> 1 mm/h) and matched in the other files by (valid time, event, sample). A file that
cannot be read or matched is left out of the panel with a note, never silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from qpeflow.methods.baselines import BASELINES
from qpeflow.plots.panels import PROB_THRESHOLD_MMH, ModelMaps

REQUIRED_VARIABLES: tuple[str, ...] = ("rain_rate", "truth")


@dataclass(frozen=True)
class ExampleMaps:
    """Inputs of :func:`qpeflow.plots.panels.plot_example_maps`; fields (n, H, W)."""

    ir_108: np.ndarray | None
    truth: np.ndarray
    mask: np.ndarray
    models: dict[str, ModelMaps]
    row_titles: list[str]
    resolution_km: float | None
    notes: list[str] = field(default_factory=list)


def _open(path: Path) -> xr.Dataset:
    ds = xr.open_dataset(path)
    missing = [v for v in REQUIRED_VARIABLES if v not in ds]
    if missing or "member" not in ds["rain_rate"].dims:
        ds.close()
        raise ValueError(f"lacks {missing or 'a member dimension on rain_rate'}")
    return ds


def _keys(ds: xr.Dataset) -> list[tuple[str, ...]]:
    """One key per time step: (valid_time, event, sample) as far as the coords exist."""
    n = ds.sizes["time"]
    parts = [
        np.asarray(ds[c].values).astype(str) for c in ("valid_time", "event", "sample") if c in ds.coords or c in ds
    ]
    if not parts:
        return [(str(i),) for i in range(n)]
    return [tuple(p[i] for p in parts) for i in range(n)]


def resolution_km(attrs: dict) -> float | None:
    """km per pixel from ``resolution_km`` or projected grid attrs (metres), else None."""
    if attrs.get("resolution_km"):
        return float(attrs["resolution_km"])
    crs = str(attrs.get("grid_crs", "")).lower()
    if attrs.get("grid_dx") and crs and "4326" not in crs and "longlat" not in crs:
        return float(attrs["grid_dx"]) / 1000.0
    return None


def choose_examples(truth: np.ndarray, mask: np.ndarray, n: int) -> list[int]:
    """Indices of ``n`` fields spread over the ranking by wet area (> 1 mm/h), wettest first.

    truth: (T, H, W) mm/h; mask: (T, H, W) bool.
    """
    wet = np.where(mask, np.nan_to_num(truth) > PROB_THRESHOLD_MMH, False).mean(axis=(1, 2))
    order = np.argsort(-wet, kind="stable")
    picks = np.unique(np.linspace(0, (len(order) - 1) * 2 // 3, min(n, len(order))).astype(int))
    return [int(order[p]) for p in picks]


def _model_maps(ds: xr.Dataset, index: list[int]) -> ModelMaps:
    rain = np.asarray(ds["rain_rate"].transpose("member", "time", ...).isel(time=index).values, dtype=float)
    if rain.shape[0] < 2:
        return ModelMaps(rain[0])
    finite = np.isfinite(rain).all(axis=0)
    prob = np.where(finite, (np.nan_to_num(rain) > PROB_THRESHOLD_MMH).mean(axis=0), np.nan)
    return ModelMaps(rain[0], rain[1], rain.mean(axis=0), prob)


def _same_truth(ds: xr.Dataset, index: list[int], ref: ExampleMaps) -> bool:
    """True when the file's truth equals the reference truth where the radar saw (NaN-tolerant)."""
    truth = np.asarray(ds["truth"].transpose("time", ...).isel(time=index).values, dtype=float)
    if truth.shape != ref.truth.shape:
        return False
    return bool(
        np.allclose(
            np.where(ref.mask, truth, 0.0), np.where(ref.mask, ref.truth, 0.0), rtol=1e-5, atol=1e-4, equal_nan=True
        )
    )


def _baseline_maps(ds: xr.Dataset, index: list[int], method: str) -> ModelMaps:
    """A literature baseline's estimate from the file's IR_108, as ``qpeflow evaluate`` scores it."""
    ir = np.asarray(ds["ir_108"].transpose("time", ...).isel(time=index).values, dtype=float)
    return ModelMaps(np.asarray(BASELINES[method](ir), dtype=float))


def _title(ds: xr.Dataset, i: int) -> str:
    parts = []
    if "valid_time" in ds.coords or "valid_time" in ds:
        parts.append(str(np.datetime_as_string(ds["valid_time"].values[i], unit="m")).replace("T", " "))
    if "event" in ds.coords or "event" in ds:
        parts.append(str(ds["event"].values[i]))
    return "\n".join(parts) or f"field {i}"


def read_examples(models: Sequence[tuple[str, str, Path]], n: int = 3) -> ExampleMaps | None:
    """Example fields of every model; ``models`` = [(name, method, predictions path)].

    The first readable file provides IR, truth, mask and the example times. A literature
    baseline (method in :data:`qpeflow.methods.baselines.BASELINES`) scored from the IR of another
    model's file is recomputed from that file's ``ir_108``; any other file whose ``method``
    attribute differs from the scores' method is left out with a note. Returns None if
    nothing is readable.
    """
    notes: list[str] = []
    ref: ExampleMaps | None = None
    ref_keys: list[tuple[str, ...]] = []
    for name, method, path in models:
        try:
            ds = _open(Path(path))
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            notes.append(f"{name}: predictions file {path} not usable ({exc})")
            continue
        with ds:
            file_method = str(ds.attrs.get("method", method))
            baseline = method != file_method and method in BASELINES
            if method and file_method != method and not baseline:
                notes.append(f"{name}: {path} holds method '{file_method}', not '{method}'")
                continue
            if baseline and "ir_108" not in ds:
                notes.append(f"{name}: {path} has no ir_108 to recompute the baseline from")
                continue
            if ref is None:
                ref, ref_keys = _reference(ds, n)
            keys = _keys(ds)
            if not all(k in keys for k in ref_keys):
                notes.append(f"{name}: {path} lacks the example times of the first file")
                continue
            index = [keys.index(k) for k in ref_keys]
            if not _same_truth(ds, index, ref):
                notes.append(f"{name}: {path} has a different truth at the example times")
                continue
            ref.models[name] = _baseline_maps(ds, index, method) if baseline else _model_maps(ds, index)
    if ref is None:
        return None
    ref.notes.extend(notes)
    return ref


def _reference(ds: xr.Dataset, n: int) -> tuple[ExampleMaps, list[tuple[str, ...]]]:
    truth_all = np.asarray(ds["truth"].transpose("time", ...).values, dtype=np.float32)
    mask_all = np.asarray(ds["mask"].transpose("time", ...).values) > 0 if "mask" in ds else np.isfinite(truth_all)
    index = choose_examples(truth_all, mask_all, n)
    ir = (
        np.asarray(ds["ir_108"].transpose("time", ...).isel(time=index).values, dtype=float) if "ir_108" in ds else None
    )
    keys = _keys(ds)
    maps = ExampleMaps(
        ir, truth_all[index], mask_all[index], {}, [_title(ds, i) for i in index], resolution_km(dict(ds.attrs))
    )
    return maps, [keys[i] for i in index]
