"""Read a few example cases from the predictions files behind the scores, for the example maps.

Predictions files are CF-netCDF (DESIGN.md, file contracts): ``rain_rate`` (member,
time, y, x) mm/h, ``truth`` (time, y, x) mm/h, ``mask`` (time, y, x) int8 (1 = radar
saw), ``ir_108`` (time, y, x) K (optional), coords ``valid_time``/``event``/``sample``
(time), optional grid attributes (``grid_crs``, ``grid_x0`` ... as
:meth:`qpeflow.io.grid.Grid.to_attrs`). Every model, learned or not (GPI and the
Auto-Estimator write the same file), is read alike from its own file.

Cases are chosen on the first readable file (spread over the fields ranked by wet
area > the probability threshold) and matched in the other files by (valid time,
event, sample). A file that cannot be read, holds another method than its scores
say, lacks the cases or has another truth there is left out with a note, never
silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from qpeflow.errors import QpeflowError
from qpeflow.io.grid import Grid
from qpeflow.io.predictions import open_predictions
from qpeflow.plots.panels import CaseMaps, ModelMaps

GRID_ATTRS: tuple[str, ...] = ("grid_crs", "grid_x0", "grid_dx", "grid_y0", "grid_dy", "grid_shape")


@dataclass(frozen=True)
class ExampleMaps:
    """The example cases (one figure each), km per pixel when known, and notes on files left out."""

    cases: list[CaseMaps]
    resolution_km: float | None
    notes: list[str] = field(default_factory=list)

    @property
    def models(self) -> list[str]:
        """Names of the models with a row (those of the first case)."""
        return list(self.cases[0].rows) if self.cases else []


def _open(path: Path) -> xr.Dataset:
    """The validated dataset of a predictions file (:func:`qpeflow.io.predictions.open_predictions`)."""
    try:
        return open_predictions(path).ds
    except QpeflowError as exc:
        raise ValueError(str(exc).removeprefix(f"{path}: ")) from None


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


def grid_of(ds: xr.Dataset) -> Grid | None:
    """The file's georeferenced grid when its attributes describe exactly the (y, x) of the fields, else None."""
    if not all(k in ds.attrs for k in GRID_ATTRS):
        return None
    try:
        grid = Grid.from_attrs(dict(ds.attrs))
    except (TypeError, ValueError, KeyError, IndexError):
        return None
    return grid if grid.shape == (ds.sizes["y"], ds.sizes["x"]) else None


