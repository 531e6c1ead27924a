"""The predictions file (DESIGN.md, "Predictions"): the one reader and the one writer.

CF-netCDF with ``rain_rate`` (member, time, y, x) mm/h; ``truth`` (time, y, x) mm/h
where known; ``mask`` (time, y, x) int8 (1 = radar saw); optional ``ir_108`` (time,
y, x) K; coordinates along ``time`` (``valid_time``, ``event``, ``sample``, ``draw``,
``row0``/``col0``) and ``member``; attributes ``method``, ``nfe``, ``steps``, ``seeds``,
``checkpoint``, ``data_source``, ``infrared``, ``seconds_per_member``.
:func:`open_predictions` validates one (and, optionally, the truth of another file)
and reads it by time slices, so a set larger than memory can be scored;
:func:`write_predictions` writes one atomically. No torch here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

from qpeflow.errors import input_error
from qpeflow.io.atomic import atomic_path

DIMS = ("member", "time", "y", "x")


def _open(path: Path) -> xr.Dataset:
    if not path.is_file():
        raise input_error(path, "predictions file not found")
    try:
        return xr.open_dataset(path, mask_and_scale=True)
    except (OSError, ValueError) as exc:
        raise input_error(
            path, f"cannot read as netCDF ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
        ) from None


def _field_var(ds: xr.Dataset, path: Path, name: str, dims: tuple[str, ...], why: str) -> xr.DataArray:
    """Variable ``name`` transposed to ``dims``, or a QpeflowError naming the file."""
    if name not in ds.data_vars:
        raise input_error(path, f"no '{name}' variable ({why}); found {sorted(ds.data_vars)}")
    da = ds[name]
    if set(da.dims) != set(dims):
        lacking = [d for d in dims if d not in da.dims]
        hint = f" (it lacks {lacking}: a predictions file of `qpeflow predict` holds (member, time, y, x)"
        hint += "; an estimate file has no time and no truth, it cannot be scored)" if "time" in lacking else ")"
        hint = hint if name == "rain_rate" else ""
        raise input_error(path, f"'{name}' has dimensions {da.dims}, expected {dims}{hint}")
    return da.transpose(*dims)


def _same_coords(a: xr.DataArray, b: xr.DataArray, path: Path, truth_path: Path) -> None:
    """Sizes, and coordinates present in both, of time / y / x must agree."""
    for dim in ("time", "y", "x"):
        if a.sizes[dim] != b.sizes[dim]:
            raise input_error(
                truth_path,
                f"truth has {b.sizes[dim]} along '{dim}' but the predictions {path} have "
                f"{a.sizes[dim]}: grids or times differ",
            )
    for coord in ("valid_time", "time", "y", "x"):
        if coord in a.coords and coord in b.coords and not np.array_equal(a[coord].values, b[coord].values):
            kind = "times" if "time" in coord else "grids"
            raise input_error(
                truth_path, f"'{coord}' of the truth differs from that of the predictions {path}: {kind} differ"
            )


class PredictionsInput:
    """A validated predictions file (and its truth, from the same file or ``truth_path``), read by time slices."""

    def __init__(self, path: str | Path, truth_path: str | Path | None = None) -> None:
        self.path = Path(path)
        self.truth_path = Path(truth_path) if truth_path is not None else self.path
        self.ds = _open(self.path)
        self.tds = self.ds
        try:
            self.tds = self.ds if truth_path is None else _open(self.truth_path)
            self._validate()
        except BaseException:
            self.close()
            raise

    def _validate(self) -> None:
        self.rain = _field_var(self.ds, self.path, "rain_rate", DIMS, "estimated rain rate, mm/h")
        self.truth = _field_var(self.tds, self.truth_path, "truth", DIMS[1:], "cannot verify without the truth")
        _same_coords(self.rain, self.truth, self.path, self.truth_path)
        self.mask = self._optional(self.tds, "mask") if "mask" in self.tds else self._optional(self.ds, "mask")
        self.ir = self._optional(self.ds, "ir_108")
        self.members, self.n_time = int(self.rain.sizes["member"]), int(self.rain.sizes["time"])
        self.shape = (int(self.rain.sizes["y"]), int(self.rain.sizes["x"]))
        if self.members == 0 or self.n_time == 0:
            raise input_error(self.path, f"empty predictions: {self.members} members, {self.n_time} time steps")

    def _optional(self, ds: xr.Dataset, name: str) -> xr.DataArray | None:
        if name not in ds:
            return None
        da = _field_var(ds, self.path, name, DIMS[1:], "")
        _same_coords(self.rain, da, self.path, self.path)
        return da

    def read_members(self, sl: slice) -> np.ndarray:
        """(M, n, Y, X) float64 mm/h for time steps ``sl``."""
        return np.asarray(self.rain.isel(time=sl).values, dtype=np.float64)

    def read_truth(self, sl: slice) -> np.ndarray:
        """(n, Y, X) float64 mm/h, NaN where the mask is 0 or the truth is missing."""
        truth = np.asarray(self.truth.isel(time=sl).values, dtype=np.float64)
        if self.mask is not None:
            truth[np.asarray(self.mask.isel(time=sl).values) == 0] = np.nan
        return truth

    def attr_str(self, key: str, default: str | None) -> str | None:
        """Global attribute as a string, ``default`` when absent or empty."""
        value = self.ds.attrs.get(key)
        return default if value is None or str(value) == "" else str(value)

    def attr_int(self, key: str) -> int | None:
        """Global attribute as an int (first element of a list), None when absent or not a number."""
        try:
            return int(np.asarray(self.ds.attrs[key]).ravel()[0])
        except (KeyError, IndexError, TypeError, ValueError):
            return None

    @property
    def events(self) -> list[str]:
        """The ``events`` attribute (JSON list, list or single string), else the ``event`` coordinate."""
        value = self.ds.attrs.get("events")
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                value = [value]
        if value is None and "event" in self.ds.coords:
            value = np.unique(self.ds["event"].values)
        return [str(v) for v in np.atleast_1d(value)] if value is not None else []

    @property
    def seconds_per_member(self) -> np.ndarray | None:
        """Attribute ``seconds_per_member`` (M,): wall-clock seconds per member for all fields, or None."""
        value = self.ds.attrs.get("seconds_per_member")
        try:
            seconds = np.atleast_1d(np.asarray(json.loads(value) if isinstance(value, str) else value, dtype=float))
        except (TypeError, ValueError):
            return None
        return seconds if seconds.size and np.all(np.isfinite(seconds)) else None

    def close(self) -> None:
        """Close the underlying dataset(s)."""
        self.ds.close()
        if self.tds is not self.ds:
            self.tds.close()

    def __enter__(self) -> PredictionsInput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_predictions(path: str | Path, truth_path: str | Path | None = None) -> PredictionsInput:
    """Open and validate a predictions file; QpeflowError naming the file on bad input."""
    return PredictionsInput(path, truth_path)


def write_predictions(ds: xr.Dataset, out: str | Path) -> Path:
    """Write a predictions dataset to ``out`` atomically (:mod:`qpeflow.io.atomic`); rain_rate compressed."""
    out = Path(out)
    with atomic_path(out) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", encoding={"rain_rate": {"zlib": True, "complevel": 4}})
    return out
