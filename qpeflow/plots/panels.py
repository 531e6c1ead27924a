"""Example maps of one case: one row per model, the same six columns in every row.

Arrays in, :class:`matplotlib.figure.Figure` out (:func:`plot_case`). Columns:
IR_108 (K, reversed grey so cold cloud tops are white), truth, member 1, member 2,
ensemble mean and probability of rain above a threshold (a deterministic model
fills the last three with "1 member"). Every row is read from that model's own
predictions file, so its IR and truth sit beside its estimate. All rain panels use
the one shared scale of :mod:`qpeflow.plots.rain_scale` (log-spaced classes
0.1 ... 100 mm/h, white below 0.1 mm/h) with one legend below the figure; pixels
the radar did not see are light grey. With a georeferenced grid every panel
carries coastlines and borders (:mod:`qpeflow.plots.coastlines`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import matplotlib as mpl
import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from qpeflow.plots.coastlines import draw_coastlines
from qpeflow.plots.palette import figure_style
from qpeflow.plots.rain_scale import NO_DATA_COLOUR, rain_colourbar, rain_image

if TYPE_CHECKING:
    from qpeflow.io.grid import Grid

MASKED_COLOUR = NO_DATA_COLOUR
COLUMNS: tuple[str, ...] = ("IR 10.8 µm", "truth", "member 1", "member 2", "ensemble mean", "P")
CELL_IN = 2.5  # inches per map cell; 6 columns at 100 dpi stay under 2000 px


@dataclass(frozen=True)
class ModelMaps:
    """One model's fields at one case, each (H, W); rain in mm/h, probability in [0, 1].

    ir_108 (K) and truth/mask come from the model's own predictions file; member2,
    mean and prob are None for a deterministic model (one member).
    """

    truth: np.ndarray
    mask: np.ndarray
    member1: np.ndarray
    ir_108: np.ndarray | None = None
    member2: np.ndarray | None = None
    mean: np.ndarray | None = None
    prob: np.ndarray | None = None

    def fields(self) -> list[tuple[np.ndarray | None, str]]:
        """(field or None, kind "ir" | "rain" | "prob") in :data:`COLUMNS` order, masked where the radar did not see."""
        hide = lambda a: None if a is None else np.where(self.mask, a, np.nan)  # noqa: E731
        return [
            (self.ir_108, "ir"),
            (hide(self.truth), "rain"),
            (hide(self.member1), "rain"),
            (hide(self.member2), "rain"),
            (hide(self.mean), "rain"),
            (hide(self.prob), "prob"),
        ]


@dataclass(frozen=True)
class CaseMaps:
    """One example case: its title (valid time, event), rows by model name, grid (None = not georeferenced)."""

    title: str
    rows: Mapping[str, ModelMaps]
    grid: Grid | None = None


def _ir_range(rows: Mapping[str, ModelMaps]) -> tuple[float, float]:
    ir = np.concatenate([np.ravel(r.ir_108) for r in rows.values() if r.ir_108 is not None] or [np.array([])])
    ir = ir[np.isfinite(ir)]
    return (float(np.percentile(ir, 1)), float(np.percentile(ir, 99))) if ir.size else (200.0, 300.0)


def _draw_cell(ax: mpl.axes.Axes, field: np.ndarray | None, kind: str, case: CaseMaps, ir_norm: Normalize) -> object:
    ax.set_xticks([])
    ax.set_yticks([])
    if field is None:
        ax.text(
            0.5,
            0.5,
            "n/a\n(no IR)" if kind == "ir" else "n/a\n(1 member)",
            ha="center",
            va="center",
            transform=ax.transAxes,
            color="0.4",
        )
        return None
    extent = None
    if case.grid is not None:
        xmin, ymin, xmax, ymax = (v / 1000.0 for v in case.grid.extent)
        extent = (xmin, xmax, ymin, ymax)
    if kind == "rain":
        im = rain_image(ax, field, extent=extent)
    else:
        cmap = mpl.colormaps["gray_r" if kind == "ir" else "Blues"].with_extremes(bad=MASKED_COLOUR)
        norm = ir_norm if kind == "ir" else Normalize(0.0, 1.0)
        im = ax.imshow(np.ma.masked_invalid(field), cmap=cmap, norm=norm, interpolation="nearest", extent=extent)
    if case.grid is not None:
        draw_coastlines(ax, case.grid, color="tab:orange" if kind == "ir" else "k")
    return im


def plot_case(case: CaseMaps, prob_threshold: float) -> Figure:
    """The example maps of one case: len(rows) x 6 map axes + IR, rain and probability colour bars.

    prob_threshold: mm/h of the last column, P(R > prob_threshold) = fraction of members.
    """
    names = list(case.rows)
    n = len(names)
    left, top, bottom, gap = 1.3, 0.75, 1.0, 0.08
    width = left + len(COLUMNS) * (CELL_IN + gap) + 0.2
    height = top + n * (CELL_IN + gap) + bottom
    titles = [*COLUMNS[:-1], f"P(R > {prob_threshold:g} mm/h)"]
    ir_norm = Normalize(*_ir_range(case.rows))
    images: dict[str, object] = {}
    with figure_style():
        fig = Figure(figsize=(width, height))
        for i, name in enumerate(names):
            y = height - top - (i + 1) * (CELL_IN + gap)
            for j, (field, kind) in enumerate(case.rows[name].fields()):
                x = left + j * (CELL_IN + gap)
                ax = fig.add_axes((x / width, y / height, CELL_IN / width, CELL_IN / height))
                im = _draw_cell(ax, field, kind, case, ir_norm)
                if im is not None:
                    images.setdefault(kind, im)
                if i == 0:
                    ax.set_title(titles[j], fontsize=10)
                if j == 0:
                    ax.set_ylabel(name, fontsize=10, fontweight="bold")
        fig.suptitle(case.title, fontsize=12, y=1 - 0.15 / height, va="top")
        _legends(fig, (width, height), left, gap, images)
    return fig


def _legends(fig: Figure, size: tuple[float, float], left: float, gap: float, images: Mapping[str, object]) -> None:
    """IR colour bar under column 0, the shared rain legend under columns 1-4, probability under column 5."""
    width, height = size
    spans = {"ir": (0, 1), "rain": (1, 5), "prob": (5, 6)}
    labels = {"ir": "IR 10.8 µm (K)", "prob": "probability"}
    for kind, (a, b) in spans.items():
        if images.get(kind) is None:
            continue
        x0, x1 = left + a * (CELL_IN + gap) + 0.2, left + b * (CELL_IN + gap) - gap - 0.2  # room for end labels
        cax = fig.add_axes((x0 / width, 0.55 / height, (x1 - x0) / width, 0.14 / height))
        if kind == "rain":
            rain_colourbar(fig, images[kind], cax=cax, orientation="horizontal")  # type: ignore[arg-type]
        else:
            fig.colorbar(images[kind], cax=cax, orientation="horizontal", label=labels[kind])  # type: ignore[arg-type]
