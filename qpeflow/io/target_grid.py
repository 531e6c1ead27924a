"""The grid rain is estimated on: ``opera``, ``native`` or a grid file.

- ``opera``: the OPERA pan-European composite grid (LAEA, 2 km, 1900 x 2200 px,
  :data:`OPERA_GRID`), cropped to the part the satellite data covers.
- ``native``: the satellite's own grid (geostationary projection).
- a YAML file describing any regular grid, either by its extent::

      crs: "+proj=laea +lat_0=55 +lon_0=10 +x_0=1950000 +y_0=-2100000 +ellps=WGS84"
      extent: [xmin, ymin, xmax, ymax]   # outer pixel edges, CRS units (m)
      shape: [ny, nx]

  or by its corner and steps (``x0``, ``dx``, ``y0``, ``dy`` < 0, ``shape``), the
  fields of :class:`qpeflow.io.grid.Grid` (the ``grid_*`` attributes a store
  carries, :meth:`Grid.to_attrs`, are accepted too).

The checkpoint's model learnt on data of one resolution (the store attribute
``resolution_km``, 4 km for the project's benchmark). Cloud structures look
different at another resolution, so the target grid is coarsened by the integer
factor ``round(resolution_km / pixel size)`` (the 2 km OPERA grid becomes a 4 km
grid, each pixel 2 x 2 OPERA pixels, aligned with OPERA); ``--resolution-km``
overrides it. An optional lon/lat box crops the grid to a region.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml

from qpeflow.errors import QpeflowError, input_error
from qpeflow.io.grid import OPERA_CRS, Grid

#: OPERA composite grid: outer corners (0, 0) and (3.8e6, -4.4e6) m in OPERA_CRS, 2 km
OPERA_GRID = Grid(OPERA_CRS, 0.0, 2000.0, 0.0, -2000.0, (2200, 1900))


def grid_from_file(path: str | Path) -> Grid:
    """Read a YAML grid description (see the module docstring)."""
    p = Path(path)
    try:
        spec = yaml.safe_load(p.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise input_error(p, f"cannot read grid file ({str(exc).splitlines()[0]})") from None
    if not isinstance(spec, dict):
        raise input_error(p, "grid file must be a YAML mapping with crs, extent and shape")
    spec = {k.removeprefix("grid_"): v for k, v in spec.items()}
    try:
        shape = (int(spec["shape"][0]), int(spec["shape"][1]))
        if "extent" in spec:
            xmin, ymin, xmax, ymax = (float(v) for v in spec["extent"])
            return Grid.from_extent(str(spec["crs"]), (xmin, ymin, xmax, ymax), shape)
        return Grid(str(spec["crs"]), float(spec["x0"]), float(spec["dx"]), float(spec["y0"]), float(spec["dy"]), shape)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise input_error(p, f"grid file needs crs, shape and extent (or x0, dx, y0, dy): {exc}") from None


def bounds_in(grid: Grid, lon: np.ndarray, lat: np.ndarray) -> tuple[float, float, float, float] | None:
    """(xmin, ymin, xmax, ymax) in grid's CRS of the finite lon/lat points, None if none."""
    import pyproj

    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        return None
    tr = pyproj.Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True)
    x, y = tr.transform(lon[ok], lat[ok], errcheck=False)
    good = np.isfinite(x) & np.isfinite(y)
    if not good.any():
        return None
    return float(x[good].min()), float(y[good].min()), float(x[good].max()), float(y[good].max())


def crop_to_bounds(grid: Grid, bounds: tuple[float, float, float, float]) -> Grid | None:
    """The smallest crop of ``grid`` holding the CRS box ``bounds``, None if they do not meet."""
    xmin, ymin, xmax, ymax = bounds
    c0 = max(0, int(np.floor((xmin - grid.x0) / grid.dx)))
    c1 = min(grid.shape[1], int(np.ceil((xmax - grid.x0) / grid.dx)))
    r0 = max(0, int(np.floor((ymax - grid.y0) / grid.dy)))
    r1 = min(grid.shape[0], int(np.ceil((ymin - grid.y0) / grid.dy)))
    if c1 <= c0 or r1 <= r0:
        return None
    return grid.crop(r0, c0, r1 - r0, c1 - c0)


