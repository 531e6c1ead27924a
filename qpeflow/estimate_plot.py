"""Quick-look PNG of a ``qpeflow estimate`` result: IR_108, member 1, ensemble mean, P(> 1 mm/h).

Arrays in, Figure out (:func:`plot_quicklook`); :func:`write_quicklook` saves it
atomically. Rain uses a logarithmic 0.1-100 mm/h scale (below 0.1 mm/h white),
no-data pixels are light grey, IR_108 is reversed grey (cold cloud tops white).
Lon/lat lines (every 5 degrees) are drawn from the grid, no map data download.
The title says that no radar truth exists and, when so, that the model learnt
from simulated infrared.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import matplotlib as mpl
import numpy as np
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure

from qpeflow.rain_netcdf import RainMaps

RAIN_RANGE_MMH = (0.1, 100.0)
NO_DATA_COLOUR = "#cfcfcf"


def _graticule(ax, lon: np.ndarray, lat: np.ndarray, step: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    """Lon/lat contour lines every ``step`` degrees."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for values in (lon, lat):
            if np.isfinite(values).sum() < 4:
                continue
            lo, hi = np.nanmin(values), np.nanmax(values)
            levels = np.arange(np.ceil(lo / step) * step, hi + 1e-9, step)
            if levels.size:
                ax.contour(values, levels=levels, colors="0.35", linewidths=0.4, linestyles=":")


def plot_quicklook(maps: RainMaps, threshold: float = 1.0) -> Figure:
    """Four panels of one estimate (module docstring); returns the Figure."""
    rain = np.asarray(maps.rain, float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(rain, axis=0)
        prob = np.where(np.isfinite(rain[0]), (rain > threshold).mean(axis=0), np.nan)
    panels = [("member 1 (mm/h)", rain[0], "rain"), ("ensemble mean (mm/h)", mean, "rain"),
              (f"P(> {threshold:g} mm/h), {rain.shape[0]} members", prob, "prob")]
    if maps.ir_108 is not None:
        panels.insert(0, ("IR_108 (K)", maps.ir_108, "ir"))
    ny, nx = rain.shape[1:]
    width = 3.6 * len(panels)
    fig = Figure(figsize=(width, max(2.5, 3.6 * ny / nx) + 1.2), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    lon, lat = maps.grid.lonlat()
    styles = {"ir": ("gray_r", Normalize(200, 300), None),
              "rain": ("viridis", LogNorm(*RAIN_RANGE_MMH), "white"),
              "prob": ("magma_r", Normalize(0, 1), None)}
    for ax, (title, field, kind) in zip(axes, panels):
        cmap_name, norm, under = styles[kind]
        cmap = mpl.colormaps[cmap_name].with_extremes(bad=NO_DATA_COLOUR, under=under)
        shown = np.where(np.isfinite(field), np.maximum(field, 1e-3), np.nan) if kind == "rain" else field
        im = ax.imshow(shown, cmap=cmap, norm=norm, interpolation="nearest")
        _graticule(ax, lon, lat)
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, orientation="horizontal", shrink=0.8,
                     extend="min" if kind == "rain" else "neither")
    infrared = str(maps.attrs.get("infrared", ""))
    note = "no radar truth exists for this scene" + (
        "; the model learnt from radar rain with SIMULATED infrared" if infrared == "simulated" else "")
    fig.suptitle(f"qpeflow estimate {str(maps.valid_time)[:16]} UTC ({note})", fontsize=9)
    return fig


def write_quicklook(maps: RainMaps, path: str | Path, dpi: int = 110) -> Path:
    """Save :func:`plot_quicklook` as PNG atomically; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig = plot_quicklook(maps)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=dpi, format="png")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
