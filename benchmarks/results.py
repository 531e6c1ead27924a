"""``docs/results.md`` generated from a study's scores files (never typed by hand).

    python benchmarks/results.py STUDY [--out docs/results.md] [--figures docs/figures/results]

Study layout (every part optional except ``scores/``; what is missing is said, not invented):

    STUDY/manifest.json                  trained checkpoints (qpeflow.training.export format:
                                         {"checkpoints": [{name, step, train_seconds, steps_per_s,
                                         validation {best_step, best_loss}, train_command, data}]})
    STUDY/scores/<model>.json            `qpeflow evaluate PRED.nc -o STUDY/scores --by draw` on the
                                         benchmark store's test split (with a `groups` entry: the
                                         mean and spread over infrared draws); by_draw/ beside it
    STUDY/steps/steps.json               `python benchmarks/steps.py ... --out STUDY/steps`
    STUDY/generalisation/in_domain/<model>.json   national-radar models on their own test split
    STUDY/generalisation/opera/<model>.json       the same models on the OPERA 2018-08-24 store

Model names (scores file stems): comparison ``unet, ddpm, ddpm_team, cfm, cfm_residual, gpi,
autoestimator``; multi-temporal ablation ``unet_t1, cfm_residual_t1`` (T = 1) and
``unet_stem3d, cfm_residual_stem3d`` (temporal encoder instead of early fusion); source knob
``cfm`` (Gaussian source) and ``cfm_mean_sigma0.25, cfm_mean_sigma0.5, cfm_mean_sigma1``
(U-Net mean + sigma x Gaussian). A comparison model without a file is a "not run" row; an
ablation or knob row without a file is left out. Figures: ``qpeflow report`` is built on the
comparison's scores (``STUDY/report/``) and its PNGs copied into ``--figures``. The targets
of issue 11 are computed from the all-test-fields scores (rules in :data:`TARGET_RULES`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xarray as xr

from qpeflow.errors import QpeflowError
from qpeflow.io.atomic import write_bytes, write_text
from qpeflow.report.table import find_scalar

COMPARISON = ("unet", "ddpm", "ddpm_team", "cfm", "cfm_residual", "meanflow_residual", "gpi", "autoestimator")
LABELS = {
    "unet": "U-Net (regression)",
    "ddpm": "DDPM (v-pred, zero terminal SNR)",
    "ddpm_team": "team DDPM (T = 500, eps, ancestral)",
    "cfm": "CFM",
    "cfm_residual": "residual CFM",
    "meanflow_residual": "residual MeanFlow (1 step)",
    "gpi": "GPI (Arkin & Meisner 1987)",
    "autoestimator": "Auto-Estimator (Vicente et al. 1998)",
}
DDPMS = ("ddpm", "ddpm_team")
ABLATION = (
    ("cfm_residual", "residual CFM, T = 4, early fusion"),
    ("cfm_residual_t1", "residual CFM, T = 1"),
    ("cfm_residual_stem3d", "residual CFM, T = 4, stem3d encoder"),
    ("unet", "U-Net, T = 4, early fusion"),
    ("unet_t1", "U-Net, T = 1"),
    ("unet_stem3d", "U-Net, T = 4, stem3d encoder"),
)
KNOB = (
    ("cfm", "Gaussian"),
    ("cfm_mean_sigma0.25", "mean + 0.25 N(0, 1)"),
    ("cfm_mean_sigma0.5", "mean + 0.5 N(0, 1)"),
    ("cfm_mean_sigma1", "mean + 1 N(0, 1)"),
)


@dataclass(frozen=True)
class Col:
    """A scalar of the scores file: key, label, name, threshold, scale, accepted ``on``."""

    key: str
    label: str
    name: str
    threshold: float | None = None
    scale: int | None = None
    on: tuple[str, ...] = ("member1",)


COLS = {
    c.key: c
    for c in (
        Col("csi_0.1", "CSI@0.1", "csi", 0.1),
        Col("pod_0.1", "POD@0.1", "pod", 0.1),
        Col("csi_1", "CSI@1", "csi", 1.0),
        Col("fss_5_8", "FSS@5mm/8px", "fss", 5.0, 8),
        Col("mae", "MAE", "mae"),
        Col("w1_log", "W1 log-rain", "w1_log", on=("pooled",)),
        Col("p99_ratio", "P99 ratio", "p99_ratio", on=("pooled",)),
        Col("rapsd", "RAPSD small-scale", "rapsd_small_scale_ratio", on=("member1", "pooled")),
        Col("crps", "CRPS", "crps", on=("ensemble",)),
        Col("member_fss", "member FSS", "member_fss", on=("ensemble",)),
        Col("centroid", "centroid spread (px)", "centroid_spread", on=("ensemble",)),
        Col("nfe", "NFE", "nfe", on=("ensemble",)),
    )
}
HEADLINE = (
    "csi_0.1",
    "pod_0.1",
    "csi_1",
    "fss_5_8",
    "mae",
    "w1_log",
    "p99_ratio",
    "rapsd",
    "crps",
    "member_fss",
    "nfe",
)
ANCHORS = (
    ("team U-Net, real SEVIRI + Meteo-France radar (2019-08-09)", "unet", "csi_0.1", 0.417),
    ("team U-Net, real SEVIRI + Meteo-France radar (2019-08-09)", "unet", "pod_0.1", 0.763),
    ("team DDPM one member, same scene", "ddpm_team", "csi_0.1", 0.307),
    ("team DDPM one member, same scene (beside qpeflow's DDPM)", "ddpm", "csi_0.1", 0.307),
)
TARGET_RULES = (
    "'matches' a CSI/FSS: within 0.02 below or above; 'matches' W1: at most 5 % above; 'matches' a ratio: "
    "|ln ratio| at most 0.05 above the other's; every comparison on all test fields pooled (member 1 for "
    "CSI/FSS, all members for W1/P99, the ensemble for CRPS/member FSS)"
)


@dataclass(frozen=True)
class Scores:
    """One scores file: its document (meta, scalars, curves, optional groups) and path."""

    path: Path
    doc: dict[str, Any]

    def value(self, key: str) -> float | None:
        """The all-fields value of column ``key`` (None: undefined or absent)."""
        c = COLS[key]
        e = find_scalar(self.doc["scalars"], c.name, c.threshold, c.scale, c.on)
        v = e.get("value") if e else None
        return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None

    def spread(self, key: str) -> dict[str, Any] | None:
        """The across-draw entry (mean, std, min, max, n) of column ``key``, None without groups."""
        groups = self.doc.get("groups")
        if not groups:
            return None
        c = COLS[key]
        return find_scalar(groups["scalars"], c.name, c.threshold, c.scale, c.on)

    @property
    def meta(self) -> dict[str, Any]:
        return self.doc["meta"]


def read_folder(folder: Path) -> dict[str, Scores]:
    """name (file stem) -> scores of every ``*.json`` of a folder ({} when absent)."""
    out = {}
    for p in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise QpeflowError(f"{p}: cannot read scores JSON ({exc})") from None
        if not isinstance(doc, dict) or not {"meta", "scalars"} <= set(doc):
            raise QpeflowError(f"{p}: not a scores file (needs meta and scalars)")
        out[p.stem] = Scores(p, doc)
    return out


def f3(v: float | None) -> str:
    """A score as the document prints it (3 decimals); '—' for undefined."""
    return "—" if v is None else f"{v:.3f}"


def count(v: Any) -> str:
    """A count (NFE, steps) as an integer; '—' for undefined."""
    return "—" if v is None else f"{float(v):.0f}"


def table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def spread_cell(s: Scores, key: str) -> str:
    e = s.spread(key)
    if e is None or e.get("mean") is None:
        return f3(s.value(key)) + (" (one draw)" if e is None else "")
    std = f" ± {f3(e['std'])}" if e.get("std") is not None else ""
    return f"{f3(e['mean'])}{std} [{f3(e['min'])}, {f3(e['max'])}]"


def comparison(scores: dict[str, Scores]) -> str:
    """Section (a): the headline table pooled, then mean ± std [min, max] over infrared draws."""
    head = ["model", *(COLS[k].label for k in HEADLINE), "s/member/field"]
    pooled, draws = [], []
    for name in COMPARISON:
        s = scores.get(name)
        if s is None:
            pooled.append([f"{LABELS[name]} — not run", *["not run"] * (len(head) - 1)])
            draws.append([f"{LABELS[name]} — not run", *["not run"] * (len(head) - 2)])
            continue
        sampler = s.meta.get("sampler")
        method = LABELS[name] + (
            f" [{sampler} {s.meta.get('steps')}]" if sampler not in (None, "default", "none") else ""
        )
        method += f" ({count(s.meta.get('n_fields'))} fields, {count(s.meta.get('members'))} member(s))"
        cells = [count(s.value(k)) if k == "nfe" else f3(s.value(k)) for k in HEADLINE]
        pooled.append([method, *cells, f3(s.meta.get("seconds_per_member"))])
        draws.append([method, *(spread_cell(s, k) for k in HEADLINE[:-1])])
    groups = [s.doc["groups"] for s in scores.values() if s.doc.get("groups")]
    about = (
        f"Spread over infrared draws: {len(groups[0]['values'])} draws ({groups[0]['definition']})."
        if groups
        else "No scores file holds per-draw scores (`qpeflow evaluate --by draw`): no spread over draws."
    )
    return "\n\n".join(
        [
            "### All test fields pooled",
            table(head, pooled),
            "### Mean ± standard deviation [min, max] over infrared draws",
            about,
            table(head[:-2], draws),
        ]
    )


def _class_names(scores: dict[str, Scores]) -> list[str]:
    for s in scores.values():
        names = [e["class"] for e in s.doc["scalars"] if e.get("name") == "class_csi" and e.get("on") == "member1"]
        if names:
            return names
    return []


def classes(scores: dict[str, Scores]) -> str:
    """Per-class CSI / POD / MAE (member 1) and the class confusion matrices, when the scores hold them."""
    names = _class_names(scores)
    if not names:
        return "No scores file holds intensity-class scores."
    out = []
    for score, label in (("class_csi", "CSI"), ("class_pod", "POD"), ("class_mae", "MAE (mm/h)")):
        rows = []
        for name in COMPARISON:
            s = scores.get(name)
            if s is None:
                rows.append([LABELS[name], *["not run"] * len(names)])
                continue
            vals = {
                e["class"]: e.get("value")
                for e in s.doc["scalars"]
                if e.get("name") == score and e.get("on") == "member1"
            }
            rows.append([LABELS[name], *(f3(vals.get(c)) for c in names)])
        out += [f"**Per-class {label}, member 1** (team classes)", table(["model", *names], rows)]
    for name in COMPARISON:
        s = scores.get(name)
        curve = s.doc.get("curves", {}).get("class_confusion_member1") if s else None
        if curve:
            rows = [[obs, *(f3(v) for v in vals)] for obs, vals in curve["series"].items()]
            out += [
                f"**Class confusion, {LABELS[name]}** (rows: observed class; row-normalised)",
                table(["observed \\ predicted", *names], rows),
            ]
    return "\n\n".join(out)


def figures(study: Path, scores: dict[str, Scores], fig_dir: Path, doc_dir: Path) -> str:
    """Build ``qpeflow report`` on the comparison's scores; copy its PNGs to ``fig_dir``; Markdown links."""
    from qpeflow.report.build import build_report  # matplotlib only here

    present = [n for n in COMPARISON if n in scores]
    if not present:
        return "No comparison scores: no figures."
    report = study / "report"
    for name in present:
        write_text(report / "scores" / f"{name}.json", scores[name].path.read_text(encoding="utf-8"))
    build_report(report / "scores", report)
    links = []
    for png in sorted((report / "figures").glob("*.png")):
        if png.stem == "quality_vs_nfe":  # one step count per model here: the cost axis is the steps table's
            continue
        write_bytes(fig_dir / png.name, png.read_bytes())
        links.append(f"![{png.stem}]({Path(os.path.relpath(fig_dir / png.name, doc_dir)).as_posix()})")
    return "\n\n".join(
        [
            f"Built by `qpeflow report {report / 'scores'} -o {report}` (maps, RAPSD, QQ, rank "
            "histograms, member agreement; captions in its report.md).",
            *links,
        ]
    )


