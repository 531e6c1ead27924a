"""The study of issue 11: train every model of the comparison within a CPU budget, then export them.

    python benchmarks/study.py --store STORE.zarr --out STUDY [--only unet,cfm] [--scale 1.0] [--ship qpeflow/checkpoints]

Every model is trained by ONE ``qpeflow train`` command, printed and recorded in
``STUDY/manifest.json`` (with steps, wall-clock, steps/s, best validation step and
loss); the checkpoint kept is ``best.pt`` (lowest validation loss, never a test
score). Runs are resumable: a run whose folder holds a finished record is skipped,
an interrupted one is continued with ``--resume``. ``--ship`` exports each best
checkpoint (fp16 EMA weights + manifest entry) into the package folder.

The sizes are chosen for 2 shared CPU cores (ENVIRONMENT.md: base width 16 at
32 px trains at 2-6 steps/s): the networks are ~0.4 M parameters, trained on
32 x 32 crops of the store's patches with flips/rot90, and stop on a validation
plateau (patience 4 validations of 100 steps, 1 % relative) or at their time
budget, whichever comes first.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: what every study model shares (CPU-sized network, crops, validation and plateau rule)
COMMON = (
    "model.base_channels=16",
    "model.encoder_channels=16",
    "model.channel_mults=[1,2,2]",
    "data.patch=32",
    "data.augment=true",
    "train.batch_size=16",
    "train.lr=5e-4",
    "train.warmup_steps=100",
    "train.lr_schedule=constant",
    "train.steps=100000",
    "train.val_every=100",
    "train.val_batches=6",
    "train.patience=4",
    "train.min_delta=0.01",
    "train.ckpt_every=100",
)


@dataclass(frozen=True)
class StudyModel:
    """name: run folder and shipped name; config: configs/*.yaml; minutes: time budget; extra: overrides;
    mean: the study model whose best checkpoint is this residual's regression mean."""

    name: str
    config: str
    minutes: float
    extra: tuple[str, ...] = ()
    mean: str = ""
    init: str = ""  # start from this study model's best checkpoint (train.init_from)
    select: str = "best.pt"  # the checkpoint kept: best.pt (validation loss) or checkpoint.pt (the last)


MODELS: tuple[StudyModel, ...] = (
    StudyModel("unet", "unet.yaml", 5),
    StudyModel("cfm", "cfm.yaml", 7),
    StudyModel("cfm_residual", "cfm_residual.yaml", 7, mean="unet"),
    StudyModel("ddpm", "ddpm.yaml", 8),
    StudyModel("ddpm_team", "ddpm_team.yaml", 8),
    StudyModel("cfm_mean_sigma0.5", "cfm_residual.yaml", 5, ("method.source=mean", "method.source_sigma=0.5"), "unet"),
    StudyModel(
        "cfm_mean_sigma0.25", "cfm_residual.yaml", 5, ("method.source=mean", "method.source_sigma=0.25"), "unet"
    ),
    StudyModel("unet_t1", "unet.yaml", 4, ("data.time_steps=1",)),
    StudyModel("cfm_residual_t1", "cfm_residual_t1.yaml", 5, mean="unet_t1"),
    StudyModel("cfm_residual_stem3d", "cfm_residual.yaml", 5, ("model.encoder=stem3d",), "unet"),
    # MeanFlow's loss does not track sample quality (qpeflow.methods.meanflow): no plateau rule, the last
    # checkpoint is kept, and it starts from the trained residual CFM (its extra time embedding at zero)
    StudyModel(
        "meanflow_residual", "meanflow_residual.yaml", 8, ("train.patience=0",), "unet", "cfm_residual", "checkpoint.pt"
    ),
)


#: the models shipped in the package (the demo's); the ablations stay in the study folder
SHIPPED = ("unet", "cfm", "cfm_residual", "ddpm", "ddpm_team", "meanflow_residual")


def command(m: StudyModel, store: Path, out: Path, scale: float) -> list[str]:
    """The one ``qpeflow train`` command of model ``m``."""
    sets = [*COMMON, f"data.store={store}", f"train.out={out / 'runs' / m.name}", *m.extra]
    sets.append(f"train.time_limit_minutes={m.minutes * scale:g}")
    if m.mean:
        sets.append(f"method.residual_of={out / 'runs' / m.mean / 'best.pt'}")
    if m.init:
        sets.append(f"train.init_from={out / 'runs' / m.init / 'best.pt'}")
    cmd = ["qpeflow", "train", "--config", f"configs/{m.config}"]
    for s in sets:
        cmd += ["--set", s]
    return cmd


RECORD = "record.json"


def _aggregate(out: Path) -> dict[str, dict[str, object]]:
    """``out/manifest.json`` from every finished run's record (runs may train in parallel streams), in
    the shipped manifest's layout (``{"checkpoints": [{name, step, train_seconds, steps_per_s,
    validation, train_command}]}``, :mod:`qpeflow.training.export`) that ``benchmarks/results.py`` reads."""
    records = {p.parent.name: json.loads(p.read_text()) for p in sorted((out / "runs").glob(f"*/{RECORD}"))}
    entries = [
        {
            "name": name,
            "step": r["steps"],
            "train_seconds": r["train_seconds"],
            "steps_per_s": r["steps_per_s"],
            "validation": {"best_step": r["best_step"], "best_loss": r["best_val_loss"]},
            "stopped_on_plateau": r["stopped_on_plateau"],
            "train_command": r["command"],
        }
        for name, r in records.items()
    ]
    tmp = out / f".manifest.{os.getpid()}.tmp"
    tmp.write_text(json.dumps({"checkpoints": entries}, indent=1) + "\n")
    os.replace(tmp, out / "manifest.json")
    return records


