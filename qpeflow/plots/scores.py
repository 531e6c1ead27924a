"""Figures of spatial skill, localisation randomness and cost from precomputed scores.

Arrays and dicts in, :class:`matplotlib.figure.Figure` out; no score is computed here.
Curves are :class:`qpeflow.plots.curves.Curve` objects (one per model) read from the
scores JSON files; scalars are plain floats with ``None`` for undefined values.
Member 1 is drawn solid and the ensemble mean dashed, in the model's colour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from qpeflow.plots.curves import Curve, LegendEntries, add_legend, new_figure, no_data, plain_log_axis
from qpeflow.plots.palette import SERIES_STYLES, TRUTH_COLOUR, colour_of, figure_style

SERIES_LABELS: dict[str, str] = {"member1": "member 1 (solid)", "ensemble_mean": "ensemble mean (dashed)"}

#: (key in NfePoint.values, axis label, reference value or None) of the quality-vs-NFE panels
NFE_METRICS: tuple[tuple[str, str, float | None], ...] = (
    ("csi", "CSI (member 1)", None),
    ("p99_ratio", "P99 ratio (pred / truth)", 1.0),
    ("rapsd_small_scale_ratio", "RAPSD small-scale ratio", 1.0),
)


def _same_series(curve: Curve, a: str, b: str) -> bool:
    """True when series ``a`` and ``b`` of ``curve`` are equal (NaN equal to NaN)."""
    ya, yb = curve.series.get(a), curve.series.get(b)
    return ya is not None and yb is not None and ya.shape == yb.shape and bool(np.allclose(ya, yb, equal_nan=True))


def _draw_series(
    ax: Axes, curves: Mapping[str, Curve], colours: Mapping[str, str] | None, legend: LegendEntries
) -> None:
    """Draw the member1/ensemble_mean series of every model on ``ax``."""
    for name, curve in curves.items():
        for label, style in ((lb, SERIES_STYLES[lb]) for lb in SERIES_LABELS):
            x, y = curve.valid(label)
            if x.size == 0 or (label != "member1" and _same_series(curve, label, "member1")):
                continue  # a deterministic model's ensemble mean is its member 1
            ax.plot(x, y, style, marker="o", ms=3, color=colour_of(name, colours))
            legend.add(name, color=colour_of(name, colours))
            legend.add(SERIES_LABELS[label], key=True, color="0.35", ls=style)


def plot_csi_bias(
    csi: Mapping[str, Curve], bias: Mapping[str, Curve], colours: Mapping[str, str] | None = None
) -> Figure:
    """CSI and frequency bias vs threshold (mm/h, log x), 2 axes.

    csi[model], bias[model]: x = thresholds (mm/h), series ``member1``/``ensemble_mean``.
    """
    with figure_style():
        fig, (ax_c, ax_b) = new_figure(2, width_per_axis=4.8)
        legend = LegendEntries()
        _draw_series(ax_c, csi, colours, legend)
        _draw_series(ax_b, bias, colours, legend)
        ax_c.set(xlabel="threshold (mm/h)", ylabel="CSI", title="Critical success index", ylim=(0, 1.02))
        ax_b.set(xlabel="threshold (mm/h)", ylabel="frequency bias", title="Frequency bias")
        ax_b.axhline(1.0, color=TRUTH_COLOUR, lw=2.5, zorder=1.5)
        values = np.concatenate([c.valid(s)[1] for c in bias.values() for s in SERIES_LABELS] or [np.empty(0)])
        if values.size and np.all(values > 0):
            plain_log_axis(ax_b, "y")
        for ax in (ax_c, ax_b):
            if ax.lines:
                plain_log_axis(ax, "x")
            else:
                no_data(ax)
            ax.grid(True, which="major", alpha=0.3)
        add_legend(fig, legend)
    return fig


def plot_fss_scales(fss: Mapping[float, Mapping[str, Curve]], colours: Mapping[str, str] | None = None) -> Figure:
    """FSS vs neighbourhood scale (px, log2 x), one axes per threshold (mm/h).

    fss[threshold][model]: x = scales (px), series ``member1``/``ensemble_mean``.
    The dotted line at 0.5 is the usual "useful skill" guide (Roberts & Lean 2008).
    """
    thresholds = sorted(fss)
    with figure_style():
        fig, axes = new_figure(len(thresholds), width_per_axis=4.0)
        legend = LegendEntries()
        for ax, thr in zip(axes, thresholds):
            _draw_series(ax, fss[thr], colours, legend)
            if ax.lines:
                ax.set_xscale("log", base=2)
                ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            else:
                no_data(ax)
            ax.axhline(0.5, color="0.5", lw=1, ls=":")
            ax.set(xlabel="scale (px)", ylabel="FSS", title=f"FSS, > {thr:g} mm/h", ylim=(0, 1.02))
            ax.grid(True, which="major", alpha=0.3)
        if not thresholds:
            no_data(axes[0])
        add_legend(fig, legend)
    return fig


def _bars(ax: Axes, values: Mapping[str, float | None], colours: Mapping[str, str] | None) -> None:
    """Horizontal bars, one per model, with "n/a" where the value is undefined."""
    names = list(values)
    for i, name in enumerate(names):
        v = values[name]
        if v is None or not np.isfinite(v):
            ax.text(0, i, "  n/a", va="center", ha="left", color="0.4")
            continue
        ax.barh(i, v, color=colour_of(name, colours), height=0.7)
        ax.text(v, i, f" {v:.3g}", va="center", ha="left", fontsize=9)
    ax.set_yticks(range(len(names)), names)
    ax.set_ylim(len(names) - 0.5, -0.5)  # first model on top, room for every row
    finite = [v for v in values.values() if v is not None and np.isfinite(v)]
    ax.set_xlim(0, max(finite + [1e-9]) * 1.25)


def plot_member_agreement(
    member_fss: Mapping[str, float | None],
    centroid_spread: Mapping[str, float | None],
    colours: Mapping[str, str] | None = None,
    setting: str = "",
) -> Figure:
    """Localisation randomness: member-to-member FSS and centroid spread, 2 axes.

    setting: threshold and window of the member FSS for the title, e.g. "5 mm/h, 8 px".

    member_fss[model]: mean FSS between pairs of members (1 = members agree on where it
    rains); centroid_spread[model]: spread of rain-object centroids across members (px).
    ``None`` (deterministic models) is shown as "n/a".
    """
    with figure_style():
        height = 1.2 + 0.45 * max(len(member_fss), len(centroid_spread), 1)
        fig, (ax_f, ax_c) = new_figure(2, width_per_axis=4.6, height=height)
        _bars(ax_f, member_fss, colours)
        _bars(ax_c, centroid_spread, colours)
        ax_f.set(xlabel="FSS between members", title="Member-to-member FSS" + (f" ({setting})" if setting else ""))
        ax_f.set_xlim(0, 1.15)
        ax_c.set(xlabel="centroid spread (px)", title="Spread of rain-object centroids")
        for ax in (ax_f, ax_c):
            ax.grid(True, axis="x", alpha=0.3)
    return fig


@dataclass(frozen=True)
class NfePoint:
    """One model run for the quality-vs-cost figure.

    name: model name (colour key); method: method label that groups runs (e.g. "cfm");
    nfe: network evaluations per member; values: metric key of :data:`NFE_METRICS` -> value.
    """

    name: str
    method: str
    nfe: float
    values: Mapping[str, float | None]


def nfe_groups(points: Sequence[NfePoint]) -> dict[str, list[NfePoint]]:
    """Method label -> its points sorted by NFE, for methods with >= 2 distinct NFE > 0."""
    groups: dict[str, list[NfePoint]] = {}
    for p in points:
        if p.nfe is not None and np.isfinite(p.nfe) and p.nfe > 0:
            groups.setdefault(p.method, []).append(p)
    return {m: sorted(ps, key=lambda p: p.nfe) for m, ps in sorted(groups.items()) if len({p.nfe for p in ps}) >= 2}


def plot_quality_vs_nfe(
    points: Sequence[NfePoint], colours: Mapping[str, str] | None = None, csi_label: str = "CSI"
) -> Figure:
    """CSI (at the threshold named by ``csi_label``), P99 ratio and RAPSD small-scale ratio vs NFE (log x), 3 axes.

    Runs are grouped by method label; only methods with several step counts are drawn,
    one line per method in the colour of its first (lowest-NFE) run.
    """
    groups = nfe_groups(points)
    with figure_style():
        fig, axes = new_figure(len(NFE_METRICS), width_per_axis=4.0)
        legend = LegendEntries()
        for ax, (key, label, ref) in zip(axes, NFE_METRICS):
            label = label.replace("CSI", csi_label, 1) if key == "csi" else label
            for method, pts in groups.items():
                xy = [(p.nfe, p.values.get(key)) for p in pts]
                xy = [(x, y) for x, y in xy if y is not None and np.isfinite(y)]
                if xy:
                    colour = colour_of(pts[0].name, colours)
                    ax.plot(*zip(*xy), "o-", color=colour)
                    legend.add(method, color=colour, marker="o")
            if ref is not None:
                ax.axhline(ref, color=TRUTH_COLOUR, lw=2.5, zorder=1.5)
                ys = [y for ln in ax.get_lines() for y in ln.get_ydata()]
                if ys and min(ys) > 0:  # ratios: x2 and x1/2 equally far from the ideal 1
                    plain_log_axis(ax, "y")
            if groups:
                plain_log_axis(ax, "x")
                nfes = sorted({p.nfe for pts in groups.values() for p in pts})
                ax.set_xticks(nfes, [f"{v:g}" for v in nfes])
                ax.margins(x=0.08)
            else:
                no_data(ax, "no method with several step counts")
            ax.set(xlabel="NFE per member", ylabel=label, title=label.split(" (")[0] + " vs NFE")
            ax.grid(True, which="major", alpha=0.3)
        add_legend(fig, legend)
    return fig