def rows_present(scores: dict[str, Scores], spec: tuple[tuple[str, str], ...], keys: tuple[str, ...]) -> str:
    """A table of the rows of ``spec`` whose scores exist (absent rows left out)."""
    rows = [[f"{label} (`{n}`)", *(spread_cell(scores[n], k) for k in keys)] for n, label in spec if n in scores]
    if not rows:
        return "No scores for these rows (expected files: " + ", ".join(f"`{n}.json`" for n, _ in spec) + ")."
    return table(["model", *(COLS[k].label for k in keys)], rows)


def generalisation(study: Path) -> str:
    """Section (d): OPERA scores beside in-domain ones, per model present in either folder."""
    ind = read_folder(study / "generalisation" / "in_domain")
    opera = read_folder(study / "generalisation" / "opera")
    if not opera and not ind:
        return "Not run: no `generalisation/in_domain/*.json` or `generalisation/opera/*.json` in the study."
    keys = ("csi_0.1", "csi_1", "fss_5_8", "crps", "p99_ratio")
    head = ["model", *(f"{COLS[k].label} {where}" for k in keys for where in ("in-domain", "OPERA"))]
    rows = []
    for name in sorted(set(ind) | set(opera)):
        cells = [f3(d[name].value(k)) if name in d else "not run" for k in keys for d in (ind, opera)]
        rows.append([name, *cells])
    return table(head, rows)


