"""The main job: the study's shipped checkpoints (U-Net, CFM, residual CFM, DDPM, the team's DDPM)
with GPI and the Auto-Estimator on the test split of a store built now -> predictions -> scores ->
report, and the comparison table in the terminal. With QPEFLOW_DATA pointing at the radar samples the
store holds real radar rain with SIMULATED infrared, else simulated rain and infrared. ``--train``
retrains every model from scratch for ``--minutes`` instead (a pipeline check, not a comparison)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from qpeflow.errors import QpeflowError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from qpeflow.demo import DEMO_MODELS

    parser.add_argument("--out", default="demo", help="output folder (default: demo/)")
    parser.add_argument("--train", action="store_true", help="retrain every model instead of the shipped ones")
    parser.add_argument("--minutes", type=float, default=2.0, help="with --train: wall-clock per model (default 2)")
    parser.add_argument(
        "--source", default="auto", choices=("auto", "radar", "synthetic"), help="store (auto: radar if present)"
    )
    parser.add_argument("--n-events", type=int, default=12, help="synthetic events in the store (default 12)")
    parser.add_argument("--members", type=int, default=4, help="ensemble members of generative models")
    parser.add_argument("--max-samples", type=int, default=24, help="test samples predicted and scored")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--configs", default="configs", help="folder of the experiment YAMLs")
    parser.add_argument(
        "--models", default=",".join(DEMO_MODELS), help=f"comma-separated subset of {','.join(DEMO_MODELS)}"
    )


def run(args: argparse.Namespace) -> int:
    from qpeflow.cli.outputs import check_output_dir
    from qpeflow.demo import DemoSettings, run_demo

    for flag, value in (
        ("--n-events", args.n_events),
        ("--members", args.members),
        ("--max-samples", args.max_samples),
    ):
        if value < 1:
            raise QpeflowError(f"{flag} {value}: must be >= 1")
    if not math.isfinite(args.minutes) or args.minutes <= 0:
        raise QpeflowError(f"--minutes {args.minutes:g}: must be > 0")
    check_output_dir(args.out, "--out")

    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    run_demo(
        DemoSettings(
            Path(args.out),
            train=args.train,
            minutes=args.minutes,
            source=args.source,
            n_events=args.n_events,
            members=args.members,
            seed=args.seed,
            configs=Path(args.configs),
            models=models,
            max_samples=args.max_samples,
        )
    )
    return 0
