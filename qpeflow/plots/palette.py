"""The one place where the report's colours and font sizes are fixed.

Every score figure takes a ``colours`` mapping (model name -> colour) built once by
:func:`model_colours`, so a model keeps its colour in every figure of a report.
Truth is always black. Every model, learned or not (GPI, Auto-Estimator), is
coloured by the same rule: the palette in sorted name order.
"""

from __future__ import annotations

from collections.abc import Iterable

import matplotlib as mpl

#: Okabe & Ito (2008) colour-blind safe palette without black/yellow, then tab10 extras.
MODEL_PALETTE: tuple[str, ...] = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#9467bd",  # purple (tab10)
    "#17becf",  # cyan (tab10)
    "#bcbd22",  # olive (tab10)
    "#e377c2",  # pink (tab10)
)

TRUTH_COLOUR = "black"

#: line style per verified quantity (member 1 solid, ensemble mean dashed)
SERIES_STYLES: dict[str, str] = {"member1": "-", "ensemble_mean": "--", "prediction": "-"}

#: minimum font sizes for readable figures (points)
FONT_SIZES: dict[str, float] = {
    "font.size": 10,
    "axes.titlesize": 10.5,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "figure.titlesize": 12,
}


def model_colours(names: Iterable[str]) -> dict[str, str]:
    """Colour per model name: :data:`MODEL_PALETTE` in sorted name order (cycling beyond ten models).

    Stable for a given set of names, whatever their order; every model is treated alike.
    """
    return {name: MODEL_PALETTE[i % len(MODEL_PALETTE)] for i, name in enumerate(sorted(set(names)))}


def colour_of(name: str, colours: dict[str, str] | None) -> str:
    """The colour of ``name`` from ``colours``, or a palette colour derived from the name."""
    if colours and name in colours:
        return colours[name]
    return MODEL_PALETTE[sum(map(ord, name)) % len(MODEL_PALETTE)]


def figure_style() -> mpl.rc_context:
    """Context manager that applies :data:`FONT_SIZES` while a figure is built."""
    return mpl.rc_context(FONT_SIZES)
