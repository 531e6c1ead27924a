"""Rain maps as CF-1.8 netCDF, written atomically.

Layout (``qpeflow estimate`` output)::

    rain_rate                 (member, y, x)    float32  mm h-1, standard_name rainfall_rate
    rain_rate_mean            (y, x)            float32  ensemble mean
    probability_of_exceedance (threshold, y, x) float32  1, fraction of members with rain > threshold
    ir_108                    (y, x)            float32  K, the input IR_108 at the valid time (if given)
    lon, lat                  (y, x)            float64  degrees (auxiliary coordinates)
    x, y                      (x), (y)          projection coordinates (m; radians for geostationary)
    time                      ()                valid time, seconds since 1970-01-01
    crs                       ()                grid mapping, attributes from pyproj ``CRS.to_cf()``

The global attributes carry the provenance handed in (checkpoint, training data,
NFE, steps, seeds, input files). The file appears under its name only when
complete (:mod:`qpeflow.io.atomic`).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from qpeflow.io.atomic import atomic_path
from qpeflow.io.grid import Grid

THRESHOLDS_MMH = (0.1, 1.0, 5.0)


@dataclass(frozen=True)
class RainMaps:
    """What is written: members of rain on a grid at one valid time.

    Attributes:
        rain: (M, ny, nx) float32 rain rate in mm/h, NaN where there was no input.
        grid: the grid of ``rain``.
        valid_time: datetime64 (UTC).
        ir_108: optional (ny, nx) IR_108 brightness temperature (K) at the valid time.
        attrs: provenance, written as global attributes (dicts/lists become JSON strings
            unless they are lists of numbers).
    """

    rain: np.ndarray
    grid: Grid
    valid_time: np.datetime64
    ir_108: np.ndarray | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


def probability_of_exceedance(rain: np.ndarray, thresholds: tuple[float, ...] = THRESHOLDS_MMH) -> np.ndarray:
    """Fraction of members with rain > threshold, shape (len(thresholds), ny, nx), NaN where rain is NaN."""
    valid = np.isfinite(rain).all(axis=0)
    with np.errstate(invalid="ignore"):
        prob = np.stack([(rain > t).mean(axis=0) for t in thresholds]).astype(np.float32)
    prob[:, ~valid] = np.nan
    return prob


def _cf_value(value: Any) -> Any:
    """A netCDF-storable attribute value."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float, str, np.number)):
        return value
    if (
        isinstance(value, (list, tuple))
        and value
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        return np.asarray(value)
    return json.dumps(value, default=str)


def _projection_coords(grid: Grid, cf: Mapping[str, Any]) -> dict[str, xr.Variable]:
    """x/y coordinate variables: metres, or scanning angle in radians for a geostationary grid (CF 4.3.4)."""
    if cf.get("grid_mapping_name") == "geostationary":
        h = float(cf["perspective_point_height"])
        return {
            "x": xr.Variable(
                "x", grid.x / h, {"standard_name": "projection_x_angular_coordinate", "units": "rad", "axis": "X"}
            ),
            "y": xr.Variable(
                "y", grid.y / h, {"standard_name": "projection_y_angular_coordinate", "units": "rad", "axis": "Y"}
            ),
        }
    return {
        "x": xr.Variable("x", grid.x, {"standard_name": "projection_x_coordinate", "units": "m", "axis": "X"}),
        "y": xr.Variable("y", grid.y, {"standard_name": "projection_y_coordinate", "units": "m", "axis": "Y"}),
    }


def _data_vars(maps: RainMaps, thresholds: tuple[float, ...], cf: dict[str, Any]) -> dict[str, Any]:
    """rain_rate, rain_rate_mean, probability_of_exceedance, crs and (if given) ir_108."""
    common = {"grid_mapping": "crs", "coordinates": "time lat lon"}
    rain = maps.rain.astype(np.float32)
    with warnings.catch_warnings():  # all-NaN pixels (no input) stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(rain, axis=0)
    data = {
        "rain_rate": (
            ("member", "y", "x"),
            rain,
            {
                "standard_name": "rainfall_rate",
                "units": "mm h-1",
                "long_name": "rain rate estimated from SEVIRI infrared (mm/h)",
                **common,
            },
        ),
        "rain_rate_mean": (
            ("y", "x"),
            mean,
            {
                "standard_name": "rainfall_rate",
                "units": "mm h-1",
                "cell_methods": "member: mean",
                "long_name": "ensemble mean rain rate (mm/h)",
                **common,
            },
        ),
        "probability_of_exceedance": (
            ("threshold", "y", "x"),
            probability_of_exceedance(rain, thresholds),
            {"units": "1", "long_name": "fraction of members with rain rate above threshold", **common},
        ),
        "crs": ((), np.int32(0), cf),
    }
    if maps.ir_108 is not None:
        data["ir_108"] = (
            ("y", "x"),
            maps.ir_108.astype(np.float32),
            {
                "standard_name": "toa_brightness_temperature",
                "units": "K",
                "long_name": "SEVIRI IR_108 brightness temperature at the valid time",
                **common,
            },
        )
    return data


def to_dataset(maps: RainMaps, thresholds: tuple[float, ...] = THRESHOLDS_MMH) -> xr.Dataset:
    """Build the CF dataset of :class:`RainMaps` (layout in the module docstring)."""
    import pyproj

    cf = pyproj.CRS.from_user_input(maps.grid.crs).to_cf()
    lon, lat = maps.grid.lonlat()
    data = _data_vars(maps, thresholds, cf)
    coords: dict[str, Any] = {
        **_projection_coords(maps.grid, cf),
        "lon": (("y", "x"), lon, {"standard_name": "longitude", "units": "degrees_east"}),
        "lat": (("y", "x"), lat, {"standard_name": "latitude", "units": "degrees_north"}),
        "member": ("member", np.arange(maps.rain.shape[0], dtype=np.int32), {"long_name": "ensemble member"}),
        "threshold": (
            "threshold",
            np.asarray(thresholds, np.float32),
            {"units": "mm h-1", "long_name": "rain rate threshold"},
        ),
        "time": ((), np.asarray(maps.valid_time, "datetime64[ns]"), {"standard_name": "time", "axis": "T"}),
    }
    attrs = {
        "Conventions": "CF-1.8",
        "title": "qpeflow rain rate estimate from Meteosat SEVIRI infrared",
        **{k: _cf_value(v) for k, v in maps.attrs.items()},
    }
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    ds["time"].encoding.update({"units": "seconds since 1970-01-01 00:00:00", "calendar": "standard"})
    for name in ("rain_rate", "rain_rate_mean", "probability_of_exceedance", "ir_108"):
        if name in ds:
            ds[name].encoding.update({"zlib": True, "complevel": 4, "_FillValue": np.float32(np.nan)})
    for name in ("lon", "lat", "x", "y", "member", "threshold"):  # off-disc lon/lat (geostationary) are NaN
        ds[name].encoding["_FillValue"] = np.nan if name in ("lon", "lat") and np.isnan(ds[name]).any() else None
    return ds


def write_rain_netcdf(maps: RainMaps, path: str | Path, thresholds: tuple[float, ...] = THRESHOLDS_MMH) -> Path:
    """Write ``maps`` as CF-1.8 netCDF at ``path``, atomically; returns the path."""
    path = Path(path)
    ds = to_dataset(maps, thresholds)
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4")
    return path