def anchors(scores: dict[str, Scores]) -> str:
    """Section (e): the real-data anchors beside the benchmark's numbers, marked as another data set."""
    rows = []
    for what, name, key, ref in ANCHORS:
        s = scores.get(name)
        rows.append([what, f"{ref:.3f}", f"{LABELS[name]}: " + (f3(s.value(key)) if s else "not run"), COLS[key].label])
    return "\n\n".join(
        [
            "**A different data set.** The anchors are the team's models on real SEVIRI and Meteo-France radar "
            "(rain = R >= 0.1 mm/h, radar quality >= 50); the benchmark column is qpeflow on simulated infrared over "
            "radar rain. They are beside each other to show the benchmark lands in the right range, not to rank models.",
            table(["anchor (real data)", "anchor value", "benchmark (simulated IR)", "score"], rows),
        ]
    )


def _better_ratio(a: float | None, b: float | None) -> bool | None:
    if a is None or b is None or a <= 0 or b <= 0:
        return None
    return abs(math.log(a)) <= abs(math.log(b)) + 0.05


def _missing(scores: dict[str, Scores], names: tuple[str, ...]) -> str | None:
    gone = [n for n in names if n not in scores]
    return f"not run (no scores for {', '.join(gone)})" if gone else None


def _verdict(ok: bool | None) -> str:
    return "undefined (a score is null)" if ok is None else ("met" if ok else "not met")


