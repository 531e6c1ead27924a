"""Write tiny Satip-layout SEVIRI zarr zips for tests (counts, east->west x, south->north y)."""

from __future__ import annotations

import tempfile
import zipfile
from os import PathLike
from pathlib import Path

import numpy as np
import xarray as xr

AREA_YAML = """msg_seviri_rss_3km:
  description: test area
  projection:
    proj: geos
    lon_0: 9.5
    h: 35785831
    x_0: 0
    y_0: 0
    a: 6378169
    rf: 295.488065897014
    no_defs: null
    type: crs
  shape:
    height: {ny}
    width: {nx}
  area_extent:
    lower_left_xy: [{xe}, {ys}]
    upper_right_xy: [{xw}, {yn}]
    units: m
"""


def write_satip(
    path: str | PathLike[str],
    counts: np.ndarray,
    channels: list[str],
    time: np.datetime64,
    x_east: float = 24003.2,
    y_south: float = 4404591.8,
    d: float = 3000.403,
) -> None:
    """``counts`` (ny, nx, nvar) int16 stored as scanned: row 0 south, column 0 east."""
    ny, nx, _ = counts.shape
    x = x_east - d * np.arange(nx)  # east -> west
    y = y_south + d * np.arange(ny)  # south -> north
    area = AREA_YAML.format(ny=ny, nx=nx, xe=x[0] + d / 2, ys=y[0] - d / 2, xw=x[-1] - d / 2, yn=y[-1] + d / 2)
    attrs = {f"{ch}_area": area for ch in channels} | {"platform_name": "Meteosat-11"}
    da = xr.DataArray(
        counts[None].astype(np.int16),
        dims=("time", "y_geostationary", "x_geostationary", "variable"),
        coords={"time": [np.datetime64(time, "ns")], "y_geostationary": y, "x_geostationary": x, "variable": channels},
        attrs=attrs,
    )
    with tempfile.TemporaryDirectory() as tmp:  # write a folder store, then zip it (as Satip ships them)
        xr.Dataset({"data": da}).to_zarr(tmp, zarr_format=2, consolidated=True)
        with zipfile.ZipFile(path, "w") as zf:
            for file in sorted(Path(tmp).rglob("*")):
                if file.is_file():
                    zf.write(file, file.relative_to(tmp).as_posix())
