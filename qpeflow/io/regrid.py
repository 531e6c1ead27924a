"""Regridding a Field onto another Grid (pyproj coordinate transforms + numpy/scipy).

Methods, in the literal registry :data:`REGRID_METHODS`, all with the signature
``method(field, grid, min_coverage) -> np.ndarray (ny, nx) float32``:

- ``"mean"``: area mean for coarsening (rain). Every source pixel is assigned to
  the target pixel holding its centre; the target value is the mean over its
  *finite* source pixels, NaN where the finite fraction is below
  ``min_coverage``. Over fully covered target pixels this conserves the rain
  mass (sum of value x area) exactly for aligned grids of equal-area CRSs;
  target pixels that no source centre falls in (refining) take the nearest value.
- ``"bilinear"``: NaN-aware bilinear interpolation at the target centres
  (brightness temperature): interpolate values and the finite mask, divide;
  NaN where less than ``min_coverage`` of the weight is finite or off the source.
- ``"nearest"``: the source pixel containing each target centre.

Works between any two CRSs pyproj knows (geostationary -> LAEA, LAEA 2 km -> 4 km ...);
target points off the Earth disc or outside the source grid become NaN.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from qpeflow.io.field import Field
from qpeflow.io.grid import Grid


def _same_crs(a: Grid, b: Grid) -> bool:
    import pyproj

    return a.crs == b.crs or pyproj.CRS.from_user_input(a.crs) == pyproj.CRS.from_user_input(b.crs)


def _transform(src: Grid, dst: Grid, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points (x, y) in ``src``'s CRS -> ``dst``'s CRS; points that fail become NaN."""
    if _same_crs(src, dst):
        return x.astype(np.float64), y.astype(np.float64)
    import pyproj

    tr = pyproj.Transformer.from_crs(
        pyproj.CRS.from_user_input(src.crs), pyproj.CRS.from_user_input(dst.crs), always_xy=True
    )
    xo, yo = tr.transform(x, y, errcheck=False)
    bad = ~(np.isfinite(xo) & np.isfinite(yo)) | (np.abs(xo) > 1e20) | (np.abs(yo) > 1e20)
    return np.where(bad, np.nan, xo), np.where(bad, np.nan, yo)


