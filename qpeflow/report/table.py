"""Scores files -> the report's comparison table (models x key scores, best marked).

Reads the scores JSON files written by ``qpeflow evaluate`` (schema in DESIGN.md,
"Evaluation"): ``{"meta": {...}, "scalars": [{name, value, threshold, scale, on,
definition, reason}], "curves": {...}}``. The table is plain data (:class:`Table`);
:mod:`qpeflow.report.build` renders it to HTML and Markdown.

Columns come from the evaluation settings recorded in the scores files
(:mod:`qpeflow.report.settings`): :func:`headline_columns` first, then the
:func:`detail_tables` behind a toggle. Best per column (:data:`RULES`): the maximum for skill scores, the minimum for errors,
and the value closest to 1 for ratios and the frequency bias, measured as |ln v| so
that x2 and x1/2 are equally far from 1. Cost columns are not ranked.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qpeflow.errors import input_error
from qpeflow.report.settings import ReportSettings, settings_of_scores

RULES: dict[str, str] = {
    "max": "highest is best",
    "min": "lowest is best",
    "one": "closest to 1 is best (|ln value|, so x2 and x1/2 count alike)",
    "none": "cost, not ranked",
}


@dataclass(frozen=True)
class Column:
    """One table column: which scalar to show and how to rank it.

    on: accepted ``on`` values of the scalar in order of preference (empty = any).
    """

    key: str
    label: str
    name: str
    threshold: float | None = None
    scale: int | None = None
    on: tuple[str, ...] = ()
    rule: str = "max"


def _cat(name: str, label: str, t: float, rule: str = "max") -> Column:
    return Column(f"{name}_{t:g}", f"{label}@{t:g}", name, t, None, ("member1",), rule)


def headline_columns(st: ReportSettings) -> tuple[Column, ...]:
    """The comparison table's first columns (readable in a 1400-px window), from the evaluation settings."""
    csi = [_cat("csi", "CSI", t) for t in dict.fromkeys((st.headline_threshold, *st.key_thresholds[:2]))]
    t, k = st.fss_threshold, st.fss_scale
    return (
        *csi,
        Column(f"fss_{t:g}_{k}", f"FSS@{t:g}mm/{k}px", "fss", t, k, ("member1",), "max"),
        Column("mae", "MAE", "mae", None, None, ("member1",), "min"),
        Column("p99_ratio", "P99 ratio", "p99_ratio", None, None, ("pooled", "member1"), "one"),
        Column(
            "rapsd_small_scale_ratio",
            "RAPSD small-scale",
            "rapsd_small_scale_ratio",
            None,
            None,
            ("member1", "pooled"),
            "one",
        ),
        Column("crps", "CRPS", "crps", None, None, ("ensemble",), "min"),
        Column("member_fss", "member FSS", "member_fss", None, None, ("ensemble",), "max"),
        Column("nfe", "NFE", "nfe", None, None, (), "none"),
    )


