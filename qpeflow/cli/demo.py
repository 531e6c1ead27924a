"""The main job on embedded synthetic data: prepare -> train (unet, cfm, cfm_residual, ddpm) ->
predict -> evaluate (+ GPI and Auto-Estimator baselines) -> report. Scores are on SIMULATED
rain and SIMULATED infrared; short CPU training gives a qualitative picture only."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from qpeflow.errors import QpeflowError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from qpeflow.demo import DEMO_MODELS

    parser.add_argument("--out", default="demo", help="output folder (default: demo/)")
    parser.add_argument("--minutes", type=float, default=2.0, help="training wall-clock per model (default 2)")
    parser.add_argument("--n-events", type=int, default=12, help="synthetic events in the store (default 12)")
    parser.add_argument("--members", type=int, default=4, help="ensemble members of generative models")
    parser.add_argument("--max-samples", type=int, default=32, help="test samples predicted and scored")
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
    index = run_demo(
        DemoSettings(
            Path(args.out),
            args.minutes,
            args.n_events,
            args.members,
            args.seed,
            Path(args.configs),
            models,
            args.max_samples,
        )
    )
    print(f"report: {index}")
    return 0
