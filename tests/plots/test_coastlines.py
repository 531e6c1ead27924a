"""qpeflow.plots.coastlines: offline GSHHG lines land where pyproj puts them, in any projection."""

from __future__ import annotations

import numpy as np
import pyproj

from qpeflow.io.grid import OPERA_CRS, Grid
from qpeflow.plots.coastlines import pick_resolution, project_lines, read_lines

GEOS = "+proj=geos +lon_0=9.5 +h=35785831 +x_0=0 +y_0=0 +a=6378169 +rf=295.488065897014 +no_defs +units=m"


def test_lines_are_lonlat_polylines_at_three_resolutions() -> None:
    for res in ("c", "l", "i"):
        lines = read_lines("coastline", res)
        pts = np.concatenate(lines)
        assert len(lines) > 100 and np.abs(pts[:, 1]).max() <= 90.0 and np.abs(pts[:, 0]).max() <= 360.0
    assert len(read_lines("border", "l")) > 100


def test_british_coast_is_where_pyproj_puts_it_in_laea() -> None:
    """The projected coastline passes next to Land's End and John o' Groats (OPERA LAEA grid, km)."""
    grid = Grid(OPERA_CRS, 600_000.0, 4000.0, -1_500_000.0, -4000.0, (300, 300))
    pts = np.concatenate([p[np.isfinite(p).all(axis=1)] for p in project_lines(grid, "coastline", "l")])
    tr = pyproj.Transformer.from_crs("EPSG:4326", OPERA_CRS, always_xy=True)
    for lon, lat in ((-5.71, 50.07), (-3.07, 58.64)):  # Land's End, John o' Groats
        x, y = np.asarray(tr.transform(lon, lat)) / 1000.0
        assert np.hypot(pts[:, 0] - x, pts[:, 1] - y).min() < 8.0, (lon, lat)


def test_geostationary_far_side_is_dropped_and_seams_split() -> None:
    """Full disk at lon 9.5: lines over the Pacific are not drawn; no segment crosses the disk."""
    half = 5_568_748.0
    grid = Grid(GEOS, -half, 30_000.0, half, -30_000.0, (372, 372))
    lines = project_lines(grid, "coastline", "c")
    pts = np.concatenate(lines)
    finite = pts[np.isfinite(pts).all(axis=1)]
    assert np.hypot(finite[:, 0], finite[:, 1]).max() <= half / 1000.0 * 1.01  # on the visible disk
    steps = np.concatenate([np.hypot(*np.diff(p, axis=0).T) for p in lines])
    assert np.nanmax(steps) <= 0.25 * 2 * half / 1000.0
    assert pick_resolution(grid) == "c" and pick_resolution(Grid(OPERA_CRS, 0, 1000.0, 0, -1000.0, (300, 300))) == "i"
