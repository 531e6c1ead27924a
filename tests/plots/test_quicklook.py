"""qpeflow.plots.quicklook (estimate --png) and plots.maps (inspect --png): title, rain legend, coastlines."""

from __future__ import annotations

import numpy as np

from qpeflow.inference.rain_netcdf import RainMaps
from qpeflow.io.field import Field
from qpeflow.io.grid import OPERA_CRS, Grid
from qpeflow.plots.maps import quicklook
from qpeflow.plots.quicklook import plot_quicklook
from qpeflow.plots.rain_scale import RAIN_LEVELS_MMH

GRID = Grid(OPERA_CRS, 900_000.0, 8000.0, -2_100_000.0, -8000.0, (40, 50))  # Ireland and Wales


def has_coastlines(ax) -> bool:
    """Whether ``ax`` holds a LineCollection (coastlines / borders; graticule contours are ContourSets)."""
    from matplotlib.collections import LineCollection

    return any(type(c) is LineCollection and len(c.get_segments()) > 0 for c in ax.collections)


def _colourbar_ticks(fig) -> list[tuple[float, ...]]:
    return [tuple(ax.get_xticks()) or tuple(ax.get_yticks()) for ax in fig.axes if hasattr(ax, "_colorbar")]


def test_estimate_quicklook_title_legend_and_coastlines() -> None:
    rain = np.random.default_rng(0).gamma(0.5, 3.0, (3, 40, 50)).astype(np.float32)
    maps = RainMaps(
        rain,
        GRID,
        np.datetime64("2023-12-20T12:00"),
        np.full((40, 50), 250.0),
        {"platform": "Meteosat-11", "method": "cfm"},
    )
    fig = plot_quicklook(maps)
    title = fig._suptitle.get_text()
    assert "2023-12-20 12:00 UTC" in title and "Meteosat-11" in title and "method cfm" in title
    assert any(np.allclose(t, RAIN_LEVELS_MMH) for t in _colourbar_ticks(fig) if len(t) == len(RAIN_LEVELS_MMH))
    maps_axes = [ax for ax in fig.axes if not hasattr(ax, "_colorbar")]
    assert len(maps_axes) == 4 and all(has_coastlines(ax) for ax in maps_axes)  # coastlines in every panel


def test_inspect_quicklook_title_names_time_platform_product() -> None:
    field = Field(
        np.zeros((40, 50), np.float32),
        "rain_rate",
        "mm/h",
        np.datetime64("2018-08-24T18:00", "s"),
        GRID,
        "/data/T_PAAH21.hdf",
        "RATE",
        {"product": "COMP"},
    )
    fig = quicklook(field, platform="odim radar")
    title = fig.axes[0].get_title()
    assert title.startswith("2018-08-24 18:00 UTC | odim radar | COMP RATE rain_rate") and "T_PAAH21.hdf" in title
    assert has_coastlines(fig.axes[0])