def _all(values: list[bool | None]) -> bool | None:
    return None if any(v is None for v in values) else all(values)


def _gt(a: float | None, b: float | None, tol: float = 0.0) -> bool | None:
    return None if a is None or b is None else a > b - tol


def targets(scores: dict[str, Scores]) -> list[tuple[str, str, str]]:
    """(target, measured, verdict) of each target of issue 11, from the all-fields scores."""
    v = lambda n, k: scores[n].value(k) if n in scores else None  # noqa: E731
    ddpms = tuple(n for n in DDPMS if n in scores)
    out = []
    miss = _missing(scores, ("unet",)) or ("not run (no DDPM scores)" if not ddpms else None)
    measured = ", ".join(f"{n} {f3(v(n, 'csi_0.1'))}" for n in ("unet", *ddpms))
    ok = _all([_gt(v("unet", "csi_0.1"), v(n, "csi_0.1")) and v("unet", "csi_0.1") != v(n, "csi_0.1") for n in ddpms])
    out.append(
        ("1a. U-Net member CSI@0.1 > every DDPM's single-member CSI@0.1", f"CSI@0.1: {measured}", miss or _verdict(ok))
    )
    parts, oks = [], []
    for n in ddpms:
        w1 = None if v(n, "w1_log") is None or v("unet", "w1_log") is None else v(n, "w1_log") < v("unet", "w1_log")
        p99, rap = (
            _better_ratio(v(n, "p99_ratio"), v("unet", "p99_ratio")),
            _better_ratio(v(n, "rapsd"), v("unet", "rapsd")),
        )
        oks.append(_all([w1, p99, rap]))
        parts.append(f"{n}: W1 {f3(v(n, 'w1_log'))}, P99 {f3(v(n, 'p99_ratio'))}, RAPSD {f3(v(n, 'rapsd'))}")
    parts.append(
        f"unet: W1 {f3(v('unet', 'w1_log'))}, P99 {f3(v('unet', 'p99_ratio'))}, RAPSD {f3(v('unet', 'rapsd'))}"
    )
    out.append(
        (
            "1b. every DDPM's distribution realism better than the U-Net's (W1, P99 ratio, RAPSD ratio)",
            "; ".join(parts),
            miss or _verdict(_all(oks)),
        )
    )
    out += _mission_targets(scores, ddpms, v)
    miss = _missing(scores, ("cfm_residual", "cfm_residual_t1"))
    ok = (
        None
        if miss
        else (
            _gt(v("cfm_residual", "csi_1"), v("cfm_residual_t1", "csi_1"))
            or _gt(v("cfm_residual", "fss_5_8"), v("cfm_residual_t1", "fss_5_8"))
        )
    )
    out.append(
        (
            "3. residual CFM: T = 4 beats T = 1 on CSI@1 or FSS@5mm/8px",
            f"CSI@1 {f3(v('cfm_residual', 'csi_1'))} vs {f3(v('cfm_residual_t1', 'csi_1'))}; FSS "
            f"{f3(v('cfm_residual', 'fss_5_8'))} vs {f3(v('cfm_residual_t1', 'fss_5_8'))}",
            miss or _verdict(ok),
        )
    )
    return out


