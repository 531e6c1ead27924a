"""Scores files + predictions -> ``report/index.html``, ``report/report.md`` and ``figures/*.png``.

``build_report(scores_dir, out_dir)`` reads every ``scores_dir/*.json`` written by
``qpeflow evaluate`` (schema in DESIGN.md, "Evaluation"), the predictions files they
point to (``meta.predictions``, only for the example maps: one figure per case, one
row per model), draws the figures of :data:`qpeflow.report.figures.FIGURES` and
writes a self-contained HTML page (inline CSS, PNGs beside it) and the same content
as Markdown. The comparison table shows its headline columns (readable in a
1400-px window); the other scores sit in smaller tables behind a ``<details>``
toggle. Columns, captions and definitions come from the evaluation settings the
scores record (:mod:`qpeflow.report.settings`). All writes are atomic.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from qpeflow.io.atomic import write_text
from qpeflow.plots.palette import model_colours
from qpeflow.report.figures import (
    FIGURES,
    FigureContext,
    curve_definitions,
    example_caption,
    example_figures,
    save_png,
)
from qpeflow.report.maps import read_examples
from qpeflow.report.settings import ReportSettings, settings_of_scores
from qpeflow.report.table import (
    RULES,
    ScoresFile,
    Table,
    comparison_table,
    detail_tables,
    format_value,
    load_scores,
)

log = logging.getLogger(__name__)

RULE_MARK: dict[str, str] = {"max": "↑", "min": "↓", "one": "→1", "none": ""}
MAX_EVENTS_LISTED = 20

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:1400px;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{margin-top:1.8em;border-bottom:1px solid #ddd}
.source{background:#eef4fb;border-left:4px solid #0072B2;padding:.6em 1em}
.warning{background:#fff4e5;border-left:4px solid #D55E00;padding:.6em 1em}
.tablewrap{overflow-x:auto}
table{border-collapse:collapse;font-size:.88em}
th,td{border:1px solid #ccc;padding:.3em .45em;text-align:right}td{white-space:nowrap}
th{white-space:normal;max-width:7em;vertical-align:bottom}
details{margin:1em 0}summary{cursor:pointer;font-weight:bold}
th{background:#f3f3f3;position:sticky;top:0}td:first-child,th:first-child{text-align:left}
td.best{font-weight:bold;background:#e8f5e9}td.na{color:#888}
figure{margin:1.5em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.92em;color:#444;max-width:1100px}
dt{font-weight:bold;margin-top:.4em}dd{margin-left:1.5em}
.swatch{display:inline-block;width:.9em;height:.9em;border-radius:2px;margin-right:.4em;vertical-align:-1px}
"""


@dataclass(frozen=True)
class FigureEntry:
    """A drawn figure (relative path) or a missing one (path None) with caption/reason."""

    title: str
    path: str | None
    caption: str


def data_source_text(scores: Sequence[ScoresFile]) -> tuple[str, list[str]]:
    """The data-source statement (plain text) and warnings if the files disagree."""
    sources = sorted({str(s.meta.get("data_source", "unknown")) for s in scores})
    infrared = sorted({str(s.meta.get("infrared", "unknown")) for s in scores})
    events = sorted({str(e) for s in scores for e in (s.meta.get("events") or [])})
    listed = ", ".join(events[:MAX_EVENTS_LISTED]) + (
        f", ... ({len(events)} in total)" if len(events) > MAX_EVENTS_LISTED else ""
    )
    text = (
        f"Data source: {' + '.join(sources)}. Infrared: {' + '.join(infrared)}. "
        f"Events ({len(events)}): {listed or 'not recorded'}."
    )
    if "simulated" in infrared:
        if all(s.startswith("synthetic") for s in sources):
            text += (
                " Both the rain fields and the infrared are synthetic (no radar or satellite "
                "observation): the IR is simulated from the synthetic rain by the forward operator."
            )
        else:
            text += (
                " This benchmark pairs real radar rain with SIMULATED infrared (computed from the "
                "rain by qpeflow's forward operator), not with observed SEVIRI images: the scores "
                "measure how well a model inverts the simulator, not skill on real satellite data."
            )
    elif infrared == ["observed"]:
        text += " The infrared is observed SEVIRI brightness temperature paired with radar rain."
    warnings = []
    if len(sources) > 1 or len(infrared) > 1:
        warnings.append(
            "The scores files come from different data (sources "
            f"{sources}, infrared {infrared}); their rows are not directly comparable."
        )
    return text, warnings


