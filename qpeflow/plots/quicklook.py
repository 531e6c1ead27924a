"""Quick-look PNG of a ``qpeflow estimate`` result: IR_108, member 1, ensemble mean, P(> 1 mm/h).

Arrays in, Figure out (:func:`plot_quicklook`); :func:`write_quicklook` saves it
atomically. Rain uses the shared log-spaced class scale of
:mod:`qpeflow.plots.rain_scale` (0.1 ... 100 mm/h, below 0.1 mm/h white, no data
light grey) with one colour bar in mm/h; IR_108 is reversed grey (cold cloud tops
white). Every panel carries coastlines and country borders in the grid's own
projection (:mod:`qpeflow.plots.coastlines`, offline) and a lon/lat graticule;
axes are the grid's projected coordinates in km. The title gives the valid
time, the platform (``attrs["platform"]``), the product (method, members) and
says that no radar truth exists and, when so, that the model learnt from
simulated infrared.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from qpeflow.inference.rain_netcdf import RainMaps
from qpeflow.io.atomic import atomic_path
from qpeflow.plots.coastlines import draw_coastlines
from qpeflow.plots.maps import NO_COVERAGE, draw_graticule
from qpeflow.plots.rain_scale import rain_colourbar, rain_image


def quicklook_title(maps: RainMaps) -> str:
    """'<time> UTC | <platform> | <product>' and what the estimate is not."""
    when = str(np.datetime_as_string(np.datetime64(maps.valid_time, "m"))).replace("T", " ")
    platform = str(maps.attrs.get("platform") or "unknown platform")
    product = f"qpeflow rain-rate estimate, method {maps.attrs.get('method', '?')}, {maps.rain.shape[0]} member(s)"
    infrared = str(maps.attrs.get("infrared", ""))
    note = "no radar truth exists for this scene" + (
        "; the model learnt from radar rain with SIMULATED infrared" if infrared == "simulated" else ""
    )
    return f"{when} UTC | {platform} | {product}\n({note})"


def _panels(maps: RainMaps, threshold: float) -> list[tuple[str, np.ndarray, str]]:
    rain = np.asarray(maps.rain, float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(rain, axis=0)
        prob = np.where(np.isfinite(rain[0]), (rain > threshold).mean(axis=0), np.nan)
    panels = [
        ("member 1", rain[0], "rain"),
        ("ensemble mean", mean, "rain"),
        (f"P(> {threshold:g} mm/h), {rain.shape[0]} members", prob, "prob"),
    ]
    if maps.ir_108 is not None:
        panels.insert(0, ("IR_108 (K)", np.asarray(maps.ir_108, float), "ir"))
    return panels


def plot_quicklook(maps: RainMaps, threshold: float = 1.0) -> Figure:
    """Panels of one estimate (module docstring) with a rain colour bar in mm/h; returns the Figure."""
    panels = _panels(maps, threshold)
    ny, nx = maps.rain.shape[1:]
    width = 3.6 * len(panels)
    fig = Figure(figsize=(width, max(1.5, 3.6 * ny / nx) + 1.9), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    xmin, ymin, xmax, ymax = (v / 1000.0 for v in maps.grid.extent)
    extent = (xmin, xmax, ymin, ymax)
    rain_im = None
    for ax, (title, field, kind) in zip(axes, panels):
        if kind == "rain":
            rain_im = rain_image(ax, field, extent=extent)
        else:
            cmap = mpl.colormaps["gray_r" if kind == "ir" else "magma_r"].with_extremes(bad=NO_COVERAGE)
            norm = Normalize(200, 300) if kind == "ir" else Normalize(0, 1)
            im = ax.imshow(field, cmap=cmap, norm=norm, interpolation="nearest", extent=extent)
            fig.colorbar(im, ax=ax, orientation="horizontal", shrink=0.8, label=title)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            draw_graticule(ax, maps.grid, color="0.55")
        draw_coastlines(ax, maps.grid, color="tab:orange" if kind == "ir" else "k")
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=6)
    if rain_im is not None:
        rain_axes = [ax for ax, p in zip(axes, panels) if p[2] == "rain"]
        rain_colourbar(fig, rain_im, ax=rain_axes, orientation="horizontal", shrink=0.9, aspect=40)
    fig.suptitle(quicklook_title(maps), fontsize=9)
    return fig


def write_quicklook(maps: RainMaps, path: str | Path, dpi: int = 110) -> Path:
    """Save :func:`plot_quicklook` as PNG atomically; returns the path."""
    path = Path(path)
    fig = plot_quicklook(maps)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    return path
