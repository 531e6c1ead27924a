"""Example-maps panel: IR, truth and each model's members, mean and exceedance probability.

Arrays in, :class:`matplotlib.figure.Figure` out. Rows are examples (valid times);
columns are IR_108 (K, reversed grey so cold cloud tops are white), truth, then per
model member 1, member 2, ensemble mean and probability of > 1 mm/h (deterministic
models only have one column). Every rain panel shares one logarithmic colour scale
of 0.1-100 mm/h (below 0.1 mm/h white), masked pixels (radar did not see) are light
grey, and each of the three colour scales has one shared colourbar below the panel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import matplotlib as mpl
import numpy as np
from matplotlib.colors import Colormap, LogNorm, Normalize
from matplotlib.figure import Figure

from qpeflow.plots.palette import figure_style

RAIN_RANGE_MMH: tuple[float, float] = (0.1, 100.0)
RAIN_TICKS_MMH: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
MASKED_COLOUR = "#cfcfcf"
PROB_THRESHOLD_MMH = 1.0


@dataclass(frozen=True)
class ModelMaps:
    """Fields of one model at the example times, each (n, H, W); mm/h, probability in [0, 1].

    member2, mean and prob are None for a deterministic model (one member).
    """

    member1: np.ndarray
    member2: np.ndarray | None = None
    mean: np.ndarray | None = None
    prob: np.ndarray | None = None

    def columns(self) -> list[tuple[str, np.ndarray, str]]:
        """(column title, fields (n, H, W), kind "rain"|"prob") in display order."""
        if self.member2 is None and self.mean is None and self.prob is None:
            return [("estimate", self.member1, "rain")]
        cols = [("member 1", self.member1, "rain")]
        for title, arr, kind in (
            ("member 2", self.member2, "rain"),
            ("ens. mean", self.mean, "rain"),
            (f"P(> {PROB_THRESHOLD_MMH:g} mm/h)", self.prob, "prob"),
        ):
            if arr is not None:
                cols.append((title, arr, kind))
        return cols


def _cmap(name: str, under: str | None) -> Colormap:
    return mpl.colormaps[name].with_extremes(bad=MASKED_COLOUR, under=under)


def _masked(fields: np.ndarray, mask: np.ndarray | None, floor: float | None) -> np.ndarray:
    """NaN outside the radar mask; values raised to ``floor`` so log scales show them as 'under'."""
    out = np.asarray(fields, dtype=float)
    if floor is not None:
        out = np.where(np.isfinite(out), np.maximum(out, floor), np.nan)
    if mask is not None:
        out = np.where(np.asarray(mask, dtype=bool), out, np.nan)
    return out


def plot_example_maps(
    ir_108: np.ndarray | None,
    truth: np.ndarray,
    models: Mapping[str, ModelMaps],
    mask: np.ndarray | None = None,
    row_titles: Sequence[str] | None = None,
    ir_range: tuple[float, float] | None = None,
) -> Figure:
    """The example-maps panel, n rows x (2 + model columns) map axes + 3 colourbar axes.

    ir_108: (n, H, W) brightness temperature in K, or None (no IR column); truth: (n, H, W) mm/h; mask: (n, H, W)
    True where the radar saw (None = everywhere); row_titles: n labels (e.g. valid times);
    ir_range: (vmin, vmax) K, default the 1st-99th percentile of ``ir_108``.
    """
    n = int(truth.shape[0])
    groups: list[list[tuple[str, np.ndarray, str]]] = [[("truth", truth, "rain")]]
    if ir_108 is not None:
        groups[0].insert(0, ("IR 10.8 µm", np.asarray(ir_108, float), "ir"))
    for name, maps in models.items():
        groups.append([(f"{name}\n{title}", arr, kind) for title, arr, kind in maps.columns()])
    styles = _styles(ir_108, ir_range)
    lefts = _column_lefts([len(g) for g in groups])
    columns = [col for group in groups for col in group]
    width = LAYOUT["left"] + lefts[-1] + LAYOUT["cell"] + LAYOUT["right"]
    height = LAYOUT["top"] + n * LAYOUT["cell"] + (n - 1) * LAYOUT["row_gap"] + LAYOUT["bottom"]
    with figure_style():
        fig = Figure(figsize=(width, height))  # fixed layout in inches: map cells stay square and aligned
        images = {}
        for j, ((title, arr, kind), x) in enumerate(zip(columns, lefts)):
            cmap, norm, floor = styles[kind]
            data = _masked(arr, None if kind == "ir" else mask, floor)
            for i in range(n):
                y = height - LAYOUT["top"] - (i + 1) * LAYOUT["cell"] - i * LAYOUT["row_gap"]
                ax = fig.add_axes(
                    ((LAYOUT["left"] + x) / width, y / height, LAYOUT["cell"] / width, LAYOUT["cell"] / height)
                )
                images[kind] = ax.imshow(data[i], cmap=cmap, norm=norm, interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
                if i == 0:
                    ax.set_title(title, fontsize=9.5)
                if j == 0 and row_titles is not None:
                    ax.set_ylabel(row_titles[i], fontsize=9)
        _colourbars(fig, (width, height), lefts, images)
    return fig


def _styles(
    ir_108: np.ndarray | None, ir_range: tuple[float, float] | None
) -> dict[str, tuple[Colormap, Normalize, float | None]]:
    """kind -> (colour map, norm, floor) for "ir", "rain" (log 0.1-100 mm/h) and "prob"."""
    if ir_range is None:
        ir = np.asarray(ir_108 if ir_108 is not None else [], float)
        finite = ir[np.isfinite(ir)]
        ir_range = (
            (float(np.percentile(finite, 1)), float(np.percentile(finite, 99))) if finite.size else (200.0, 300.0)
        )
    return {
        "ir": (_cmap("gray_r", None), Normalize(*ir_range), None),
        "rain": (_cmap("viridis_r", "white"), LogNorm(*RAIN_RANGE_MMH), 1e-6),
        "prob": (_cmap("Blues", None), Normalize(0.0, 1.0), None),
    }


#: fixed layout of the maps panel, inches
LAYOUT: dict[str, float] = {
    "cell": 1.4,
    "gap": 0.08,
    "group_gap": 0.3,
    "left": 0.55,
    "right": 0.15,
    "top": 0.55,
    "row_gap": 0.1,
    "bottom": 0.85,
}


def _column_lefts(group_sizes: Sequence[int]) -> list[float]:
    """Left edge (inches from the first column) of every map column, groups set apart."""
    lefts, x = [], 0.0
    for size in group_sizes:
        for k in range(size):
            lefts.append(x)
            x += LAYOUT["cell"] + (LAYOUT["gap"] if k < size - 1 else LAYOUT["group_gap"])
    return lefts


def _colourbars(
    fig: Figure, size: tuple[float, float], lefts: Sequence[float], images: Mapping[str, mpl.image.AxesImage]
) -> None:
    """Shared horizontal colourbars below the maps: IR (under column 0) | rain | probability."""
    width, height = size
    cell, end = LAYOUT["cell"], lefts[-1] + LAYOUT["cell"]
    rain_start = lefts[1] if "ir" in images else lefts[0]  # IR, when present, is column 0
    prob_w = min(2 * cell + LAYOUT["gap"], end - rain_start - cell) if "prob" in images else 0.0
    spans = {
        "ir": (0.0, cell),
        "rain": (rain_start, end - (prob_w + LAYOUT["group_gap"] if prob_w else 0.0)),
        "prob": (end - prob_w, end),
    }
    labels = {
        "ir": "IR 10.8 µm (K)",
        "rain": "rain rate (mm/h, log); white < 0.1, grey = no radar",
        "prob": f"P(rain > {PROB_THRESHOLD_MMH:g} mm/h)",
    }
    for kind in ("ir", "rain", "prob"):
        if kind not in images:
            continue
        a, b = spans[kind]
        cax = fig.add_axes(((LAYOUT["left"] + a) / width, 0.5 / height, (b - a) / width, 0.13 / height))
        extend = "min" if kind == "rain" else "neither"
        cb = fig.colorbar(images[kind], cax=cax, orientation="horizontal", extend=extend)
        if kind == "rain":
            cb.set_ticks(RAIN_TICKS_MMH, labels=[f"{t:g}" for t in RAIN_TICKS_MMH])
            cb.ax.minorticks_off()
        cb.set_label(labels[kind], fontsize=9)
        cb.ax.tick_params(labelsize=9)
