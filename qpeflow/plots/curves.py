"""Figures of statistical realism and ensemble calibration from precomputed score curves.

Arrays and dicts in, :class:`matplotlib.figure.Figure` out; nothing is computed here
beyond unit conversion. Inputs are :class:`Curve` objects (one per model), the
in-memory form of a ``curves`` entry of a scores JSON file (DESIGN.md, "Evaluation"):
``{"x": [...], "x_label": str, "series": {label: [float|null]}, "definition": str}``.
Null values become NaN and are left out of the lines. Model colours come from one
mapping (see :mod:`qpeflow.plots.palette`); truth and ideal references are thick black
lines drawn beneath the models, so a perfect model stays visible on top of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from qpeflow.plots.palette import TRUTH_COLOUR, colour_of, figure_style


@dataclass(frozen=True)
class Curve:
    """One score curve: x (n,) and named series (n,) with NaN where undefined."""

    x: np.ndarray
    series: dict[str, np.ndarray]
    x_label: str = ""
    definition: str = ""

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Curve:
        """Build from a scores-JSON curve dict (nulls -> NaN)."""
        x = np.asarray([np.nan if v is None else v for v in d.get("x", [])], dtype=float)
        series = {
            str(k): np.asarray([np.nan if v is None else v for v in vals], dtype=float)
            for k, vals in dict(d.get("series", {})).items()
        }
        return cls(x, series, str(d.get("x_label", "")), str(d.get("definition", "")))

    def valid(self, label: str, positive: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of series ``label`` where both are finite (and > 0 if ``positive``)."""
        y = self.series.get(label)
        if y is None or y.shape != self.x.shape:
            return np.empty(0), np.empty(0)
        ok = np.isfinite(self.x) & np.isfinite(y)
        if positive:
            ok &= (self.x > 0) & (y > 0)
        return self.x[ok], y[ok]

    def has(self, label: str) -> bool:
        """True when series ``label`` has at least one finite point."""
        return self.valid(label)[0].size > 0


@dataclass(frozen=True)
class LegendEntries:
    """Legend handles gathered while drawing, shown once below the axes: models, then keys."""

    models: list[Line2D] = field(default_factory=list)
    keys: list[Line2D] = field(default_factory=list)

    def add(self, label: str, key: bool = False, **style: Any) -> None:
        """Add a model entry (or a line-style ``key`` entry) once per label."""
        target = self.keys if key else self.models
        if label not in [h.get_label() for h in self.models + self.keys]:
            target.append(Line2D([], [], label=label, **style))

    @property
    def handles(self) -> list[Line2D]:
        return self.models + self.keys


def plain_log_axis(ax: Axes, axis: str = "x") -> None:
    """Log scale with ticks written as plain numbers (0.1, 1, 10, 2, 5), not powers.

    Call after drawing: the tick density follows the data range (round linear steps within
    a decade, 1-2-5 up to about two decades, 1-3 up to four, decades only beyond) so that
    labels neither overlap nor vanish.
    """
    getattr(ax, f"set_{axis}scale")("log")
    ax.autoscale_view()
    lo, hi = sorted(getattr(ax, f"get_{axis}lim")())
    decades = np.log10(hi / lo) if lo > 0 and hi > lo else 1.0
    subs = (1.0, 2.0, 5.0) if decades <= 2.2 else (1.0, 3.0) if decades <= 3.5 else (1.0,)
    target = ax.xaxis if axis == "x" else ax.yaxis
    # within a decade, evenly spaced round numbers label better than 1-2-5
    target.set_major_locator(MaxNLocator(nbins=5) if decades < 0.8 else LogLocator(base=10, subs=subs))
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    target.set_minor_formatter(NullFormatter())


def new_figure(
    n_axes: int, width_per_axis: float = 4.2, height: float = 3.6, max_cols: int = 3
) -> tuple[Figure, list[Axes]]:
    """A figure with ``n_axes`` panels in rows of at most ``max_cols`` (constrained layout)."""
    n_axes = max(n_axes, 1)
    ncols = min(n_axes, max_cols)
    nrows = int(np.ceil(n_axes / ncols))
    fig = Figure(figsize=(width_per_axis * ncols, height * nrows + 0.6), layout="constrained")
    axes = [fig.add_subplot(nrows, ncols, i + 1) for i in range(n_axes)]
    return fig, axes


def add_legend(fig: Figure, entries: LegendEntries) -> None:
    """Put the legend below all panels, so it never covers data."""
    if entries.handles:
        longest = max(len(h.get_label()) for h in entries.handles)
        per_row = int(fig.get_figwidth() / (0.6 + 0.085 * longest))  # legend item width in inches
        ncol = max(1, min(len(entries.handles), 5, per_row))
        fig.legend(handles=entries.handles, loc="outside lower center", ncols=ncol, frameon=False)