def fractional_index(src: Grid, dst: Grid) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) of every ``dst`` pixel centre in ``src`` pixel units, each (ny, nx); 0 = centre of pixel 0."""
    xx, yy = np.meshgrid(dst.x, dst.y)
    xs, ys = _transform(dst, src, xx, yy)
    return (ys - src.y0) / src.dy - 0.5, (xs - src.x0) / src.dx - 0.5


def _inside(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    return (rows >= -0.5) & (rows < shape[0] - 0.5) & (cols >= -0.5) & (cols < shape[1] - 0.5)


def _nearest(field: Field, grid: Grid, min_coverage: float) -> np.ndarray:
    rows, cols = fractional_index(field.grid, grid)
    ok = _inside(rows, cols, field.grid.shape)
    out = np.full(grid.shape, np.nan, dtype=np.float32)
    out[ok] = field.data[np.rint(rows[ok]).astype(np.int64), np.rint(cols[ok]).astype(np.int64)]
    return out


def _bilinear(field: Field, grid: Grid, min_coverage: float) -> np.ndarray:
    from scipy.ndimage import map_coordinates

    rows, cols = fractional_index(field.grid, grid)
    ok = _inside(rows, cols, field.grid.shape)
    finite = np.isfinite(field.data)
    coords = np.stack([rows[ok], cols[ok]])
    num = map_coordinates(np.where(finite, field.data, 0.0).astype(np.float64), coords, order=1, mode="nearest")
    wgt = map_coordinates(finite.astype(np.float64), coords, order=1, mode="nearest")
    vals = np.where(wgt >= max(min_coverage, 1e-6), num / np.maximum(wgt, 1e-12), np.nan)
    out = np.full(grid.shape, np.nan, dtype=np.float32)
    out[ok] = vals
    return out


def _source_window(src: Grid, dst: Grid, margin: int = 2) -> tuple[int, int, int, int]:
    """(row0, row1, col0, col1) of the part of ``src`` that ``dst`` can see (coarse sample of dst)."""
    ny, nx = dst.shape
    step = max(1, min(ny, nx) // 64)
    sub = Grid(dst.crs, dst.x0, dst.dx * step, dst.y0, dst.dy * step, (-(-ny // step), -(-nx // step)))
    rows, cols = fractional_index(src, sub)
    good = np.isfinite(rows) & np.isfinite(cols)
    if not good.any():
        return 0, 0, 0, 0
    pad = margin + step * max(abs(dst.dx) / src.dx, abs(dst.dy) / abs(src.dy), 1.0)
    r0 = int(max(0, np.floor(rows[good].min() - pad)))
    r1 = int(min(src.shape[0], np.ceil(rows[good].max() + pad) + 1))
    c0 = int(max(0, np.floor(cols[good].min() - pad)))
    c1 = int(min(src.shape[1], np.ceil(cols[good].max() + pad) + 1))
    return r0, max(r0, r1), c0, max(c0, c1)


def _mean(field: Field, grid: Grid, min_coverage: float) -> np.ndarray:
    r0, r1, c0, c1 = _source_window(field.grid, grid)
    out = np.full(grid.shape, np.nan, dtype=np.float32)
    if r1 <= r0 or c1 <= c0:
        return out
    src = field.grid.crop(r0, c0, r1 - r0, c1 - c0)
    data = field.data[r0:r1, c0:c1]
    xx, yy = np.meshgrid(src.x, src.y)
    xd, yd = _transform(src, grid, xx, yy)
    rows = np.floor((yd - grid.y0) / grid.dy)
    cols = np.floor((xd - grid.x0) / grid.dx)
    ok = (
        np.isfinite(rows)
        & np.isfinite(cols)
        & (rows >= 0)
        & (rows < grid.shape[0])
        & (cols >= 0)
        & (cols < grid.shape[1])
    )
    flat = (rows[ok] * grid.shape[1] + cols[ok]).astype(np.int64)
    vals = data[ok].astype(np.float64)
    finite = np.isfinite(vals)
    size = grid.shape[0] * grid.shape[1]
    total = np.bincount(flat, minlength=size)
    n_fin = np.bincount(flat[finite], minlength=size)
    sums = np.bincount(flat[finite], weights=vals[finite], minlength=size)
    keep = (n_fin > 0) & (n_fin >= min_coverage * total)
    mean = np.full(size, np.nan)
    mean[keep] = sums[keep] / n_fin[keep]
    out = mean.reshape(grid.shape).astype(np.float32)
    empty = (total == 0).reshape(grid.shape)
    if empty.any():  # target finer than source here: no source centre inside, take the nearest
        out[empty] = _nearest(field, grid, min_coverage)[empty]
    return out


#: method name -> function(field, grid, min_coverage) -> (ny, nx) float32 array
REGRID_METHODS: dict[str, Callable[[Field, Grid, float], np.ndarray]] = {
    "mean": _mean,
    "bilinear": _bilinear,
    "nearest": _nearest,
}


def regrid(field: Field, grid: Grid, method: str = "mean", min_coverage: float = 0.5) -> Field:
    """``field`` resampled onto ``grid`` with a method of :data:`REGRID_METHODS`.

    Args:
        field: the source Field (any CRS).
        grid: the target Grid.
        method: "mean" (rain, coarsening), "bilinear" (brightness temperature), "nearest".
        min_coverage: in [0, 1], the finite fraction (mean) or finite weight (bilinear)
            below which a target pixel is NaN.

    Returns:
        A Field with the same quantity/units/time on ``grid``; ``attrs["regrid"] = method``.
    """
    if method not in REGRID_METHODS:
        raise ValueError(f"unknown regrid method {method!r}; choose from {sorted(REGRID_METHODS)}")
    data = REGRID_METHODS[method](field, grid, float(min_coverage))
    return dataclasses.replace(field, data=data, grid=grid, attrs={**field.attrs, "regrid": method})


def equal_area_grid(lon_c: float, lat_c: float, resolution_km: float, shape: tuple[int, int]) -> Grid:
    """A Lambert azimuthal equal-area Grid (WGS84) centred on (lon_c, lat_c), pixels ``resolution_km`` wide.

    ``shape = (ny, nx)``; the projection centre is the centre of the grid.
    """
    ny, nx = shape
    d = float(resolution_km) * 1000.0
    crs = f"+proj=laea +lat_0={lat_c:g} +lon_0={lon_c:g} +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
    return Grid(crs, -nx * d / 2.0, d, ny * d / 2.0, -d, (ny, nx))