def _mission_targets(scores: dict[str, Scores], ddpms: tuple[str, ...], v: Any) -> list[tuple[str, str, str]]:
    """Target 2 (the mission's claim), one line per clause."""
    res = "cfm_residual"
    miss = _missing(scores, (res, "unet")) or ("not run (no DDPM scores)" if not ddpms else None)
    if res in scores:
        meta = scores[res].meta
        if not (meta.get("sampler") == "euler" and (meta.get("steps") or 99) <= 8):
            miss = miss or f"not applicable: residual CFM scored with {meta.get('sampler')} {meta.get('steps')}"
    out = []
    keys = ("csi_0.1", "csi_1", "fss_5_8")
    ok = _all([_gt(v(res, k), v("unet", k), 0.02) for k in keys])
    out.append(
        (
            "2a. residual CFM (Euler <= 8) matches or beats the U-Net on CSI@0.1, CSI@1, FSS (within 0.02)",
            "; ".join(f"{COLS[k].label} {f3(v(res, k))} vs {f3(v('unet', k))}" for k in keys),
            miss or _verdict(ok),
        )
    )
    w1s = [v(n, "w1_log") for n in ddpms if v(n, "w1_log") is not None]
    best = {
        k: min((v(n, k) for n in ddpms if v(n, k) and v(n, k) > 0), key=lambda x: abs(math.log(x)), default=None)
        for k in ("p99_ratio", "rapsd")
    }
    w1 = None if v(res, "w1_log") is None or not w1s else v(res, "w1_log") <= 1.05 * min(w1s)
    ok = _all(
        [w1, _better_ratio(v(res, "p99_ratio"), best["p99_ratio"]), _better_ratio(v(res, "rapsd"), best["rapsd"])]
    )
    out.append(
        (
            "2b. matches or beats the better DDPM on W1 log-rain, P99 ratio, RAPSD ratio",
            f"W1 {f3(v(res, 'w1_log'))} vs {f3(min(w1s) if w1s else None)}; P99 {f3(v(res, 'p99_ratio'))} vs "
            f"{f3(best['p99_ratio'])}; RAPSD {f3(v(res, 'rapsd'))} vs {f3(best['rapsd'])}",
            miss or _verdict(ok),
        )
    )
    ok = _all(
        [_gt(v(res, "member_fss"), v(n, "member_fss")) and v(res, "member_fss") != v(n, "member_fss") for n in ddpms]
    )
    out.append(
        (
            "2c. beats every DDPM on member-to-member FSS",
            ", ".join(f"{n} {f3(v(n, 'member_fss'))}" for n in (res, *ddpms)),
            miss or _verdict(ok),
        )
    )
    crps = {n: v(n, "crps") for n in COMPARISON if n in scores}
    ok = None if crps.get(res) is None else all(c is None or crps[res] <= c for c in crps.values())
    out.append(("2d. the best CRPS of all", ", ".join(f"{n} {f3(c)}" for n, c in crps.items()), miss or _verdict(ok)))
    team = scores["ddpm_team"].meta.get("nfe") if "ddpm_team" in scores else 500
    nfe = scores[res].meta.get("nfe") if res in scores else None
    ratio = team / nfe if nfe else None
    out.append(
        (
            "2e. >= 60 x fewer network evaluations than DDPM-500",
            f"NFE {count(nfe)} vs {count(team)} ({f3(ratio)} x fewer)",
            (miss or _verdict(None if ratio is None else ratio >= 60)),
        )
    )
    return out