def detail_tables(st: ReportSettings) -> tuple[tuple[str, tuple[Column, ...]], ...]:
    """(title, columns) of the tables behind the toggle: every other headline-worthy scalar."""
    cat = tuple(
        c
        for t in dict.fromkeys((st.headline_threshold, *st.key_thresholds))
        for c in (
            _cat("pod", "POD", t),
            _cat("far", "FAR", t, "min"),
            _cat("hss", "HSS", t),
            _cat("bias", "bias", t, "one"),
        )
    )
    cont = (
        Column("rmse", "RMSE", "rmse", None, None, ("member1",), "min"),
        Column("pearson", "Pearson r", "pearson", None, None, ("member1",), "max"),
        Column("mae_mean", "MAE ens. mean", "mae", None, None, ("ensemble_mean",), "min"),
        Column("w1_log", "W1 log", "w1_log", None, None, ("pooled",), "min"),
        Column("p95_ratio", "P95 ratio", "p95_ratio", None, None, ("pooled",), "one"),
        Column("p999_ratio", "P99.9 ratio", "p999_ratio", None, None, ("pooled",), "one"),
        Column("wet_fraction_ratio", "wet-area ratio", "wet_fraction_ratio", None, None, ("pooled",), "one"),
        Column("std_ratio", "std ratio", "std_ratio", None, None, ("pooled",), "one"),
    )
    ens = (
        Column("spread_skill", "spread-skill", "spread_skill", None, None, ("ensemble",), "one"),
        Column("rank_flatness", "rank flatness", "rank_flatness", None, None, ("ensemble",), "min"),
        *(Column(f"brier_{b:g}", f"Brier@{b:g}", "brier", b, None, ("ensemble",), "min") for b in st.brier_thresholds),
        Column("centroid_spread", "centroid spread (px)", "centroid_spread", None, None, ("ensemble",), "min"),
        Column("seconds_per_field", "s/field", "seconds_per_field", None, None, (), "none"),
    )
    return (
        ("Categorical scores (member 1)", cat),
        ("Continuous scores and distribution", cont),
        ("Ensemble and cost", ens),
    )


#: fallbacks from ``meta`` when a cost scalar is absent
META_FALLBACK: dict[str, str] = {"nfe": "nfe", "seconds_per_field": "seconds_per_field"}


@dataclass(frozen=True)
class ScoresFile:
    """One parsed scores JSON file."""

    path: Path
    meta: dict[str, Any]
    scalars: list[dict[str, Any]]
    curves: dict[str, dict[str, Any]]

    @property
    def name(self) -> str:
        return str(self.meta.get("name") or self.path.stem)

    @property
    def members(self) -> int:
        return int(self.meta.get("members") or 1)


def read_scores(path: Path) -> ScoresFile:
    """Parse one scores JSON file, or raise a QpeflowError naming it and the problem."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise input_error(path, f"cannot read scores JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise input_error(path, "scores JSON must be an object with meta, scalars, curves")
    missing = [k for k in ("meta", "scalars", "curves") if k not in doc]
    if missing:
        raise input_error(path, f"scores JSON lacks {', '.join(missing)}")
    meta, scalars, curves = doc["meta"], doc["scalars"], doc["curves"]
    if not isinstance(meta, dict) or not isinstance(scalars, list) or not isinstance(curves, dict):
        raise input_error(path, "scores JSON: meta must be an object, scalars a list, curves an object")
    if any(not isinstance(s, dict) or "name" not in s for s in scalars):
        raise input_error(path, "scores JSON: every scalar needs a name")
    return ScoresFile(Path(path), meta, scalars, curves)


def load_scores(scores_dir: Path) -> list[ScoresFile]:
    """All ``*.json`` scores files of a folder, sorted by model name (every row alike)."""
    scores_dir = Path(scores_dir)
    if not scores_dir.is_dir():
        raise input_error(scores_dir, "scores folder does not exist")
    files = sorted(scores_dir.glob("*.json"))
    if not files:
        raise input_error(scores_dir, "no scores *.json files (run `qpeflow evaluate` first)")
    scores = [read_scores(p) for p in files]
    names = [s.name for s in scores]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise input_error(scores_dir, f"several scores files carry the model name(s) {duplicates}")
    return sorted(scores, key=lambda s: s.name)


def _same(a: Any, b: float | None) -> bool:
    if b is None:
        return True
    return a is not None and math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-9)


def find_scalar(
    scalars: Sequence[dict[str, Any]],
    name: str,
    threshold: float | None = None,
    scale: int | None = None,
    on: Sequence[str] = (),
) -> dict[str, Any] | None:
    """The scalar entry matching name/threshold/scale, preferring ``on`` in the given order."""
    matches = [
        s
        for s in scalars
        if s.get("name") == name and _same(s.get("threshold"), threshold) and _same(s.get("scale"), scale)
    ]
    for wanted in on:
        for s in matches:
            if s.get("on") == wanted:
                return s
    return matches[0] if matches and not on else None


@dataclass(frozen=True)
class Cell:
    """A table value (None = undefined, with the reason) and whether it is the column's best."""

    value: float | None
    reason: str | None = None
    best: bool = False