def crop_to_footprint(grid: Grid, source: Grid, valid: np.ndarray | None = None, where: str = "") -> Grid:
    """Crop ``grid`` to the box of the ``source`` pixels (``valid`` ones only when given)."""
    lon, lat = source.lonlat()
    if valid is not None:
        lon, lat = np.where(valid, lon, np.nan), np.where(valid, lat, np.nan)
    bounds = bounds_in(grid, lon, lat)
    crop = crop_to_bounds(grid, bounds) if bounds is not None else None
    if crop is None:
        raise input_error(where or None, "the satellite data do not cover any part of the target grid")
    return crop


def crop_to_lonlat(grid: Grid, bbox: Sequence[float]) -> Grid:
    """Crop ``grid`` to the lon/lat box ``(lon_min, lat_min, lon_max, lat_max)`` (degrees)."""
    lon0, lat0, lon1, lat1 = bbox
    side = np.linspace(0.0, 1.0, 50)
    lons, lats = lon0 + (lon1 - lon0) * side, lat0 + (lat1 - lat0) * side  # the box outline
    lon = np.concatenate([lons, np.full(50, lon1), lons[::-1], np.full(50, lon0)])
    lat = np.concatenate([np.full(50, lat0), lats, np.full(50, lat1), lats[::-1]])
    bounds = bounds_in(grid, lon, lat)
    crop = crop_to_bounds(grid, bounds) if bounds is not None else None
    if crop is None:
        raise QpeflowError(f"--bbox {list(bbox)}: the box does not meet the target grid")
    return crop


def coarsen(grid: Grid, factor: int) -> Grid:
    """The grid of ``factor x factor`` blocks of ``grid`` (incomplete edge blocks dropped)."""
    if factor <= 1:
        return grid
    ny, nx = grid.shape[0] // factor, grid.shape[1] // factor
    if ny < 1 or nx < 1:
        raise QpeflowError(f"target grid {grid.shape} is smaller than one {factor} x {factor} block")
    return Grid(grid.crs, grid.x0, grid.dx * factor, grid.y0, grid.dy * factor, (ny, nx))


def coarsening_factor(grid: Grid, resolution_km: float | None) -> int:
    """round(resolution_km / pixel size), at least 1 (1 when resolution_km is None or 0)."""
    if not resolution_km:
        return 1
    return max(1, int(round(resolution_km * 1000.0 / grid.dx)))


def target_grid(
    spec: str,
    source: Grid,
    valid: np.ndarray | None = None,
    resolution_km: float | None = None,
    bbox: Sequence[float] | None = None,
    where: str = "",
) -> Grid:
    """The estimation grid for ``spec`` in {"opera", "native", FILE}.

    Args:
        spec: grid choice (module docstring).
        source: the satellite grid (of the channels at t0).
        valid: (ny, nx) bool on ``source``, pixels with data (crops ``opera`` to them).
        resolution_km: the checkpoint's training resolution; the grid is coarsened to it.
        bbox: optional (lon_min, lat_min, lon_max, lat_max) crop.
        where: file to name in errors.
    """
    if spec == "native":
        grid = source
    elif spec == "opera":
        grid = crop_to_footprint(OPERA_GRID, source, valid, where)
    elif Path(spec).is_file():
        grid = grid_from_file(spec)
    else:
        raise QpeflowError(f"--grid {spec!r}: expected opera, native or an existing YAML grid file")
    if bbox is not None:
        grid = crop_to_lonlat(grid, bbox)
    return coarsen(grid, coarsening_factor(grid, resolution_km))
