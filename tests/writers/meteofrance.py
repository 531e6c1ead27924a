"""Write Meteo-France 1 km mosaics and their grid file, in the layout the team reads.

Layout (from the team's scripts, github.com/mmeignin/RainSat ``extraction/usefull_scripts/Viltard.py``,
``plot_france_map.py``, ``MF_grid_display.py``):

* mosaic ``cumul_france_1536-1km-5min_YYYYMMDDHHMM.nc``: ``ACRR`` (time, Y, X) uint16, 1/100 mm
  accumulated over 5 min, codes > 65000 missing (65535 written); ``QUALITY`` (time, Y, X) uint8,
  0-100, > 200 invalid (255 written); ``time`` (time,) seconds since the reference in its
  ``units`` ("seconds since YYYY-MM-DD HH:MM:SS": the team slices characters 14..33).
  ``ACRR[0]`` has the orientation of the grid file's 2-D ``latitude`` (the team plots
  ``pcolormesh(longitude, latitude, ACRR[0])``).
* grid ``grid_france_1536-1km_200906110000-219912310000.nc``: 2-D ``latitude`` / ``longitude``
  (Y, X), a CF ``grid_mapping`` variable, ``X`` / ``Y`` coordinates in m (the team opens it with
  ``AreaDefinition.from_cf(path, variable="grid_mapping", x="X", y="Y")``).

The real grid is 1536 x 1536 at 1 km; tests use a few tens of pixels of the same projection.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path

import netCDF4
import numpy as np
import pyproj

from qpeflow.io.grid import Grid

#: Polar stereographic of the Meteo-France 1536 km mosaic (true at 45 N, pole-centred)
MF_CRS = "+proj=stere +lat_0=90 +lat_ts=45 +lon_0=0 +a=6378137 +b=6356752.3142 +x_0=0 +y_0=0 +units=m +no_defs"
#: outer north-west corner of the real 1536 x 1536 km grid (m)
MF_X0, MF_Y0 = -619652.074, -3526818.338
GRID_NAME = "grid_france_1536-1km_200906110000-219912310000.nc"
ACRR_MISSING = 65535
QUALITY_INVALID = 255


def mf_grid(ny: int = 32, nx: int = 32, row: int = 700, col: int = 700, km: float = 1.0) -> Grid:
    """A ``ny`` x ``nx`` window (origin ``row``, ``col``) of the Meteo-France grid at ``km`` km."""
    d = km * 1000.0
    return Grid(MF_CRS, MF_X0 + col * 1000.0, d, MF_Y0 - row * 1000.0, -d, (ny, nx))


def mosaic_name(time: np.datetime64) -> str:
    return f"cumul_france_1536-1km-5min_{str(np.datetime64(time, 'm')).replace('-', '').replace('T', '').replace(':', '')}.nc"


def write_mf_grid(path: str | PathLike[str], grid: Grid, y_north_first: bool = True) -> Path:
    """Write the grid file for ``grid``; ``y_north_first=False`` stores rows south first (Y increasing)."""
    x, y = grid.x, grid.y if y_north_first else grid.y[::-1]
    lon, lat = pyproj.Transformer.from_crs(MF_CRS, "EPSG:4326", always_xy=True).transform(*np.meshgrid(x, y))
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("X", x.size)
        nc.createDimension("Y", y.size)
        for name, vals, axis in (("X", x, "X"), ("Y", y, "Y")):
            var = nc.createVariable(name, "f8", (name,))
            var[:] = vals
            var.setncatts({"units": "m", "axis": axis, "standard_name": f"projection_{name.lower()}_coordinate"})
        gm = nc.createVariable("grid_mapping", "i4", ())
        gm.setncatts(pyproj.CRS.from_proj4(MF_CRS).to_cf())
        for name, vals, units in (("latitude", lat, "degrees_north"), ("longitude", lon, "degrees_east")):
            var = nc.createVariable(name, "f4", ("Y", "X"))
            var[:] = vals
            var.setncatts({"units": units, "grid_mapping": "grid_mapping"})
    return Path(path)


def encode_acrr(rate_mmh: np.ndarray) -> np.ndarray:
    """Rain rate (mm/h, NaN = missing) -> ACRR codes (1/100 mm in 5 min), uint16, 65535 missing."""
    codes = np.rint(np.nan_to_num(rate_mmh, nan=0.0) / 12.0 * 100.0)
    return np.where(np.isnan(rate_mmh), ACRR_MISSING, np.clip(codes, 0, 65000)).astype(np.uint16)


def write_mosaic(
    folder: str | PathLike[str],
    rate_mmh: np.ndarray,
    quality: np.ndarray,
    time: np.datetime64,
    *,
    units: str | None = "seconds since 1970-01-01 00:00:00",
    y_north_first: bool = True,
    name: str | None = None,
) -> Path:
    """Write one mosaic of ``rate_mmh`` (ny, nx) mm/h and ``quality`` (ny, nx) 0-100 (255 invalid).

    Rows are given north first; ``y_north_first=False`` stores them south first (to pair with a
    grid file written the same way). ``units=None`` writes a ``time`` without units (bad input).
    """
    path = Path(folder) / (name or mosaic_name(time))
    acrr, qual = encode_acrr(np.asarray(rate_mmh, float)), np.asarray(quality).astype(np.uint8)
    if not y_north_first:
        acrr, qual = acrr[::-1], qual[::-1]
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("time", 1)
        nc.createDimension("Y", acrr.shape[0])
        nc.createDimension("X", acrr.shape[1])
        t = nc.createVariable("time", "i8", ("time",))
        seconds = (np.datetime64(time, "s") - np.datetime64("1970-01-01T00:00:00", "s")) / np.timedelta64(1, "s")
        t[:] = [int(seconds)]
        if units is not None:
            t.units = units
        a = nc.createVariable("ACRR", "u2", ("time", "Y", "X"), zlib=True)
        a.set_auto_maskandscale(False)
        a[0] = acrr
        a.setncatts({"long_name": "5-min accumulation", "units": "1/100 mm"})
        q = nc.createVariable("QUALITY", "u1", ("time", "Y", "X"), zlib=True)
        q.set_auto_maskandscale(False)
        q[0] = qual
        q.setncatts({"long_name": "quality index", "units": "percent"})
    return path