def _cell(scores: ScoresFile, column: Column) -> Cell:
    entry = find_scalar(scores.scalars, column.name, column.threshold, column.scale, column.on)
    if entry is None and column.name in META_FALLBACK:
        value = scores.meta.get(META_FALLBACK[column.name])
        if isinstance(value, (int, float)) and math.isfinite(value):
            return Cell(float(value))
        return Cell(None, f"{column.name} not recorded in meta")
    if entry is None:
        on = "/".join(column.on) or "any"
        return Cell(None, f"no {column.name} scalar (on {on}) in {scores.path.name}")
    value = entry.get("value")
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return Cell(None, str(entry.get("reason") or "undefined (null without a reason)"))
    return Cell(float(value))


def _distance(value: float, rule: str) -> float:
    """Smaller is better, per ranking rule."""
    if rule == "max":
        return -value
    if rule == "min":
        return value
    return abs(math.log(value)) if value > 0 else math.inf


def _mark_best(cells: list[Cell], rule: str) -> list[Cell]:
    if rule == "none":
        return cells
    dists = [_distance(c.value, rule) if c.value is not None else math.inf for c in cells]
    finite = [d for d in dists if math.isfinite(d)]
    if not finite:
        return cells
    best = min(finite)
    tol = 1e-9 * max(1.0, abs(best))
    return [Cell(c.value, c.reason, math.isfinite(d) and d <= best + tol) for c, d in zip(cells, dists)]


@dataclass(frozen=True)
class Table:
    """rows (model names) x columns, cells[row][column], and column definitions."""

    columns: tuple[Column, ...]
    rows: tuple[str, ...]
    methods: tuple[str, ...]
    cells: tuple[tuple[Cell, ...], ...]
    definitions: dict[str, str]

    def cell(self, row: str, key: str) -> Cell:
        return self.cells[self.rows.index(row)][[c.key for c in self.columns].index(key)]


def _definition(scores: Sequence[ScoresFile], column: Column) -> str:
    """The scalar's definition from the first file that has it, plus what the column selects."""
    parts = [f"scalar '{column.name}'"]
    if column.threshold is not None:
        parts.append(f"threshold {column.threshold:g} mm/h")
    if column.scale is not None:
        parts.append(f"scale {column.scale} px")
    if column.on:
        parts.append(f"on {column.on[0]}")
    for s in scores:
        entry = find_scalar(s.scalars, column.name, column.threshold, column.scale, column.on)
        if entry is not None and entry.get("definition"):
            return f"{entry['definition']} [{', '.join(parts)}]"
    return f"not defined in any scores file [{', '.join(parts)}]"


def comparison_table(scores: Sequence[ScoresFile], columns: Sequence[Column] | None = None) -> Table:
    """Build the comparison table of all models (rows, in the given order) x ``columns``.

    columns: default the headline columns of the scores' own evaluation settings.
    """
    if columns is None:
        columns = headline_columns(settings_of_scores([s.meta for s in scores])[0])
    by_column = [_mark_best([_cell(s, col) for s in scores], col.rule) for col in columns]
    cells = tuple(tuple(by_column[j][i] for j in range(len(columns))) for i in range(len(scores)))
    definitions = {col.key: _definition(scores, col) for col in columns}
    return Table(
        tuple(columns),
        tuple(s.name for s in scores),
        tuple(str(s.meta.get("method", "")) for s in scores),
        cells,
        definitions,
    )


def format_value(value: float, key: str) -> str:
    """Three significant digits; integers for NFE."""
    if key == "nfe":
        return f"{value:.0f}"
    return f"{value:.3g}"