def _note(label: str, reason: str | None) -> str:
    return f"{label}: {reason or 'undefined'}"


def _footnotes(table: Table) -> dict[str, int]:
    """'column: reason' -> footnote number, in table order."""
    notes: dict[str, int] = {}
    for row in table.cells:
        for col, cell in zip(table.columns, row):
            key = _note(col.label, cell.reason)
            if cell.value is None and key not in notes:
                notes[key] = len(notes) + 1
    return notes


def table_html(table: Table, colours: dict[str, str], title: str = "") -> str:
    """One table as HTML (best values bold, undefined cells with numbered reasons)."""
    notes = _footnotes(table)
    head = "".join(
        f'<th title="{html.escape(RULES[c.rule])}">{html.escape(c.label)} {RULE_MARK[c.rule]}</th>'
        for c in table.columns
    )
    rows = []
    for name, method, cells in zip(table.rows, table.methods, table.cells):
        swatch = f'<span class="swatch" style="background:{colours.get(name, "#999")}"></span>'
        tds = [f"<td>{swatch}{html.escape(name)} <small>({html.escape(method)})</small></td>"]
        for col, cell in zip(table.columns, cells):
            if cell.value is None:
                key = _note(col.label, cell.reason)
                tds.append(f'<td class="na" title="{html.escape(key)}">–<sup>{notes[key]}</sup></td>')
            else:
                cls = ' class="best"' if cell.best else ""
                text = html.escape(format_value(cell.value, col.key))
                tds.append(f"<td{cls}>{'<b>' + text + '</b>' if cell.best else text}</td>")
        rows.append("<tr>" + "".join(tds) + "</tr>")
    foot = "".join(f"<li value='{n}'>{html.escape(r)}</li>" for r, n in notes.items())
    return (
        (f"<h3>{html.escape(title)}</h3>" if title else "")
        + f'<div class="tablewrap"><table><thead><tr><th>model (method)</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        + (f"<p>– = undefined; reasons:</p><ol class='notes'>{foot}</ol>" if notes else "")
    )


def legend_text() -> str:
    marks = "; ".join(f"{RULE_MARK[k] or 'no mark'}: {v}" for k, v in RULES.items())
    return (
        "Bold (green): best value in each column over all rows. " + marks + ". "
        "Per-field scores are on ensemble member 1 (the single estimate of deterministic models); "
        "ensemble-mean scores are in the scores files and the figures."
    )


def table_markdown(table: Table) -> str:
    """One table as Markdown (best values bold, undefined cells with numbered reasons)."""
    notes = _footnotes(table)
    lines = [
        "| model (method) | " + " | ".join(f"{c.label} {RULE_MARK[c.rule]}".strip() for c in table.columns) + " |",
        "|---|" + "---:|" * len(table.columns),
    ]
    for name, method, cells in zip(table.rows, table.methods, table.cells):
        vals = []
        for col, cell in zip(table.columns, cells):
            if cell.value is None:
                vals.append(f"–[{notes[_note(col.label, cell.reason)]}]")
            else:
                text = format_value(cell.value, col.key)
                vals.append(f"**{text}**" if cell.best else text)
        lines.append(f"| {name} ({method}) | " + " | ".join(vals) + " |")
    if notes:
        lines += ["", "– = undefined; reasons:", ""] + [f"[{n}] {r}  " for r, n in notes.items()]
    return "\n".join(lines)