def training(study: Path) -> str:
    """The training budget of each checkpoint, from ``STUDY/manifest.json``."""
    path = study / "manifest.json"
    if not path.is_file():
        return "No `manifest.json` in the study: training budget not recorded."
    try:
        entries = json.loads(path.read_text(encoding="utf-8")).get("checkpoints", [])
    except json.JSONDecodeError as exc:
        raise QpeflowError(f"{path}: not valid JSON ({exc.msg})") from None
    rows, total = [], 0.0
    for e in entries:
        val = e.get("validation") or {}
        seconds = e.get("train_seconds")
        total += float(seconds or 0.0)
        rows.append(
            [
                str(e.get("name")),
                count(e.get("step")),
                f3(None if seconds is None else seconds / 60),
                f3(e.get("steps_per_s")),
                count(val.get("best_step")),
                f3(val.get("best_loss")),
                f"`{e.get('train_command', '')}`",
            ]
        )
    head = ["checkpoint", "steps", "wall-clock (min)", "steps/s", "best val step", "best val loss", "command"]
    return f"Total training wall-clock: {total / 60:.1f} min.\n\n" + table(head, rows)


def steps_section(study: Path) -> str:
    """Quality against cost, from ``STUDY/steps/steps.json``."""
    path = study / "steps" / "steps.json"
    if not path.is_file():
        return "Not run: no `steps/steps.json` (run `benchmarks/steps.py --out STUDY/steps`)."
    doc = json.loads(path.read_text(encoding="utf-8"))
    keys = ("csi_0.1", "csi_1", "fss_5_8", "w1_log", "p99_ratio", "rapsd_small_scale_ratio", "crps", "member_fss")
    refs = doc.get("references", {})
    head = [
        "model",
        "sampler",
        "steps",
        "NFE",
        "s/member/field",
        *keys,
        *(f"NFE / {r['label']}" for r in refs.values()),
        *(f"time / {r['label']}" for r in refs.values()),
    ]
    rows = [
        [
            r["model"] + (" †" if r.get("limited") else ""),
            r["sampler"],
            str(r["steps"]),
            count(r["nfe"]),
            f3(r["seconds_per_member"]),
            *(f3(r.get(k)) for k in keys),
            *(f3(r.get(f"nfe_ratio_{k}")) for k in refs),
            *(f3(r.get(f"time_ratio_{k}")) for k in refs),
        ]
        for r in doc.get("rows", [])
    ]
    notes = [
        f"- {r['label']} ({r.get('model') or 'no such checkpoint'}): NFE {r['nfe']} ({r['nfe_source']}); "
        f"time {f3(r.get('seconds_per_member'))} s ({r['time_source']})"
        for r in refs.values()
    ]
    notes += [f"- {n}" for n in doc.get("notes", [])]
    return "\n\n".join([f"`{doc.get('command', '')}`", table(head, rows), "\n".join(notes)])


