"""Quick-look PNG of a ``qpeflow estimate`` result: IR_108, member 1, ensemble mean, P(> 1 mm/h).

Arrays in, Figure out (:func:`plot_quicklook`); :func:`write_quicklook` saves it
atomically. Rain uses a logarithmic 0.1-100 mm/h scale (below 0.1 mm/h white),
no-data pixels are light grey, IR_108 is reversed grey (cold cloud tops white).
Lon/lat lines come from the grid (:func:`qpeflow.plots.maps.draw_graticule`,
no map data download); axes are the grid's projected coordinates in km.
The title says that no radar truth exists and, when so, that the model learnt
from simulated infrared.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure

from qpeflow.inference.rain_netcdf import RainMaps
from qpeflow.io.atomic import atomic_path
from qpeflow.plots.maps import NO_COVERAGE, RAIN_RANGE, draw_graticule


def plot_quicklook(maps: RainMaps, threshold: float = 1.0) -> Figure:
    """Four panels of one estimate (module docstring); returns the Figure."""
    rain = np.asarray(maps.rain, float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(rain, axis=0)
        prob = np.where(np.isfinite(rain[0]), (rain > threshold).mean(axis=0), np.nan)
    panels = [
        ("member 1 (mm/h)", rain[0], "rain"),
        ("ensemble mean (mm/h)", mean, "rain"),
        (f"P(> {threshold:g} mm/h), {rain.shape[0]} members", prob, "prob"),
    ]
    if maps.ir_108 is not None:
        panels.insert(0, ("IR_108 (K)", maps.ir_108, "ir"))
    ny, nx = rain.shape[1:]
    width = 3.6 * len(panels)
    fig = Figure(figsize=(width, max(2.5, 3.6 * ny / nx) + 1.2), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    xmin, ymin, xmax, ymax = (v / 1000.0 for v in maps.grid.extent)
    styles = {
        "ir": ("gray_r", Normalize(200, 300), None),
        "rain": ("viridis", LogNorm(*RAIN_RANGE), "white"),
        "prob": ("magma_r", Normalize(0, 1), None),
    }
    for ax, (title, field, kind) in zip(axes, panels):
        cmap_name, norm, under = styles[kind]
        cmap = mpl.colormaps[cmap_name].with_extremes(bad=NO_COVERAGE, under=under)
        shown = np.where(np.isfinite(field), np.maximum(field, 1e-3), np.nan) if kind == "rain" else field
        im = ax.imshow(shown, cmap=cmap, norm=norm, interpolation="nearest", extent=(xmin, xmax, ymin, ymax))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            draw_graticule(ax, maps.grid, color="0.3")
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=6)
        fig.colorbar(im, ax=ax, orientation="horizontal", shrink=0.8, extend="min" if kind == "rain" else "neither")
    infrared = str(maps.attrs.get("infrared", ""))
    note = "no radar truth exists for this scene" + (
        "; the model learnt from radar rain with SIMULATED infrared" if infrared == "simulated" else ""
    )
    fig.suptitle(f"qpeflow estimate {str(maps.valid_time)[:16]} UTC ({note})", fontsize=9)
    return fig


def write_quicklook(maps: RainMaps, path: str | Path, dpi: int = 110) -> Path:
    """Save :func:`plot_quicklook` as PNG atomically; returns the path."""
    path = Path(path)
    fig = plot_quicklook(maps)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    return path