def no_data(ax: Axes, text: str = "no data") -> None:
    """Mark an empty panel explicitly instead of leaving it blank."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="0.4")


def _draw_qq(ax: Axes, qq: Mapping[str, Curve], colours: Mapping[str, str] | None, legend: LegendEntries) -> None:
    """Predicted vs truth quantiles per model (positive pairs only) and the 1:1 line, log-log."""
    lo, hi = np.inf, 0.0
    for name, curve in qq.items():
        t_all, p_all = curve.series.get("truth"), curve.series.get("prediction")
        if t_all is None or p_all is None or t_all.shape != p_all.shape:
            continue
        ok = np.isfinite(t_all) & np.isfinite(p_all) & (t_all > 0) & (p_all > 0)
        if ok.any():
            ax.plot(t_all[ok], p_all[ok], "o-", ms=3, color=colour_of(name, colours))
            legend.add(name, color=colour_of(name, colours))
            lo = min(lo, t_all[ok].min(), p_all[ok].min())
            hi = max(hi, t_all[ok].max(), p_all[ok].max())
    if hi > 0:
        ax.plot([lo, hi], [lo, hi], color=TRUTH_COLOUR, lw=2.5, zorder=1.5)
        legend.add("truth / 1:1", key=True, color=TRUTH_COLOUR)
        plain_log_axis(ax, "x")
        plain_log_axis(ax, "y")
    else:
        no_data(ax)
    ax.set(xlabel="truth quantile (mm/h)", ylabel="predicted quantile (mm/h)", title="QQ plot")


def _draw_with_truth(
    ax: Axes,
    curves: Mapping[str, Curve],
    colours: Mapping[str, str] | None,
    legend: LegendEntries,
    truth_label: str,
    x_factor: float = 1.0,
    steps: bool = False,
) -> None:
    """Series ``prediction`` of every model and ``truth`` once (thick black, beneath), log-log."""
    style = {"drawstyle": "steps-mid"} if steps else {}
    truth_drawn = False
    for name, curve in curves.items():
        x, y = curve.valid("prediction", positive=True)
        if x.size:  # a marker keeps a one-bin spike (e.g. GPI's single rate) visible
            ax.plot(x * x_factor, y, color=colour_of(name, colours), marker="o" if x.size < 3 else None, **style)
            legend.add(name, color=colour_of(name, colours))
        xt, yt = curve.valid("truth", positive=True)
        if xt.size and not truth_drawn:
            ax.plot(xt * x_factor, yt, color=TRUTH_COLOUR, lw=2.5, zorder=1.5, **style)
            legend.add(truth_label, key=True, color=TRUTH_COLOUR)
            truth_drawn = True
    if ax.lines:
        plain_log_axis(ax, "x")
        ax.set_yscale("log")
    else:
        no_data(ax)


def plot_qq_histogram(
    qq: Mapping[str, Curve], histogram: Mapping[str, Curve], colours: Mapping[str, str] | None = None
) -> Figure:
    """QQ plot (log-log, 1:1 line) and pooled log-binned histograms, 2 axes.

    qq[model]: x = quantile levels, series ``truth``/``prediction`` in mm/h.
    histogram[model]: x = log-bin centres (mm/h), series ``truth``/``prediction`` (density).
    """
    with figure_style():
        fig, (ax_qq, ax_h) = new_figure(2)
        legend = LegendEntries()
        _draw_qq(ax_qq, qq, colours, legend)
        _draw_with_truth(ax_h, histogram, colours, legend, "truth / 1:1", steps=True)
        label = next((c.x_label for c in histogram.values() if c.x_label), "rain rate (mm/h)")
        ax_h.set(xlabel=label, ylabel="frequency", title="Pooled histogram (log bins)")
        for ax in (ax_qq, ax_h):
            ax.grid(True, which="major", alpha=0.3)
        add_legend(fig, legend)
    return fig


def plot_rapsd(
    rapsd: Mapping[str, Curve],
    ratio: Mapping[str, Curve],
    colours: Mapping[str, str] | None = None,
    resolution_km: float | None = None,
) -> Figure:
    """Mean RAPSD (log-log) and its ratio prediction / truth per wavelength, 2 axes.

    rapsd[model]: x = wavelength (px), series ``truth``/``prediction`` (power, arbitrary
    units); ratio[model]: series ``ratio``. The wavelength axis is in km when
    ``resolution_km`` (km per pixel) is known, else in pixels; large scales on the left.
    """
    scale, unit = (resolution_km, "km") if resolution_km else (1.0, "px")
    with figure_style():
        fig, (ax_p, ax_r) = new_figure(2)
        legend = LegendEntries()
        _draw_with_truth(ax_p, rapsd, colours, legend, "truth (ratio 1)", x_factor=scale)
        as_prediction = {
            n: Curve(c.x, {"prediction": c.series.get("ratio", np.full(c.x.shape, np.nan))}) for n, c in ratio.items()
        }
        _draw_with_truth(ax_r, as_prediction, colours, legend, "truth (ratio 1)", x_factor=scale)
        ax_p.set(ylabel="power spectral density", title="RAPSD")
        ax_r.set(ylabel="prediction / truth", title="RAPSD ratio")
        for ax in (ax_p, ax_r):
            if ax.lines:
                ax.invert_xaxis()
            ax.set_xlabel(f"wavelength ({unit})")
            ax.grid(True, which="major", alpha=0.3)
        if ax_r.lines:
            ax_r.axhline(1.0, color=TRUTH_COLOUR, lw=2.5, zorder=1.5)
            plain_log_axis(ax_r, "y")
        add_legend(fig, legend)
    return fig


def plot_rank_histograms(rank: Mapping[str, Curve], colours: Mapping[str, str] | None = None) -> Figure:
    """One small rank-histogram panel per ensemble model with the flat reference line.

    rank[model]: x = rank 0..M, series ``frequency``. Models without a finite histogram
    (deterministic ones) are left out; with none at all one panel says so.
    """
    usable = {n: c for n, c in rank.items() if c.has("frequency")}
    with figure_style():
        fig, axes = new_figure(len(usable), width_per_axis=3.2, height=2.8, max_cols=4)
        if not usable:
            no_data(axes[0], "no ensemble model")
            axes[0].set_title("Rank histogram")
        for ax, (name, curve) in zip(axes, usable.items()):
            x, y = curve.valid("frequency")
            ax.bar(x, y, width=0.9, color=colour_of(name, colours))
            ax.axhline(float(np.mean(y)), color=TRUTH_COLOUR, lw=1.5, ls="--")
            ax.set(title=name, xlabel="rank of truth", ylabel="frequency")
            ax.set_ylim(0, max(float(y.max()) * 1.15, 1e-9))
        if usable:
            entries = LegendEntries()
            entries.add("flat (calibrated)", key=True, color=TRUTH_COLOUR, ls="--")
            add_legend(fig, entries)
    return fig


def plot_spread_skill(spread_skill: Mapping[str, Curve], colours: Mapping[str, str] | None = None) -> Figure:
    """Binned spread-skill: RMSE of the ensemble mean vs ensemble spread, with 1:1 line, 1 axes.

    spread_skill[model]: x = spread bin centres (mm/h), series ``rmse`` (mm/h) and optionally
    ``spread`` (mean spread in each bin, mm/h), used as abscissa when present.
    """
    with figure_style():
        fig, (ax,) = new_figure(1, width_per_axis=5.0, height=4.2)
        legend = LegendEntries()
        hi = 0.0
        for name, curve in spread_skill.items():
            x, y = curve.valid("rmse")
            if curve.has("spread"):  # the mean spread in each bin is a better abscissa than its centre
                _, x = Curve(curve.series["rmse"], {"s": curve.series["spread"]}).valid("s")
            if x.size:
                ax.plot(x, y, "o-", ms=4, color=colour_of(name, colours))
                legend.add(name, color=colour_of(name, colours))
                hi = max(hi, float(x.max()), float(y.max()))
        positive = [v for ln in ax.get_lines() for v in (*ln.get_xdata(), *ln.get_ydata()) if v > 0]
        if hi > 0 and hi / min(positive) > 100:  # spreads over decades: log-log, zero spread not drawn
            lo = min(positive)
            ax.plot([lo, hi], [lo, hi], color=TRUTH_COLOUR, lw=2.5, zorder=1.5)
            plain_log_axis(ax, "x")
            plain_log_axis(ax, "y")
        elif hi > 0:
            ax.plot([0, hi], [0, hi], color=TRUTH_COLOUR, lw=2.5, zorder=1.5)
            ax.set_xlim(0, hi * 1.05)
            ax.set_ylim(0, hi * 1.05)
        if hi > 0:
            legend.add("1:1 (calibrated)", key=True, color=TRUTH_COLOUR)
        else:
            no_data(ax, "no ensemble model")
        ax.set(xlabel="ensemble spread (mm/h)", ylabel="RMSE of ensemble mean (mm/h)", title="Spread-skill")
        ax.grid(True, alpha=0.3)
        add_legend(fig, legend)
    return fig


def plot_reliability(
    reliability: Mapping[float, Mapping[str, Curve]], colours: Mapping[str, str] | None = None
) -> Figure:
    """Reliability diagrams, one axes per threshold (mm/h), with the diagonal.

    reliability[threshold][model]: x = forecast probability, series ``observed_frequency``.
    """
    thresholds: Sequence[float] = sorted(reliability)
    with figure_style():
        fig, axes = new_figure(len(thresholds), width_per_axis=4.0, height=4.0)
        legend = LegendEntries()
        for ax, thr in zip(axes, thresholds):
            for name, curve in reliability[thr].items():
                x, y = curve.valid("observed_frequency")
                if x.size:
                    ax.plot(x, y, "o-", ms=4, color=colour_of(name, colours))
                    legend.add(name, color=colour_of(name, colours))
            ax.plot([0, 1], [0, 1], color=TRUTH_COLOUR, lw=2.5, zorder=1.5)
            ax.set(
                xlim=(0, 1),
                ylim=(0, 1),
                xlabel="forecast probability",
                ylabel="observed frequency",
                title=f"Reliability, > {thr:g} mm/h",
            )
            ax.set_aspect("equal")
            ax.grid(True, alpha=0.3)
        legend.add("perfect reliability", key=True, color=TRUTH_COLOUR)
        add_legend(fig, legend)
    return fig