def _draw_figures(scores: list[ScoresFile], out_dir: Path, ctx: FigureContext) -> list[FigureEntry]:
    """Example maps (one PNG per case) then every figure of FIGURES; missing ones say why."""
    entries: list[FigureEntry] = []
    number = lambda: sum(e.path is not None for e in entries) + 1  # noqa: E731
    cases = [] if ctx.examples is None else [c for c in ctx.examples.cases if c.rows]
    for k, (case, fig) in enumerate(zip(cases, example_figures(ctx)), start=1):
        name = f"example_maps_{k}.png"
        save_png(fig, out_dir / "figures" / name, dpi=100)
        title = f"Figure {number()}: Example maps, case {k} ({case.title})"
        entries.append(FigureEntry(title, f"figures/{name}", example_caption(ctx)))
    if not cases:
        entries.append(FigureEntry("Example maps", None, "Not drawn: no predictions file could be read."))
    for spec in FIGURES:
        fig = spec.builder(scores, ctx)
        if fig is None:
            entries.append(FigureEntry(spec.title, None, f"Not drawn: {spec.why_missing}."))
            continue
        save_png(fig, out_dir / "figures" / spec.filename, dpi=110)
        grouped: dict[str, list[str]] = {}
        for key, text in curve_definitions(scores, spec, ctx.settings):
            grouped.setdefault(text.rstrip("."), []).append(key)
        defs = " ".join(f"{', '.join(keys)}: {text}." for text, keys in grouped.items())
        caption = spec.caption(ctx.settings) + (f" Definitions — {defs}" if defs else "")
        entries.append(FigureEntry(f"Figure {number()}: {spec.title}", f"figures/{spec.filename}", caption))
    return entries


def _tables(scores: Sequence[ScoresFile], st: ReportSettings) -> tuple[Table, list[tuple[str, Table]]]:
    """The headline table and the (title, table) list behind the toggle."""
    return comparison_table(scores), [(t, comparison_table(scores, cols)) for t, cols in detail_tables(st)]


def _models_html(scores: Sequence[ScoresFile]) -> str:
    items = []
    for s in scores:
        m = s.meta
        items.append(
            f"<li><b>{html.escape(s.name)}</b>: method {html.escape(str(m.get('method')))}, "
            f"{m.get('members')} member(s), {m.get('n_fields')} fields, steps {m.get('steps')}, "
            f"sampler {html.escape(str(m.get('sampler')))}, NFE {m.get('nfe')}; "
            f"predictions <code>{html.escape(str(m.get('predictions')))}</code>; scores "
            f"<code>{html.escape(s.path.name)}</code></li>"
        )
    return "<ul>" + "".join(items) + "</ul>"


def _definitions_html(tables: Sequence[Table]) -> str:
    seen: dict[str, str] = {}
    for table in tables:
        for c in table.columns:
            seen.setdefault(
                c.label,
                f"<dt>{html.escape(c.label)}</dt><dd>{html.escape(table.definitions[c.key])} "
                f"<i>({html.escape(RULES[c.rule])})</i></dd>",
            )
    return "".join(seen.values())


