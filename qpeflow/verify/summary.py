"""Suite results -> named scalars and curves, each with its definition (the scores-file contract).

``summarise(scores)`` returns ``Summary(scalars, curves)``:

- ``scalars``: list of ``{"name", "value", "threshold", "scale", "on", "definition", "reason"}``
  with ``on`` in {"member1", "ensemble_mean", "ensemble", "pooled"}; ``value`` is a
  float or None (NaN), ``reason`` says why it is None.
- ``curves``: ``{name: {"x", "x_label", "series": {label: [float|None]}, "definition"}}``.

Plain Python types only, ready for ``json.dump``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from qpeflow.verify.suite import VIEWS, SuiteScores
from qpeflow.verify.value import ScoreValue

DEFINITIONS: dict[str, str] = {
    "pod": "probability of detection H/(H+M); event R > threshold (mm/h)",
    "far": "false alarm ratio F/(H+F); event R > threshold",
    "csi": "critical success index H/(H+F+M); event R > threshold",
    "hss": "Heidke skill score 2(HR-FM)/((H+M)(M+R)+(H+F)(F+R)); event R > threshold",
    "ets": "equitable threat score (H-Hr)/(H+F+M-Hr), Hr=(H+M)(H+F)/N; event R > threshold",
    "bias": "frequency bias (H+F)/(H+M); event R > threshold",
    "fss": "fractions skill score (Roberts & Lean 2008), event R >= threshold, square window of `scale` px",
    "mae": "mean absolute error, mm/h",
    "rmse": "root mean square error, mm/h",
    "me": "mean error prediction - truth, mm/h",
    "pearson": "Pearson correlation of rain rate",
    "spearman": "Spearman rank correlation (exact up to 1e6 pixel pairs, else on a uniform sample of 1e6)",
    "mae_log": "mean absolute error of ln(R + 0.1 mm/h)",
    "rmse_log": "root mean square error of ln(R + 0.1 mm/h)",
    "me_log": "mean error of ln(R + 0.1 mm/h)",
    "pearson_log": "Pearson correlation of ln(R + 0.1 mm/h)",
    "w1_log": "Wasserstein-1 distance between pooled distributions of ln(R + 0.1 mm/h), all members",
    "p95_ratio": "95th percentile of all valid pixels (dry included), prediction / truth, all members pooled",
    "p99_ratio": "99th percentile, prediction / truth, all members pooled",
    "p999_ratio": "99.9th percentile, prediction / truth, all members pooled",
    "max_ratio": "maximum rain rate, prediction / truth, all members pooled",
    "wet_fraction_ratio": "fraction of pixels > 0.1 mm/h, prediction / truth, all members pooled",
    "std_ratio": "standard deviation of rain rate over all pixels, prediction / truth, all members pooled",
    "std_truth": "standard deviation of the truth over all valid pixels, mm/h",
    "std_prediction": "standard deviation of the prediction over all valid pixels and members, mm/h",
    "wet_fraction_truth": "fraction of valid truth pixels > 0.1 mm/h",
    "rapsd_small_scale_ratio": "mean over wavelengths < 16 px of RAPSD(prediction) / RAPSD(truth), member 1",
    "crps": "fair CRPS (Ferro 2014), mm/h; equals the MAE for 1 member",
    "crps_ensemble": "CRPS of the empirical ensemble CDF (Hersbach 2000, as pysteps), mm/h",
    "rank_flatness": "rank histogram reliability index sum_k |f_k - 1/(M+1)| (0 = flat; lower is better)",
    "spread_skill": "sqrt((1+1/M) mean member variance) / RMSE(ensemble mean) (Fortin et al. 2014); 1 = calibrated",
    "brier": "Brier score of P(R >= threshold) = fraction of members; lower is better",
    "member_fss": "mean FSS between pairs of members, R >= 5 mm/h, 8 px window (1 = members agree on location)",
    "centroid_spread": "mean distance (px) from a rain object (>= 5 mm/h, 4-connected) to the nearest object"
    " of another member",
    "objects_per_member_field": "mean number of rain objects (>= 5 mm/h) in one member's field",
    "class_csi": "CSI of one intensity class (pixels with lower <= R < upper, mm/h; `threshold` = lower edge):"
    " H/(H+F+M) from the class confusion matrix",
    "class_pod": "POD of one intensity class: fraction of pixels observed in the class predicted in it",
    "class_far": "FAR of one intensity class: fraction of pixels predicted in the class observed in another",
    "class_mae": "mean absolute error (mm/h) over the pixels observed in one intensity class",
}

CURVE_DEFINITIONS: dict[str, str] = {
    "csi_vs_threshold": "critical success index against threshold (event R > threshold)",
    "bias_vs_threshold": "frequency bias against threshold (1 = unbiased)",
    "fss_vs_scale": "FSS against window size at threshold {thr:g} mm/h",
    "rapsd": "mean radially averaged power spectral density, (mm/h)^2, member 1; NaN filled with 0",
    "rapsd_ratio": "RAPSD(prediction) / RAPSD(truth) per wavelength, member 1",
    "histogram": "fraction of valid pixels per unit log10(R), 10 bins per decade; all members pooled",
    "qq": "quantiles of all valid pixels (dry included), mm/h; all members pooled",
    "rank_histogram": "relative frequency of the rank of the truth among the members (ties at random)",
    "spread_skill": "RMSE of the ensemble mean per bin of corrected spread sqrt((1+1/M) var); calibrated: rmse = spread",
    "class_confusion": "row-normalised intensity-class confusion matrix: series = observed class, x = predicted"
    " class index, value = fraction of that observed class's pixels predicted in the class (rows sum to 1)",
    "reliability": "observed frequency of R >= {thr:g} mm/h per forecast probability k/M, with pixel counts",
}


@dataclass(frozen=True)
class Summary:
    """Scalars (list of entries) and curves (name -> entry) of the scores file."""

    scalars: list[dict[str, Any]]
    curves: dict[str, dict[str, Any]]


def json_number(x: float) -> float | None:
    """Float, or None for NaN / inf (JSON has no NaN)."""
    x = float(x)
    return x if math.isfinite(x) else None


def scalar(
    name: str, score: ScoreValue, on: str, threshold: float | None = None, scale: int | None = None
) -> dict[str, Any]:
    """One scalar entry of the scores file."""
    value = json_number(score.value)
    reason = score.reason if value is None else None
    if value is None and reason is None:
        reason = "not finite"
    return {
        "name": name,
        "value": value,
        "threshold": threshold,
        "scale": scale,
        "on": on,
        "definition": DEFINITIONS.get(name, name),
        "reason": reason,
    }


def curve(x: Any, x_label: str, series: dict[str, Any], definition: str) -> dict[str, Any]:
    """One curve entry; NaN -> None."""
    return {
        "x": [json_number(v) for v in np.asarray(x, float)],
        "x_label": x_label,
        "series": {k: [json_number(v) for v in np.asarray(s, float)] for k, s in series.items()},
        "definition": definition,
    }


def _deterministic_scalars(scores: SuiteScores) -> list[dict[str, Any]]:
    out = []
    for view in VIEWS:
        cat = scores.categorical[view]
        for name in ("pod", "far", "csi", "hss", "ets", "bias"):
            out += [scalar(name, v, view, threshold=t) for t, v in zip(cat.thresholds, getattr(cat, name))]
        f = scores.fss[view]
        for t, row in zip(f.thresholds, f.fss):
            out += [scalar("fss", v, view, threshold=t, scale=s) for s, v in zip(f.scales, row)]
        out += _class_scalars(scores, view)
        c = scores.continuous[view]
        for name in ("mae", "rmse", "me", "pearson", "spearman", "mae_log", "rmse_log", "me_log", "pearson_log"):
            out.append(scalar(name, getattr(c, name), view))
    return out


def class_label(names: tuple[str, ...], edges: tuple[float, ...], k: int) -> str:
    """``"slight [0.1, 2.5) mm/h"``: the class name and its interval."""
    lo = 0.0 if k == 0 else edges[k - 1]
    hi = f"{edges[k]:g})" if k < len(edges) else "inf)"
    return f"{names[k]} [{lo:g}, {hi} mm/h"


def _class_scalars(scores: SuiteScores, view: str) -> list[dict[str, Any]]:
    """class_csi / class_pod / class_far / class_mae per class; ``threshold`` = the class's lower edge,
    ``class`` = its name (the no-rain class has threshold 0)."""
    if view not in scores.classes:
        return []
    cl = scores.classes[view]
    out = []
    for name in ("csi", "pod", "far", "mae"):
        for k, v in enumerate(getattr(cl, name)):
            entry = scalar(f"class_{name}", v, view, threshold=0.0 if k == 0 else cl.edges[k - 1])
            entry["class"] = cl.names[k]
            entry["definition"] += f"; class {class_label(cl.names, cl.edges, k)}"
            out.append(entry)
    return out


def _ensemble_scalars(scores: SuiteScores) -> list[dict[str, Any]]:
    d, e, loc = scores.distribution, scores.ensemble, scores.localisation
    out = [
        scalar(n, getattr(d, n), "pooled")
        for n in (
            "w1_log",
            "p95_ratio",
            "p99_ratio",
            "p999_ratio",
            "max_ratio",
            "wet_fraction_ratio",
            "std_ratio",
            "std_truth",
            "std_prediction",
            "wet_fraction_truth",
        )
    ]
    out.append(scalar("rapsd_small_scale_ratio", scores.rapsd.small_scale_ratio, "member1"))
    out += [scalar(n, getattr(e, n), "ensemble") for n in ("crps", "crps_ensemble", "rank_flatness", "spread_skill")]
    out += [scalar("brier", v, "ensemble", threshold=t) for t, v in zip(e.thresholds, e.brier)]
    loc_t, loc_s = loc.threshold, loc.scale
    out.append(scalar("member_fss", loc.member_fss, "ensemble", threshold=loc_t, scale=loc_s))
    out.append(scalar("centroid_spread", loc.centroid_spread, "ensemble", threshold=loc_t))
    out.append(scalar("objects_per_member_field", loc.objects_per_member_field, "ensemble", threshold=loc_t))
    return out


def _curves(scores: SuiteScores) -> dict[str, dict[str, Any]]:
    cat, fss, r, d, e = scores.categorical, scores.fss, scores.rapsd, scores.distribution, scores.ensemble
    defs = CURVE_DEFINITIONS
    thr = cat["member1"].thresholds
    values = lambda seq: [v.value for v in seq]  # noqa: E731
    curves = {
        "csi_vs_threshold": curve(
            thr, "threshold (mm/h)", {v: values(cat[v].csi) for v in VIEWS}, defs["csi_vs_threshold"]
        ),
        "bias_vs_threshold": curve(
            thr, "threshold (mm/h)", {v: values(cat[v].bias) for v in VIEWS}, defs["bias_vs_threshold"]
        ),
    }
    for k, t in enumerate(fss["member1"].thresholds):
        curves[f"fss_vs_scale_{t:g}"] = curve(
            fss["member1"].scales,
            "scale (px)",
            {v: values(fss[v].fss[k]) for v in VIEWS},
            defs["fss_vs_scale"].format(thr=t),
        )
    for view, cl in scores.classes.items():
        labels = [class_label(cl.names, cl.edges, k) for k in range(len(cl.names))]
        curves[f"class_confusion_{view}"] = curve(
            np.arange(len(cl.names)),
            "predicted class index (" + ", ".join(f"{k}: {n}" for k, n in enumerate(cl.names)) + ")",
            {lab: row for lab, row in zip(labels, cl.confusion)},
            defs["class_confusion"],
        )
    wavelength = "wavelength (px)"
    curves["rapsd"] = curve(r.wavelength, wavelength, {"truth": r.truth, "prediction": r.prediction}, defs["rapsd"])
    curves["rapsd_ratio"] = curve(r.wavelength, wavelength, {"ratio": r.ratio}, defs["rapsd_ratio"])
    curves["histogram"] = curve(
        d.hist_centres, "rain rate (mm/h)", {"truth": d.hist_truth, "prediction": d.hist_prediction}, defs["histogram"]
    )
    curves["qq"] = curve(
        d.qq_levels, "quantile level", {"truth": d.qq_truth, "prediction": d.qq_prediction}, defs["qq"]
    )
    curves["rank_histogram"] = curve(
        np.arange(e.members + 1), "rank of truth", {"frequency": e.rank_histogram}, defs["rank_histogram"]
    )
    curves["spread_skill"] = curve(
        e.spread_centres,
        "spread (mm/h)",
        {"rmse": e.spread_rmse, "spread": e.spread_mean, "count": e.spread_count},
        defs["spread_skill"],
    )
    for k, t in enumerate(e.thresholds):
        series = {"observed_frequency": e.reliability_frequency[k], "count": e.reliability_count[k]}
        curves[f"reliability_{t:g}"] = curve(
            e.reliability_probability, "forecast probability", series, defs["reliability"].format(thr=t)
        )
    return curves


def summarise(scores: SuiteScores) -> Summary:
    """Every scalar and curve of a suite, JSON-ready (see module docstring)."""
    return Summary(_deterministic_scalars(scores) + _ensemble_scalars(scores), _curves(scores))
