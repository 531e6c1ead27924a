"""Quick-look maps: arrays in, matplotlib Figure out (no score is computed here).

- rain rate (mm/h) on the shared log-spaced class scale of
  :mod:`qpeflow.plots.rain_scale` (0.1, 0.5, 1, 2, 5, 10, 20, 50, 100 mm/h);
  < 0.1 mm/h white; no radar coverage (NaN) light grey;
- brightness temperature (K) on a reversed grey scale (cold cloud tops white,
  warm surface dark), NaN (space, no data) in pale blue;
- coastlines and country borders (:mod:`qpeflow.plots.coastlines`, offline GSHHG
  data projected into the grid's CRS) and a lon/lat graticule from the grid's
  own coordinates (pyproj);
- a title with valid time, platform and product (:func:`quicklook_title`).

Images are drawn in the grid's projected coordinates (km), north up.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qpeflow.io.atomic import atomic_path
from qpeflow.plots.coastlines import draw_coastlines
from qpeflow.plots.rain_scale import NO_DATA_COLOUR, RAIN_LEVELS_MMH, rain_colourbar, rain_image

if TYPE_CHECKING:  # only for hints: plots reads Fields, it does not import the readers
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from qpeflow.io.field import Field
    from qpeflow.io.grid import Grid

RAIN_RANGE = (RAIN_LEVELS_MMH[0], RAIN_LEVELS_MMH[-1])  # mm/h
NO_COVERAGE = NO_DATA_COLOUR
SPACE = "#c9d6e8"


def _graticule_step(span_deg: float) -> float:
    for step in (1.0, 2.0, 5.0, 10.0, 20.0):
        if span_deg / step <= 8:
            return step
    return 30.0


def draw_graticule(ax: Axes, grid: Grid, max_points: int = 300, color: str = "k") -> None:
    """Lon/lat lines (labelled contours) over an image drawn in ``grid`` km coordinates."""
    import dataclasses

    step = max(1, int(np.ceil(max(grid.shape) / max_points)))
    ny, nx = -(-grid.shape[0] // step), -(-grid.shape[1] // step)
    coarse = dataclasses.replace(grid, dx=grid.dx * step, dy=grid.dy * step, shape=(ny, nx))
    lon, lat = coarse.lonlat()
    if not np.isfinite(lon).any():
        return
    xk, yk = coarse.x / 1000.0, coarse.y / 1000.0
    for values in (lon, lat):
        lo, hi = np.nanmin(values), np.nanmax(values)
        d = _graticule_step(hi - lo)
        levels = np.arange(np.floor(lo / d) * d, hi + d, d)
        if levels.size < 2:
            continue
        cs = ax.contour(
            xk,
            yk,
            np.ma.masked_invalid(values),
            levels=levels,
            colors=color,
            linestyles="solid",
            linewidths=0.5,
            alpha=0.7,
        )
        ax.clabel(cs, fontsize=6, fmt="%g°")


def _axes_extent(grid: Grid | None, shape: tuple[int, int]) -> tuple[float, float, float, float] | None:
    if grid is None:
        return None
    xmin, ymin, xmax, ymax = grid.extent
    return (xmin / 1000.0, xmax / 1000.0, ymin / 1000.0, ymax / 1000.0)


def _figure(shape: tuple[int, int]) -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    ny, nx = shape
    width = 8.0
    fig = Figure(figsize=(width, max(3.0, min(12.0, width * ny / nx * 0.9 + 0.6))))
    return fig, fig.add_subplot(1, 1, 1)


def rain_map(rain: np.ndarray, grid: Grid | None = None, title: str = "") -> Figure:
    """Rain rate (ny, nx) mm/h, NaN = no coverage -> Figure with the shared rain colour bar."""
    data = np.asarray(rain, dtype=np.float32)
    fig, ax = _figure(data.shape)
    im = rain_image(ax, data, origin="upper", extent=_axes_extent(grid, data.shape))
    rain_colourbar(fig, im, ax=ax, shrink=0.8)
    _finish(ax, grid, title)
    return fig


def bt_map(
    bt: np.ndarray, grid: Grid | None = None, title: str = "", vrange: tuple[float, float] | None = None
) -> Figure:
    """Brightness temperature (ny, nx) K -> Figure, cold = white (reversed grey)."""
    return scalar_map(bt, grid, title, vrange, cmap="Greys", label="brightness temperature (K)")


def scalar_map(
    values: np.ndarray,
    grid: Grid | None = None,
    title: str = "",
    vrange: tuple[float, float] | None = None,
    cmap: str = "gray",
    label: str = "",
) -> Figure:
    """Any scalar (ny, nx) on a grey scale (0.5-99.5 percentile range by default), NaN pale blue."""
    import matplotlib as mpl

    data = np.asarray(values, dtype=np.float32)
    if vrange is None:
        finite = data[np.isfinite(data)]
        vrange = (float(np.percentile(finite, 0.5)), float(np.percentile(finite, 99.5))) if finite.size else (0, 1)
    colours = mpl.colormaps[cmap].with_extremes(bad=SPACE)  # "Greys": low (cold) -> white, high -> black
    fig, ax = _figure(data.shape)
    im = ax.imshow(
        np.ma.masked_invalid(data),
        cmap=colours,
        vmin=vrange[0],
        vmax=vrange[1],
        origin="upper",
        extent=_axes_extent(grid, data.shape),
        interpolation="nearest",
    )
    fig.colorbar(im, ax=ax, shrink=0.8, label=label)
    _finish(ax, grid, title, color="tab:orange", coast="yellow")
    return fig


def _finish(ax: Axes, grid: Grid | None, title: str, color: str = "0.55", coast: str = "k") -> None:
    """Graticule in ``color``, coastlines and borders in ``coast``, axis labels and title."""
    if grid is not None:
        draw_graticule(ax, grid, color=color)
        draw_coastlines(ax, grid, color=coast)
        ax.set_xlabel("x (km)")
        ax.set_ylabel("y (km)")
    ax.set_title(title, fontsize=9)
    ax.figure.tight_layout()


def quicklook_title(field: Field, platform: str | None = None) -> str:
    """'<time> UTC | <platform> | <product>' and the file name, for a quick-look of ``field``.

    platform: default ``attrs["platform_name"]`` or ``attrs["platform"]``, else "unknown platform";
    product: ``attrs["product"]`` with the field's name, quantity and units.
    """
    when = str(np.datetime_as_string(np.datetime64(field.valid_time, "m"))).replace("T", " ")
    platform = platform or str(field.attrs.get("platform_name") or field.attrs.get("platform") or "unknown platform")
    product = " ".join(str(p) for p in (field.attrs.get("product"), field.name) if p)
    return f"{when} UTC | {platform} | {product} {field.quantity} ({field.units})\n{Path(field.source).name}"


def quicklook(
    field: Field | np.ndarray,
    title: str | None = None,
    path: str | os.PathLike[str] | None = None,
    platform: str | None = None,
    **kwargs: Any,
) -> Figure:
    """A rain or BT map of a Field (chosen by its quantity) or of a bare rain array (mm/h).

    The title defaults to :func:`quicklook_title` (``platform`` overrides the field's own).
    With ``path`` the figure is also written there (atomically, see :func:`save_figure`).
    """
    if isinstance(field, np.ndarray):
        fig = rain_map(field, None, title or "")
    else:
        if title is None:
            title = quicklook_title(field, platform)
        if field.quantity == "rain_rate":
            fig = rain_map(field.data, field.grid, title)
        elif field.quantity == "brightness_temperature":
            fig = bt_map(field.data, field.grid, title, **kwargs)
        else:  # reflectance or any other scalar: bright = white
            fig = scalar_map(field.data, field.grid, title, label=f"{field.quantity} ({field.units})", **kwargs)
    if path is not None:
        save_figure(fig, path)
    return fig


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 110) -> Path:
    """Write ``fig`` atomically (:mod:`qpeflow.io.atomic`); returns the path."""
    out = Path(path)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=dpi, format=(out.suffix.lstrip(".") or "png"))
    return out