def discussion(scores: dict[str, Scores], draws: int) -> str:
    """Section (g): a template filled with the study's own facts."""
    metas = [s.meta for s in scores.values()]
    infrared = sorted({str(m.get("infrared")) for m in metas}) or ["unknown"]
    sources = sorted({str(m.get("data_source")) for m in metas}) or ["unknown"]
    events = sorted({e for m in metas for e in m.get("events", [])})
    fields = max((int(m.get("n_fields") or 0) for m in metas), default=0)
    unet = scores.get("unet")
    sd = unet.spread("csi_0.1") if unet else None
    spread = (
        f"the U-Net's CSI@0.1 varies by {f3(sd['std'])} (std) across the {draws} infrared draws of the same rain"
        if sd and sd.get("std") is not None
        else "the spread over infrared draws was not measured"
    )
    return "\n\n".join(
        [
            f"**What is simulated.** Every score above comes from infrared = {', '.join(infrared)} over radar rain of "
            f"data source {', '.join(sources)} ({len(events)} test events, {fields} test fields). The rain is observed; "
            "the infrared is produced by qpeflow's forward operator (qpeflow.data.simulator), calibrated against real "
            "SEVIRI statistics and against real retrieval skill (issue 10). The relation between cloud tops and rain "
            f"is therefore the simulator's, not the atmosphere's: {spread}.",
            "**What the benchmark can show.** Relative behaviour of methods that see the same ambiguous infrared: "
            "placement versus realism of the rain field, the randomness of placement between members, cost in "
            "network evaluations. Those follow from the methods and hold as long as the infrared is ambiguous in the "
            "same way as the real one.",
            "**What needs real SEVIRI + radar pairs to confirm.** Absolute skill (the CSI/POD levels, compare the "
            "anchors of section (e)); whether the infrared sequence helps as much as in section (b) on real cloud "
            "evolution; the source-knob trade-off of section (c) on real ambiguity; transfer to other radars (section "
            "(d) only changes the rain, not the infrared); and every per-class score of heavy and violent rain, where "
            "the simulator's cold-top model is least constrained.",
        ]
    )


def _predict_command(a: dict[str, Any], s: Scores, pred: Path) -> str:
    """The ``qpeflow predict`` line that wrote ``pred`` (from its attributes)."""
    fields = f" --max-samples {s.meta.get('n_fields')}" if s.meta.get("n_fields") else ""
    if not a.get("checkpoint"):
        return (
            f"qpeflow predict --baseline {a.get('method')} --store {a.get('store')} --split {a.get('split')}"
            f"{fields} -o {pred}"
        )
    seeds = a.get("seeds")
    seed = int(seeds[0] if hasattr(seeds, "__len__") else seeds) if seeds is not None else 0
    line = f"qpeflow predict --checkpoint {a['checkpoint']} --store {a.get('store')} --split {a.get('split')}"
    line += f" --members {s.meta.get('members')} --steps {a.get('steps')} --seed {seed}"
    line += f" --sampler {a['sampler']}" if a.get("sampler") not in (None, "default", "none") else ""
    return line + f"{fields} -o {pred}"