def choose_examples(truth: np.ndarray, mask: np.ndarray, n: int, threshold: float) -> list[int]:
    """Indices of ``n`` fields spread over the ranking by wet area (> ``threshold`` mm/h), wettest first.

    truth: (T, H, W) mm/h; mask: (T, H, W) bool.
    """
    wet = np.where(mask, np.nan_to_num(truth) > threshold, False).mean(axis=(1, 2))
    order = np.argsort(-wet, kind="stable")
    picks = np.unique(np.linspace(0, (len(order) - 1) * 2 // 3, min(n, len(order))).astype(int))
    return [int(order[p]) for p in picks]


def _fields(ds: xr.Dataset, name: str, index: list[int]) -> np.ndarray:
    return np.asarray(ds[name].transpose("time", ...).isel(time=index).values, dtype=float)


def _truth_mask(ds: xr.Dataset, index: list[int]) -> tuple[np.ndarray, np.ndarray]:
    truth = _fields(ds, "truth", index)
    mask = _fields(ds, "mask", index) > 0 if "mask" in ds else np.isfinite(truth)
    return truth, mask & np.isfinite(truth)


def _model_maps(ds: xr.Dataset, index: list[int], threshold: float) -> list[ModelMaps]:
    """One :class:`ModelMaps` per case index, from this file alone."""
    rain = np.asarray(ds["rain_rate"].transpose("member", "time", ...).isel(time=index).values, dtype=float)
    truth, mask = _truth_mask(ds, index)
    ir = _fields(ds, "ir_108", index) if "ir_108" in ds else None
    out = []
    for k in range(len(index)):
        ir_k = None if ir is None else ir[k]
        if rain.shape[0] < 2:
            out.append(ModelMaps(truth[k], mask[k], rain[0, k], ir_k))
            continue
        members = rain[:, k]
        prob = np.where(np.isfinite(members).all(axis=0), (np.nan_to_num(members) > threshold).mean(axis=0), np.nan)
        out.append(ModelMaps(truth[k], mask[k], members[0], ir_k, members[1], members.mean(axis=0), prob))
    return out


def _same_truth(ds: xr.Dataset, index: list[int], ref_truth: np.ndarray, ref_mask: np.ndarray) -> bool:
    """True when the file's truth equals the reference truth where the radar saw (NaN-tolerant)."""
    truth = _fields(ds, "truth", index)
    if truth.shape != ref_truth.shape:
        return False
    a, b = np.where(ref_mask, truth, 0.0), np.where(ref_mask, ref_truth, 0.0)
    return bool(np.allclose(a, b, rtol=1e-5, atol=1e-4, equal_nan=True))


def _title(ds: xr.Dataset, i: int) -> str:
    parts = []
    if "valid_time" in ds.coords or "valid_time" in ds:
        parts.append(str(np.datetime_as_string(ds["valid_time"].values[i], unit="m")).replace("T", " ") + " UTC")
    if "event" in ds.coords or "event" in ds:
        parts.append(f"event {ds['event'].values[i]}")
    return ", ".join(parts) or f"field {i}"


@dataclass
class _Reference:
    keys: list[tuple[str, ...]]
    truth: np.ndarray
    mask: np.ndarray
    titles: list[str]
    grid: Grid | None
    resolution_km: float | None


def _reference(ds: xr.Dataset, n: int, threshold: float) -> _Reference:
    all_index = list(range(ds.sizes["time"]))
    truth, mask = _truth_mask(ds, all_index)
    index = choose_examples(truth, mask, n, threshold)
    keys = _keys(ds)
    return _Reference(
        [keys[i] for i in index],
        truth[index],
        mask[index],
        [_title(ds, i) for i in index],
        grid_of(ds),
        resolution_km(dict(ds.attrs)),
    )


def _check(ds: xr.Dataset, name: str, method: str, path: Path, ref: _Reference) -> tuple[list[int] | None, str]:
    """Indices of the reference cases in this file, or None and why it is left out."""
    file_method = str(ds.attrs.get("method", method))
    if method and file_method != method:
        return None, f"{name}: {path} holds method '{file_method}', not '{method}'"
    keys = _keys(ds)
    if not all(k in keys for k in ref.keys):
        return None, f"{name}: {path} lacks the example times of the first file"
    index = [keys.index(k) for k in ref.keys]
    if not _same_truth(ds, index, ref.truth, ref.mask):
        return None, f"{name}: {path} has a different truth at the example times"
    return index, ""


def read_examples(models: Sequence[tuple[str, str, Path]], n: int, threshold: float) -> ExampleMaps | None:
    """Example cases of every model; ``models`` = [(name, method, predictions path)], rows in that order.

    n: number of cases (one figure each); threshold: mm/h of P(R > threshold) and of the
    wet-area ranking that picks the cases. Returns None if no file is readable.
    """
    notes: list[str] = []
    ref: _Reference | None = None
    rows: dict[str, list[ModelMaps]] = {}
    for name, method, path in models:
        try:
            ds = _open(Path(path))
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            notes.append(f"{name}: predictions file {path} not usable ({exc})")
            continue
        with ds:
            if ref is None:
                ref = _reference(ds, n, threshold)
            index, why = _check(ds, name, method, Path(path), ref)
            if index is None:
                notes.append(why)
                continue
            rows[name] = _model_maps(ds, index, threshold)
    if ref is None:
        return None
    cases = [
        CaseMaps(title, {name: maps[k] for name, maps in rows.items()}, ref.grid) for k, title in enumerate(ref.titles)
    ]
    return ExampleMaps(cases if rows else [], ref.resolution_km, notes)
