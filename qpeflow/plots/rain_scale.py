"""The one rain-rate colour scale of every map (quick-looks, estimate PNG, report example maps).

Discrete and log-spaced, as on operational radar displays: one colour per class
between the levels 0.1, 0.5, 1, 2, 5, 10, 20, 50, 100 mm/h; below 0.1 mm/h white
(dry), above 100 mm/h the top colour (``extend="max"``), no data (NaN: no radar
coverage, space) light grey. Colours: matplotlib's perceptually uniform
``viridis`` reversed (light = light rain, dark = heavy rain).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib as mpl
import numpy as np
from matplotlib.colors import BoundaryNorm, Colormap, ListedColormap

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.colorbar import Colorbar
    from matplotlib.figure import Figure
    from matplotlib.image import AxesImage

RAIN_LEVELS_MMH: tuple[float, ...] = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
NO_DATA_COLOUR = "#d0d0d0"
DRY_COLOUR = "white"
RAIN_LABEL = "rain rate (mm/h); white < 0.1 mm/h, grey = no data"


def rain_cmap() -> Colormap:
    """One colour per class of :data:`RAIN_LEVELS_MMH`, white under, grey for NaN."""
    n = len(RAIN_LEVELS_MMH) - 1
    colours = mpl.colormaps["viridis_r"](np.linspace(0.05, 1.0, n + 1))
    return ListedColormap(colours[:n]).with_extremes(under=DRY_COLOUR, over=colours[n], bad=NO_DATA_COLOUR)


def rain_norm() -> BoundaryNorm:
    """Class boundaries :data:`RAIN_LEVELS_MMH` (mm/h) mapped onto :func:`rain_cmap`."""
    return BoundaryNorm(RAIN_LEVELS_MMH, len(RAIN_LEVELS_MMH) - 1)


def rain_image(ax: Axes, rain: np.ndarray, **kwargs: object) -> AxesImage:
    """``imshow`` of rain (ny, nx) mm/h on the shared scale; NaN drawn as no data."""
    data = np.ma.masked_invalid(np.asarray(rain, dtype=np.float32))
    return ax.imshow(data, cmap=rain_cmap(), norm=rain_norm(), interpolation="nearest", **kwargs)  # type: ignore[arg-type]


def rain_colourbar(fig: Figure, image: AxesImage, label: str = RAIN_LABEL, **kwargs: object) -> Colorbar:
    """Colour bar of the shared rain scale with a tick at every level."""
    cb = fig.colorbar(image, extend="max", ticks=RAIN_LEVELS_MMH, spacing="uniform", **kwargs)  # type: ignore[arg-type]
    cb.ax.minorticks_off()
    cb.set_ticklabels([f"{v:g}" for v in RAIN_LEVELS_MMH])
    cb.set_label(label)
    return cb
