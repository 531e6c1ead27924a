"""A :class:`Grid` from a CF ``grid_mapping`` variable and 1-D projection coordinates.

What pyresample's ``AreaDefinition.from_cf(path, variable="grid_mapping", x="X", y="Y")``
does for the Meteo-France grid file, and what satpy's CF writer leaves in a ``sevmos``
file, read here with netCDF4 and ``pyproj.CRS.from_cf`` so that every problem becomes one
:class:`~qpeflow.errors.QpeflowError` line. Coordinates in km are converted to m.
"""

from __future__ import annotations

from os import PathLike
from typing import Any

import numpy as np

from qpeflow.errors import input_error
from qpeflow.io.grid import Grid

_TO_M = {"m": 1.0, "metre": 1.0, "meter": 1.0, "metres": 1.0, "km": 1000.0, "": 1.0}


def _coordinate(nc: Any, name: str, path: str | PathLike[str]) -> np.ndarray:
    if name not in nc.variables:
        raise input_error(path, f"no {name!r} coordinate variable (expected CF projection coordinates)")
    var = nc.variables[name]
    units = str(getattr(var, "units", "m")).strip().lower()
    if units not in _TO_M:
        raise input_error(path, f"coordinate {name!r} in {units!r}, expected m or km")
    values = np.asarray(var[:], dtype=np.float64).reshape(-1) * _TO_M[units]
    if values.size < 2 or not np.isfinite(values).all():
        raise input_error(path, f"coordinate {name!r} has {values.size} value(s) or non-finite ones")
    step = np.diff(values)
    if not np.allclose(step, step[0], rtol=1e-6, atol=1e-3) or step[0] == 0:
        raise input_error(path, f"coordinate {name!r} is not regularly spaced")
    return values


def cf_crs(nc: Any, variable: str, path: str | PathLike[str]) -> str:
    """WKT of the CRS that the CF grid-mapping ``variable`` describes."""
    import pyproj

    if variable not in nc.variables:
        raise input_error(path, f"no grid-mapping variable {variable!r}")
    attrs = {k: nc.variables[variable].getncattr(k) for k in nc.variables[variable].ncattrs()}
    try:
        return pyproj.CRS.from_cf(attrs).to_wkt()
    except (pyproj.exceptions.CRSError, KeyError, ValueError, TypeError) as exc:
        raise input_error(path, f"grid mapping {variable!r} is not a CF projection: {exc}") from exc


def cf_grid(nc: Any, variable: str, x: str, y: str, path: str | PathLike[str]) -> tuple[Grid, bool, bool]:
    """Grid (north-up, west-first) and whether the file's rows / columns run the other way.

    Args:
        nc: an open ``netCDF4.Dataset``.
        variable, x, y: names of the grid-mapping variable and the 1-D pixel-centre coordinates.

    Returns:
        (grid, flip_rows, flip_cols): ``data[::-1]`` puts a file array of shape (ny, nx) north first
        when ``flip_rows``; ``data[:, ::-1]`` west first when ``flip_cols``.
    """
    crs = cf_crs(nc, variable, path)
    xs, ys = _coordinate(nc, x, path), _coordinate(nc, y, path)
    flip_cols, flip_rows = bool(xs[1] < xs[0]), bool(ys[1] > ys[0])
    xs, ys = (xs[::-1] if flip_cols else xs), (ys[::-1] if flip_rows else ys)
    dx, dy = float(xs[1] - xs[0]), float(ys[1] - ys[0])
    return Grid(crs, float(xs[0]) - dx / 2, dx, float(ys[0]) - dy / 2, dy, (ys.size, xs.size)), flip_rows, flip_cols


def open_netcdf(path: str | PathLike[str]) -> Any:
    """``netCDF4.Dataset`` opened read-only, without automatic masking; unreadable -> QpeflowError."""
    import netCDF4

    try:
        nc = netCDF4.Dataset(path, "r")
    except FileNotFoundError as exc:
        raise input_error(path, "file not found") from exc
    except OSError as exc:
        raise input_error(path, f"not a readable netCDF file (truncated or corrupt?): {exc}") from exc
    nc.set_auto_maskandscale(False)
    return nc
