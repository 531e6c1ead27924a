"""Quality against cost: every model at every step count, in one run on the same test fields.

    python benchmarks/steps.py --checkpoints runs/ --store STORE.zarr [--split test] [--max-samples 64]
        [--members 8] [--out study/steps] [--expensive-max-samples 16 --expensive-members 2]
    python benchmarks/steps.py unet=runs/unet/best.pt ddpm_team=runs/ddpm_team/best.pt --store S.zarr

Checkpoints: ``name=path`` pairs, and/or ``--checkpoints DIR``: every ``DIR/*.pt`` (name =
stem) and every ``DIR/<name>/best.pt`` (the validation-selected one; else
``DIR/<name>/checkpoint.pt``). Rows, from each checkpoint's own config (``method.kind``):

- a flow (CFM, residual CFM): Euler 1, 2, 4, 8, 16 and Heun 2, 4 (``--flow-grid``);
- a DDPM: DDIM 10, 50, 250 and ancestral 500, 1000 (``--ddpm-grid``), only step
  counts <= its ``method.diffusion_steps`` (the team's DDPM has 500);
- a MeanFlow (average velocity, one jump per step): Euler 1, 2, 4 (``--meanflow-grid``);
- a regression (U-Net): one row, one member (it is deterministic).

For each row: ``qpeflow.inference.predict.predict`` -> ``qpeflow.evaluate.evaluate``
(``OUT/scores/<model>-<sampler><steps>.json``; predictions in ``OUT/predictions/``,
deleted after scoring unless ``--keep-predictions``) -> one table row: CSI@0.1 and
CSI@1 (member 1), FSS@5 mm/h / 8 px (member 1), Wasserstein-1 of log-rain, P99 ratio
(all members pooled), RAPSD small-scale ratio (member 1), fair CRPS and
member-to-member FSS (ensemble), wall-clock seconds per member and field, NFE, and
the ratios of NFE and of wall-clock to the two references:

- **DDPM-1000**: ancestral 1000 steps of a DDPM with ``diffusion_steps >= 1000``
  (the checkpoint named ``ddpm`` first);
- **team DDPM-500**: ancestral 500 steps of a DDPM with ``diffusion_steps == 500``
  (a name containing ``team`` first).

A reference's NFE is its row's when it ran, else its nominal step count; its
wall-clock is measured when its row ran, else estimated as NFE x the median
seconds per NFE of that checkpoint's other rows (or of every DDPM row, or of every
row), and the table says which. Ratio = row / reference (0.008 = 125 x fewer).

Rows with at least ``--expensive-nfe`` steps (default 1000) may use fewer fields
(``--expensive-max-samples``) and members (``--expensive-members``): they are marked
with a dagger and listed under the table (their scores are then on other fields).

Resumable: a row whose scores file exists is read, not rerun (delete it to rerun).
Output: the Markdown table printed and written to ``OUT/steps.md``, and
``OUT/steps.json`` (rows, references, settings, notes) that ``benchmarks/results.py``
reads. Times swing on a shared machine (ENVIRONMENT.md): quote them with the machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import shlex
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qpeflow.build import config_of
from qpeflow.checkpoint import load_checkpoint
from qpeflow.config import EvalConfig
from qpeflow.errors import QpeflowError
from qpeflow.evaluate import evaluate
from qpeflow.inference.predict import predict
from qpeflow.io.atomic import write_text
from qpeflow.report.table import find_scalar, read_scores

FLOW_GRID = "euler:1,2,4,8,16 heun:2,4"
DDPM_GRID = "ddim:10,50,250 ancestral:500,1000"
MEANFLOW_GRID = "euler:1,2,4"

#: (key, label, scalar name, threshold, scale, on): the quality columns of a row
METRICS: tuple[tuple[str, str, str, float | None, int | None, tuple[str, ...]], ...] = (
    ("csi_0.1", "CSI@0.1", "csi", 0.1, None, ("member1",)),
    ("csi_1", "CSI@1", "csi", 1.0, None, ("member1",)),
    ("fss_5_8", "FSS@5mm/8px", "fss", 5.0, 8, ("member1",)),
    ("w1_log", "W1 log-rain", "w1_log", None, None, ("pooled",)),
    ("p99_ratio", "P99 ratio", "p99_ratio", None, None, ("pooled",)),
    ("rapsd_small_scale_ratio", "RAPSD small-scale", "rapsd_small_scale_ratio", None, None, ("member1",)),
    ("crps", "CRPS", "crps", None, None, ("ensemble",)),
    ("member_fss", "member FSS", "member_fss", None, None, ("ensemble",)),
)
REFERENCES = {"ddpm1000": "DDPM-1000", "team500": "team DDPM-500"}


@dataclass(frozen=True)
class Model:
    """A checkpoint and what its config says about it."""

    name: str
    path: Path
    kind: str  # regression | ddpm | flow | meanflow
    diffusion_steps: int
    prediction: str


@dataclass(frozen=True)
class Plan:
    """One row to run: model, sampler ("" = the method's only one), steps, fields and members."""

    model: str
    sampler: str
    steps: int
    members: int
    max_samples: int | None
    limited: bool

    @property
    def name(self) -> str:
        return f"{self.model}-{self.sampler or 'mean'}{self.steps if self.sampler else ''}"


def parse_grid(text: str) -> list[tuple[str, int]]:
    """``"euler:1,2 heun:2"`` -> [("euler", 1), ("euler", 2), ("heun", 2)]."""
    out = []
    for part in text.split():
        sampler, _, counts = part.partition(":")
        try:
            steps = [int(c) for c in counts.split(",") if c]
        except ValueError:
            raise QpeflowError(f"grid {text!r}: write sampler:steps,steps ... (e.g. {FLOW_GRID!r})") from None
        if not sampler or not steps or min(steps) < 1:
            raise QpeflowError(f"grid {text!r}: write sampler:steps,steps ... (e.g. {FLOW_GRID!r})")
        out += [(sampler, s) for s in steps]
    return out


def read_model(name: str, path: Path) -> Model:
    """The checkpoint's method kind, diffusion steps and prediction target, from its own config."""
    cfg = config_of(load_checkpoint(path), path)
    m = cfg.method
    return Model(name, Path(path), m.kind, int(m.diffusion_steps), m.prediction)


def find_checkpoints(folder: Path | None, pairs: list[str]) -> list[tuple[str, Path]]:
    """(name, path) from ``name=path`` pairs and the folder layout of the module docstring."""
    found: dict[str, Path] = {}
    if folder is not None:
        if not folder.is_dir():
            raise QpeflowError(f"{folder}: --checkpoints is not a folder")
        found.update({p.stem: p for p in sorted(folder.glob("*.pt"))})
        for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
            best = next((sub / n for n in ("best.pt", "checkpoint.pt") if (sub / n).is_file()), None)
            if best is not None:
                found[sub.name] = best
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise QpeflowError(f"{pair!r}: give checkpoints as name=path")
        found[name] = Path(path)
    if not found:
        raise QpeflowError("no checkpoints: give name=path pairs or --checkpoints DIR")
    return sorted(found.items())


def plan_rows(model: Model, args: argparse.Namespace) -> list[Plan]:
    """The rows of one model (module docstring), expensive rows limited as asked."""
    if model.kind == "regression":
        grid = [("", 1)]
    elif model.kind == "ddpm":
        grid = [(s, k) for s, k in parse_grid(args.ddpm_grid) if k <= model.diffusion_steps]
    elif model.kind == "meanflow":
        grid = parse_grid(args.meanflow_grid)
    else:
        grid = parse_grid(args.flow_grid)
    plans = []
    for sampler, steps in grid:
        members = 1 if model.kind == "regression" else args.members
        limited = steps >= args.expensive_nfe and (
            args.expensive_max_samples is not None or args.expensive_members is not None
        )
        max_samples, mem = args.max_samples, members
        if limited:
            max_samples = args.expensive_max_samples or args.max_samples
            mem = min(members, args.expensive_members or members)
        plans.append(Plan(model.name, sampler, steps, mem, max_samples, limited))
    return plans


def run_row(plan: Plan, model: Model, args: argparse.Namespace) -> tuple[Path, bool]:
    """Predict and score one row unless its scores file exists; (scores path, resumed)."""
    scores = args.out / "scores" / f"{plan.name}.json"
    if scores.is_file():
        return scores, True
    pred = args.out / "predictions" / f"{plan.name}.nc"
    predict(
        model.path,
        args.store,
        args.split,
        members=plan.members,
        steps=plan.steps,
        seed=args.seed,
        sampler=plan.sampler,
        out=pred,
        batch_size=args.batch_size,
        device=args.device,
        max_samples=plan.max_samples,
    )
    evaluate(pred, args.out / "scores", EvalConfig(), name=plan.name, by=args.by)
    if not args.keep_predictions:
        pred.unlink()
    return scores, False


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def row_of(plan: Plan, model: Model, scores_path: Path, resumed: bool) -> dict[str, Any]:
    """The table row of one scores file: metrics, NFE, seconds per member and field."""
    s = read_scores(scores_path)
    row: dict[str, Any] = {
        "name": plan.name,
        "model": model.name,
        "kind": model.kind,
        "diffusion_steps": model.diffusion_steps if model.kind == "ddpm" else None,
        "checkpoint": str(model.path),
        "sampler": plan.sampler or "mean",
        "steps": plan.steps,
        "nfe": s.meta.get("nfe"),
        "members": s.members,
        "n_fields": s.meta.get("n_fields"),
        "limited": plan.limited,
        "resumed": resumed,
        "seconds_per_member": _number(s.meta.get("seconds_per_member")),
        "scores": str(scores_path),
    }
    for key, _, name, thr, scale, on in METRICS:
        entry = find_scalar(s.scalars, name, thr, scale, on)
        row[key] = _number(entry.get("value")) if entry else None
    return row


def _per_nfe(rows: list[dict[str, Any]]) -> float | None:
    costs = [r["seconds_per_member"] / r["nfe"] for r in rows if r["nfe"] and r["seconds_per_member"] is not None]
    return float(np.median(costs)) if costs else None


def reference_model(models: list[Model], key: str) -> str | None:
    """The checkpoint a reference runs on (module docstring), None when the study has none."""
    if key == "ddpm1000":
        fits = [m.name for m in models if m.kind == "ddpm" and m.diffusion_steps >= 1000]
        first = [n for n in fits if n == "ddpm"]
    else:
        fits = [m.name for m in models if m.kind == "ddpm" and m.diffusion_steps == 500]
        first = [n for n in fits if "team" in n]
    return (first + fits)[0] if fits else None


def reference(rows: list[dict[str, Any]], models: list[Model], key: str) -> dict[str, Any]:
    """NFE and wall-clock per member and field of a reference, with where each number comes from."""
    steps = 1000 if key == "ddpm1000" else 500
    model = reference_model(models, key)
    ran = [r for r in rows if r["model"] == model and r["sampler"] == "ancestral" and r["steps"] == steps]
    ref = {"label": REFERENCES[key], "model": model, "nfe": ran[0]["nfe"] if ran else steps}
    ref["nfe_source"] = f"measured ({ran[0]['name']})" if ran else "nominal: ancestral NFE = steps (not run)"
    if ran and ran[0]["seconds_per_member"] is not None:
        return {**ref, "seconds_per_member": ran[0]["seconds_per_member"], "time_source": ref["nfe_source"]}
    pools = (
        ([r for r in rows if r["model"] == model], f"{model}'s rows"),
        ([r for r in rows if r["kind"] == "ddpm"], "every DDPM row"),
        (rows, "every row"),
    )
    for pool, what in pools:
        cost = _per_nfe(pool)
        if cost is not None:
            note = f"estimated: {ref['nfe']} NFE x the median s/NFE of {what} ({cost:.3g} s)"
            return {**ref, "seconds_per_member": ref["nfe"] * cost, "time_source": note}
    return {**ref, "seconds_per_member": None, "time_source": "no timed row to estimate it from"}


def add_ratios(rows: list[dict[str, Any]], refs: dict[str, dict[str, Any]]) -> None:
    """``nfe_ratio_<ref>`` and ``time_ratio_<ref>`` = row / reference, in place (None when undefined)."""
    for row in rows:
        for key, ref in refs.items():
            nfe, t = row["nfe"], row["seconds_per_member"]
            row[f"nfe_ratio_{key}"] = nfe / ref["nfe"] if nfe is not None and ref["nfe"] else None
            rt = ref["seconds_per_member"]
            row[f"time_ratio_{key}"] = t / rt if t is not None and rt else None


def _fmt(value: Any, digits: str = ".3g") -> str:
    return "—" if value is None else format(value, digits)


def _ratio(value: float | None) -> str:
    """0.008 -> '0.008 (1/125)'."""
    if value is None:
        return "—"
    return f"{value:.3g}" + (f" (1/{1 / value:.0f})" if 0 < value < 0.5 else "")


def markdown(rows: list[dict[str, Any]], refs: dict[str, dict[str, Any]], notes: list[str]) -> str:
    """The steps table (one row per model, sampler and steps) and its notes, as Markdown."""
    head = ["model", "sampler", "steps", "NFE", "s/member/field", *(m[1] for m in METRICS)]
    for key in refs:
        head += [f"NFE / {REFERENCES[key]}", f"time / {REFERENCES[key]}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["model"] + (" †" if r["limited"] else ""), r["sampler"], str(r["steps"]), _fmt(r["nfe"], "d")]
        cells += [_fmt(r["seconds_per_member"], ".3g"), *(_fmt(r[m[0]], ".3f") for m in METRICS)]
        for key in refs:
            cells += [_ratio(r[f"nfe_ratio_{key}"]), _ratio(r[f"time_ratio_{key}"])]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    for ref in refs.values():
        lines.append(
            f"- {ref['label']} ({ref['model'] or 'no such checkpoint'}): NFE {ref['nfe']} ({ref['nfe_source']}); "
            f"s/member/field {_fmt(ref['seconds_per_member'])} ({ref['time_source']})."
        )
    lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def _notes(args: argparse.Namespace, rows: list[dict[str, Any]]) -> list[str]:
    first = rows[0] if rows else {}
    notes = [
        f"Store {args.store}, split {args.split}; {first.get('n_fields', '?')} fields x up to {args.members} members "
        f"(seed {args.seed}); regression rows have one member (deterministic); ratio = row / reference.",
        "CSI, FSS and RAPSD on member 1; W1 and P99 on all members pooled; CRPS and member FSS on the ensemble "
        "(member FSS and spread need >= 2 members).",
    ]
    limited = [r for r in rows if r["limited"]]
    if limited:
        notes.append(
            "† "
            + ", ".join(f"{r['name']}: {r['n_fields']} fields x {r['members']} members" for r in limited)
            + f" (rows with >= {args.expensive_nfe} steps limited by --expensive-max-samples / --expensive-members:"
            " scores on fewer, evenly spaced fields; costs per member and field stay comparable)."
        )
    resumed = [r["name"] for r in rows if r["resumed"]]
    if resumed:
        notes.append(f"Read from existing scores files (resumed, not rerun): {', '.join(resumed)}.")
    return notes


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("pairs", nargs="*", metavar="NAME=PATH", help="checkpoints by name")
    p.add_argument("--checkpoints", type=Path, default=None, help="folder of checkpoints (module docstring)")
    p.add_argument("--store", type=Path, required=True, help="prepared store (zarr)")
    p.add_argument("--split", default="test")
    p.add_argument("--max-samples", type=int, default=None, help="evenly spaced samples of the split (all: None)")
    p.add_argument("--members", type=int, default=8, help="ensemble members of generative rows")
    p.add_argument("--out", type=Path, default=Path("steps"), help="output folder")
    p.add_argument("--flow-grid", default=FLOW_GRID, help=f"flow rows (default {FLOW_GRID!r})")
    p.add_argument("--ddpm-grid", default=DDPM_GRID, help=f"DDPM rows (default {DDPM_GRID!r})")
    p.add_argument("--meanflow-grid", default=MEANFLOW_GRID, help=f"MeanFlow rows (default {MEANFLOW_GRID!r})")
    p.add_argument("--expensive-nfe", type=int, default=1000, help="rows with >= this many steps are 'expensive'")
    p.add_argument("--expensive-max-samples", type=int, default=None, help="samples for expensive rows only")
    p.add_argument("--expensive-members", type=int, default=None, help="members for expensive rows only")
    p.add_argument("--by", default=None, help="also score per value of this coordinate (e.g. draw)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (timings depend on it)")
    p.add_argument("--keep-predictions", action="store_true", help="keep OUT/predictions/*.nc after scoring")
    args = p.parse_args(argv)
    for name in ("members", "batch_size", "threads", "expensive_nfe"):
        if getattr(args, name) < 1:
            raise QpeflowError(f"--{name.replace('_', '-')} {getattr(args, name)}: must be >= 1")
    return args


def run(argv: list[str] | None = None) -> dict[str, Any]:
    """Run (or resume) every row; print and write the table; return the steps.json document."""
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    models = [read_model(n, p) for n, p in find_checkpoints(args.checkpoints, args.pairs)]
    rows = []
    for model in models:
        for plan in plan_rows(model, args):
            print(f"steps: {plan.name} ({plan.members} members) ...", file=sys.stderr, flush=True)
            rows.append(row_of(plan, model, *run_row(plan, model, args)))
    refs = {key: reference(rows, models, key) for key in REFERENCES}
    add_ratios(rows, refs)
    notes = _notes(args, rows)
    table = markdown(rows, refs, notes)
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    doc = {
        "about": "benchmarks/steps.py: quality against cost on the same test fields (module docstring)",
        "command": "python benchmarks/steps.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
        "settings": settings,
        "models": [{**asdict(m), "path": str(m.path)} for m in models],
        "references": refs,
        "rows": rows,
        "notes": notes,
    }
    write_text(args.out / "steps.json", json.dumps(doc, indent=1, allow_nan=False) + "\n")
    write_text(args.out / "steps.md", table)
    print(table)
    return doc


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: exit 2 with one line on bad input."""
    logging.basicConfig(level=logging.WARNING)
    try:
        run(argv)
    except QpeflowError as exc:
        print(f"steps.py: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