def render_html(
    scores: Sequence[ScoresFile],
    tables: tuple[Table, list[tuple[str, Table]]],
    figures: Sequence[FigureEntry],
    colours: dict[str, str],
    notes: Sequence[str],
) -> str:
    source, warnings = data_source_text(scores)
    table, details = tables
    defs = _definitions_html([table, *(t for _, t in details)])
    more = "".join(table_html(t, colours, title) for title, t in details)
    figs = "".join(
        f"<figure><img src='{html.escape(f.path)}' alt='{html.escape(f.title)}'>"
        f"<figcaption><b>{html.escape(f.title)}.</b> {html.escape(f.caption)}</figcaption></figure>"
        if f.path
        else f"<p><b>{html.escape(f.title)}</b>: {html.escape(f.caption)}</p>"
        for f in figures
    )
    warn = "".join(f"<p class='warning'>{html.escape(w)}</p>" for w in [*warnings, *notes])
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    version = html.escape(str(scores[0].meta.get("qpeflow_version", "?")))
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>qpeflow verification report</title><style>{CSS}</style></head><body>"
        f"<h1>qpeflow verification report</h1><p class='source'>{html.escape(source)}</p>{warn}"
        f"<h2>Comparison of models</h2>{table_html(table, colours)}<p>{html.escape(legend_text())}</p>"
        f"<details><summary>More scores (categorical at every key threshold, continuous, distribution, "
        f"ensemble, cost)</summary>{more}</details>"
        f"<h2>Score definitions</h2><dl>{defs}</dl><h2>Figures</h2>{figs}"
        f"<h2>Models</h2>{_models_html(scores)}"
        f"<footer><small>Generated {stamp} by qpeflow {version}.</small></footer></body></html>"
    )


def render_markdown(
    scores: Sequence[ScoresFile],
    tables: tuple[Table, list[tuple[str, Table]]],
    figures: Sequence[FigureEntry],
    notes: Sequence[str],
) -> str:
    source, warnings = data_source_text(scores)
    table, details = tables
    lines = ["# qpeflow verification report", "", f"> {source}", ""]
    lines += [f"> **Warning:** {w}\n" for w in [*warnings, *notes]]
    lines += ["## Comparison of models", "", table_markdown(table), "", legend_text(), ""]
    for title, t in details:
        lines += [f"### {title}", "", table_markdown(t), ""]
    lines += ["## Score definitions", ""]
    labels: dict[str, str] = {}
    for t in [table, *(t for _, t in details)]:
        for c in t.columns:
            labels.setdefault(c.label, f"- **{c.label}**: {t.definitions[c.key]} ({RULES[c.rule]})")
    lines += list(labels.values())
    lines += ["", "## Figures", ""]
    for f in figures:
        lines += (
            [f"![{f.title}]({f.path})", "", f"*{f.title}.* {f.caption}", ""]
            if f.path
            else [f"**{f.title}**: {f.caption}", ""]
        )
    lines += ["## Models", ""]
    lines += [
        f"- **{s.name}**: method {s.meta.get('method')}, {s.meta.get('members')} member(s), "
        f"{s.meta.get('n_fields')} fields, NFE {s.meta.get('nfe')}, predictions "
        f"`{s.meta.get('predictions')}`"
        for s in scores
    ]
    return "\n".join(lines) + "\n"


def build_report(scores_dir: str | Path, out_dir: str | Path, n_examples: int = 3) -> Path:
    """Write ``out_dir/index.html``, ``out_dir/report.md`` and ``out_dir/figures/*.png``.

    scores_dir: folder of scores JSON files (one per model, baselines included);
    n_examples: example cases, one figure each. Returns the path of index.html.
    """
    out_dir = Path(out_dir)
    scores = load_scores(Path(scores_dir))
    settings, setting_notes = settings_of_scores([s.meta for s in scores])
    colours = model_colours([s.name for s in scores])
    examples = read_examples(
        [
            (s.name, str(s.meta.get("method", "")), Path(str(s.meta.get("predictions"))))
            for s in scores
            if s.meta.get("predictions")
        ],
        n_examples,
        settings.prob_threshold,
    )
    notes = setting_notes + ([] if examples is None else [f"Example maps: {n}" for n in examples.notes])
    ctx = FigureContext(colours, examples, None if examples is None else examples.resolution_km, settings)
    tables = _tables(scores, settings)
    figures = _draw_figures(scores, out_dir, ctx)
    write_text(out_dir / "report.md", render_markdown(scores, tables, figures, notes))
    index = out_dir / "index.html"
    write_text(index, render_html(scores, tables, figures, colours, notes))
    log.info("report: %d models, %d figures -> %s", len(scores), sum(f.path is not None for f in figures), index)
    return index
