"""The Meteo-France 1 km radar mosaic ``cumul_france_1536-1km-5min_YYYYMMDDHHMM.nc``.

Layout (as the team reads it, github.com/mmeignin/RainSat ``extraction/usefull_scripts/Viltard.py``):

* ``ACRR`` (time, Y, X): accumulation in 1/100 mm over 5 min, so rate = ACRR / 100 * 12 mm/h
  (a 0.12 mm/h quantum); codes > 65000 are missing.
* ``QUALITY`` (time, Y, X): 0-100, values > 200 invalid (their rain is missing too).
* ``time`` (time,): offsets in the unit its ``units`` gives ("seconds since 2019-06-11 00:00:00").

The grid is not in the mosaic: it comes from the companion file
``grid_france_1536-1km_200906110000-219912310000.nc`` (2-D latitude/longitude, a CF
``grid_mapping`` variable and ``X``/``Y`` coordinates), given as ``grid_file=`` or found
beside the mosaic (a ``grid_france*.nc`` whose validity period in its name covers the time).

Each Field carries the quality as ``attrs["quality"]`` (ny, nx) float32 in percent, NaN
where invalid, oriented like the data; :func:`qpeflow.io.quality.apply_quality` masks by it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from qpeflow.errors import input_error
from qpeflow.io.cf_grid import cf_grid, open_netcdf
from qpeflow.io.field import RAIN_RATE, Field
from qpeflow.io.grid import Grid

ACRR_MISSING_ABOVE = 65000  # codes above this are missing
QUALITY_INVALID_ABOVE = 200  # quality above this is invalid
MMH_PER_CODE = 12.0 / 100.0  # 1/100 mm in 5 min -> mm/h
GRID_GLOB = "grid_france*.nc"
_VALIDITY = re.compile(r"_(\d{12})-(\d{12})\.nc$")


@lru_cache(maxsize=8)
def _read_grid(path: str, mtime: float) -> tuple[Grid, bool, bool]:
    nc = open_netcdf(path)
    try:
        return cf_grid(nc, "grid_mapping", "X", "Y", path)
    finally:
        nc.close()


def read_mf_grid(path: str | PathLike[str]) -> tuple[Grid, bool, bool]:
    """The mosaic grid of a grid file, and whether its rows / columns must be flipped (cached by path, mtime)."""
    p = Path(path)
    if not p.is_file():
        raise input_error(p, "Meteo-France grid file not found")
    return _read_grid(str(p), p.stat().st_mtime)


def _covers(name: str, time: np.datetime64) -> bool:
    m = _VALIDITY.search(name)
    if m is None:
        return True
    start, end = (np.datetime64(f"{s[:4]}-{s[4:6]}-{s[6:8]}T{s[8:10]}:{s[10:12]}", "s") for s in m.groups())
    return bool(start <= time <= end)


def find_grid_file(mosaic: str | PathLike[str], time: np.datetime64) -> Path:
    """The grid file beside ``mosaic`` whose validity period covers ``time``."""
    candidates = sorted(p for p in Path(mosaic).parent.glob(GRID_GLOB) if _covers(p.name, time))
    if not candidates:
        raise input_error(
            mosaic,
            f"Meteo-France mosaic without its grid file: no {GRID_GLOB} valid at {time} beside it "
            "(pass grid_file=, e.g. grid_france_1536-1km_200906110000-219912310000.nc)",
        )
    return candidates[0]


def decode_times(var: Any, path: str | PathLike[str]) -> list[np.datetime64]:
    """``time`` values -> datetime64[s] from the reference and unit in its ``units``."""
    import netCDF4

    units = getattr(var, "units", None)
    if not units:
        raise input_error(path, "'time' has no units: cannot tell when the mosaic is valid")
    try:
        dates = netCDF4.num2date(np.asarray(var[:]).reshape(-1), str(units), only_use_cftime_datetimes=False)
    except (ValueError, TypeError, OverflowError) as exc:
        raise input_error(path, f"'time' units {units!r} are not 'UNIT since DATE': {exc}") from exc
    return [np.datetime64(d.replace(tzinfo=None) if hasattr(d, "tzinfo") else d, "s") for d in dates]


def _variable(nc: Any, name: str, path: str | PathLike[str], ndim: int = 3) -> np.ndarray:
    if name not in nc.variables:
        raise input_error(path, f"no {name!r} variable (not a Meteo-France mosaic?)")
    values = np.asarray(nc.variables[name][...])
    if values.ndim == ndim - 1:
        values = values[None]
    if values.ndim != ndim:
        raise input_error(path, f"{name!r} has shape {values.shape}, expected (time, Y, X)")
    if not np.issubdtype(values.dtype, np.number):
        raise input_error(path, f"{name!r} holds {values.dtype} values, expected numbers")
    return values


def to_rain_rate(acrr: np.ndarray, quality: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ACRR codes and quality (..., ny, nx) -> rain rate mm/h and quality %, both NaN where missing/invalid."""
    bad = (acrr > ACRR_MISSING_ABOVE) | (quality > QUALITY_INVALID_ABOVE) | (acrr < 0)
    rain = np.where(bad, np.nan, acrr.astype(np.float64) * MMH_PER_CODE).astype(np.float32)
    q = np.where((quality > QUALITY_INVALID_ABOVE) | (quality < 0), np.nan, quality).astype(np.float32)
    return rain, q


def read_meteofrance(path: str | PathLike[str], grid_file: str | PathLike[str] | None = None) -> list[Field]:
    """Read a mosaic: one ``rain_rate`` Field (mm/h, row 0 north) per time, quality in ``attrs``.

    Raises:
        QpeflowError: no grid file, ``time`` without units, ACRR/QUALITY missing or of different
            shapes, a grid of another shape.
    """
    nc = open_netcdf(path)
    try:
        if "time" not in nc.variables:
            raise input_error(path, "no 'time' variable in the Meteo-France mosaic")
        times = decode_times(nc.variables["time"], path)
        acrr, quality = _variable(nc, "ACRR", path), _variable(nc, "QUALITY", path)
    finally:
        nc.close()
    if quality.shape != acrr.shape:
        raise input_error(path, f"QUALITY has shape {quality.shape} but ACRR {acrr.shape}: they must match")
    if len(times) != acrr.shape[0]:
        raise input_error(path, f"{len(times)} time(s) for {acrr.shape[0]} ACRR image(s)")
    gpath = Path(grid_file) if grid_file is not None else find_grid_file(path, times[0])
    grid, flip_rows, flip_cols = read_mf_grid(gpath)
    if acrr.shape[1:] != grid.shape:
        raise input_error(path, f"ACRR is {acrr.shape[1:]} pixels but the grid file {gpath.name} is {grid.shape}")
    rain, q = to_rain_rate(acrr, quality)
    if flip_rows:
        rain, q = rain[:, ::-1], q[:, ::-1]
    if flip_cols:
        rain, q = rain[..., ::-1], q[..., ::-1]
    return [
        Field(
            np.ascontiguousarray(r),
            RAIN_RATE,
            "mm/h",
            t,
            grid,
            str(path),
            "ACRR",
            {"quality": np.ascontiguousarray(qq), "grid_file": str(gpath), "product": "meteofrance_mosaic"},
        )
        for r, qq, t in zip(rain, q, times)
    ]


def read_meteofrance_grid(path: str | PathLike[str], **_: Any) -> list[Field]:
    """Registry entry for the grid file itself: it holds no field (checked readable), so it gives none."""
    read_mf_grid(path)
    return []