def portable(cmd: list[str], store: Path, out: Path) -> str:
    """The command as documented: the store as ``STORE.zarr`` and the study folder as ``study``."""
    return shlex.join(cmd).replace(str(store), "STORE.zarr").replace(str(out), "study")


def _record(m: StudyModel, cmd: str, run: Path, wall: float) -> dict[str, object]:
    sys.path.insert(0, str(REPO))
    from qpeflow.checkpoint import load_checkpoint
    from qpeflow.training.validate import ValidationState

    last = load_checkpoint(run / "checkpoint.pt")
    val = last.get("validation", {})
    seconds = float(last.get("train_seconds", 0.0))
    return {
        "name": m.name,
        "command": cmd,
        "steps": int(last["step"]),
        "train_seconds": round(seconds, 1),
        "steps_per_s": round(int(last["step"]) / seconds, 3) if seconds else None,
        "wall_seconds_this_session": round(wall, 1),
        "best_step": val.get("best_step"),
        "best_val_loss": val.get("best_loss"),
        "stopped_on_plateau": ValidationState.from_payload(val).plateaued(int(last["config"]["train"]["patience"])),
        "val_history": val.get("history", []),
    }


def _ship(models: list[StudyModel] | tuple[StudyModel, ...], out: Path, ship: Path) -> None:
    """Export the kept checkpoint of every finished, shipped model (one process: the manifest is one file)."""
    for m in models:
        run = out / "runs" / m.name
        if m.name not in SHIPPED or not (run / RECORD).is_file():
            continue
        record = json.loads((run / RECORD).read_text())
        cmd = ["qpeflow", "export", "--checkpoint", str(run / m.select), "--name", m.name, "-o", str(ship)]
        subprocess.run([*cmd, "--train-command", str(record["command"])], check=True, cwd=REPO)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--only", default="", help="comma-separated model names (default: all)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every time budget")
    parser.add_argument("--ship", type=Path, default=None, help="export best checkpoints into this folder")
    parser.add_argument(
        "--aggregate", action="store_true", help="train nothing: rewrite STUDY/manifest.json (and --ship the models)"
    )
    args = parser.parse_args()
    if args.aggregate:
        _aggregate(args.out)
        if args.ship is not None:
            _ship(MODELS, args.out, args.ship)
        return
    wanted = [s for s in args.only.split(",") if s]
    known = {m.name: m for m in MODELS}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise SystemExit(f"study: unknown model(s) {unknown}; known: {list(known)}")
    for m in [known[w] for w in wanted] if wanted else MODELS:  # --only also sets the order
        run = args.out / "runs" / m.name
        store, out = args.store.resolve(), args.out.resolve()
        cmd = command(m, store, out, args.scale)
        if (run / RECORD).is_file() and (run / m.select).is_file():
            print(f"[study] {m.name}: done before, skipped", flush=True)
            continue
        resume = ["--resume"] if (run / "checkpoint.pt").is_file() else []
        print(f"[study] {m.name}: {shlex.join(cmd)}", flush=True)
        t0 = time.perf_counter()
        subprocess.run([*cmd, *resume], check=True, cwd=REPO)
        record = _record(m, portable(cmd, store, out), run, time.perf_counter() - t0)
        (run / RECORD).write_text(json.dumps(record, indent=1) + "\n")
        manifest = _aggregate(args.out)
    manifest = _aggregate(args.out)
    if args.ship is not None:
        _ship([known[w] for w in wanted] if wanted else MODELS, args.out, args.ship)
    total = sum(float(r["train_seconds"]) for r in manifest.values())
    print(f"[study] {len(manifest)} models, {total / 60:.1f} CPU-minutes of training in all", flush=True)


if __name__ == "__main__":
    main()