def commands(study: Path, scores: dict[str, Scores], out: Path, fig_dir: Path) -> str:
    """The commands that reproduce every scores file (from the predictions files they point to) and this file."""
    lines: list[str] = []
    done: set[str] = set()
    for name, s in scores.items():
        pred = Path(str(s.meta.get("predictions", "")))
        if str(pred) in done:  # a scores file copied under a second name (e.g. a knob row)
            continue
        done.add(str(pred))
        by = (s.doc.get("groups") or {}).get("by")
        try:
            with xr.open_dataset(pred) as ds:
                a = dict(ds.attrs)
            lines.append(_predict_command(a, s, pred))
        except (OSError, ValueError):
            lines.append(f"# {name}: predictions file {pred} not readable here: its predict command is unknown")
        lines.append(f"qpeflow evaluate {pred} -o {s.path.parent}" + (f" --by {by}" if by else ""))
    lines.append(f"python benchmarks/results.py {shlex.quote(str(study))} --out {out} --figures {fig_dir}")
    text = "\n".join(lines).replace(str(study.resolve()), "STUDY").replace(str(study), "STUDY")
    return "```\n" + text + "\n```"


def render(study: Path, out: Path, fig_dir: Path) -> str:
    """The whole document (sections a-g, training budget, cost, commands) as Markdown."""
    scores = read_folder(study / "scores")
    if not scores:
        raise QpeflowError(f"{study / 'scores'}: no scores *.json files (run `qpeflow evaluate -o` there first)")
    groups = [s.doc["groups"] for s in scores.values() if s.doc.get("groups")]
    draws = len(groups[0]["values"]) if groups else 1
    target_rows = [[t, m, v] for t, m, v in targets(scores)]
    ablation_keys = ("csi_0.1", "csi_1", "fss_5_8", "crps", "w1_log", "p99_ratio")
    knob_keys = ("member_fss", "centroid", "w1_log", "p99_ratio", "rapsd", "csi_1", "crps")
    parts = [
        "# qpeflow results",
        f"Generated by `benchmarks/results.py` from the scores files of `{study}`: do not edit by hand. Every "
        "number below is read from those files; the commands that reproduce them are at the end.",
        "## (a) Comparison on the benchmark's test split",
        "Headline scores: CSI/POD at 0.1 mm/h (the team's rain/no-rain), CSI at 1 mm/h, FSS at 5 mm/h in 8 px "
        "windows and MAE on member 1; W1 of log-rain and the P99 ratio on all members pooled; the RAPSD ratio "
        "at wavelengths < 16 px on member 1; fair CRPS and member-to-member FSS on the ensemble. Each model is "
        "shown with the sampler and steps it was scored with.",
        comparison(scores),
        "### Intensity classes",
        classes(scores),
        "### Figures",
        figures(study, scores, fig_dir, out.parent),
        "### Training budget",
        training(study),
        "### Quality against cost",
        steps_section(study),
        "## (b) Multi-temporal ablation",
        "Mean ± std [min, max] over infrared draws (rows only where their scores exist).",
        rows_present(scores, ABLATION, ablation_keys),
        "## (c) Source-distribution knob",
        "Localisation randomness (member FSS: higher = members agree; centroid spread in px: lower = agree) "
        "against distribution realism (W1, P99, RAPSD).",
        rows_present(scores, KNOB, knob_keys),
        "## (d) Generalisation",
        generalisation(study),
        "## (e) Real-data anchors (a different data set)",
        anchors(scores),
        "## (f) Targets of issue 11",
        f"Rules: {TARGET_RULES}.",
        table(["target", "measured", "verdict"], target_rows),
        "## (g) Honest discussion",
        discussion(scores, draws),
        "## Commands",
        commands(study, scores, out, fig_dir),
    ]
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the document; exit 2 with one line on bad input."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("study", type=Path, help="study folder (layout in the module docstring)")
    p.add_argument("--out", type=Path, default=Path("docs/results.md"))
    p.add_argument("--figures", type=Path, default=Path("docs/figures/results"))
    args = p.parse_args(argv)
    try:
        if not args.study.is_dir():
            raise QpeflowError(f"{args.study}: study folder not found")
        text = render(args.study, args.out, args.figures)
    except QpeflowError as exc:
        print(f"results.py: error: {exc}", file=sys.stderr)
        return 2
    # the document names the study folder as STUDY, wherever the study ran
    write_text(args.out, text.replace(str(args.study.resolve()), "STUDY").replace(str(args.study), "STUDY"))
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
