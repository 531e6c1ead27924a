"""Score prediction files against their truth: one scores JSON per file.

    qpeflow evaluate PRED.nc [PRED2.nc ...] -o scores/ [--by draw] [--config EXP.yaml] [--set eval.KEY=VALUE]

Each PRED.nc (member, time, y, x, with truth and mask) gives scores/<stem>.json.
``--by draw`` also scores the fields of each infrared draw (any coordinate along
``time``) alone: scores/by_draw/<stem>.draw<k>.json, and <stem>.json gains a
``groups`` entry with the mean and spread across draws of every scalar
(:mod:`qpeflow.evaluate`).
The GPI and Auto-Estimator baselines are scored like any model, from the
predictions files ``qpeflow predict`` writes for them (method gpi / autoestimator, NFE 0).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from qpeflow.cli import add_overrides
from qpeflow.cli.outputs import check_output_dir
from qpeflow.config import load_config
from qpeflow.errors import QpeflowError
from qpeflow.evaluate import evaluate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``qpeflow evaluate``."""
    parser.add_argument("predictions", nargs="+", type=Path, help="predictions netCDF file(s)")
    parser.add_argument("-o", "--out", type=Path, default=Path("scores"), help="folder for the scores JSON files")
    parser.add_argument("--truth", type=Path, default=None, help="take truth and mask from this file instead")
    parser.add_argument(
        "--by",
        default=None,
        metavar="COORD",
        help="also score per value of this coordinate along time (e.g. draw) and record the spread across them",
    )
    parser.add_argument("--chunk", type=int, default=64, help="time steps read at once")
    parser.add_argument("--config", type=Path, default=None, help="experiment YAML (its eval section is used)")
    add_overrides(parser, "--set eval.fss_scales=[1,4,16]")


def run(args: argparse.Namespace) -> int:
    """Score every file; print the paths written."""
    cfg = load_config(args.config, args.overrides).eval
    names = [p.stem for p in args.predictions]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise QpeflowError(f"prediction files share the name(s) {duplicates}: their scores would overwrite each other")
    if args.chunk < 1:
        raise QpeflowError(f"--chunk {args.chunk}: must be >= 1 (time steps read at once)")
    if args.by is not None and not args.by.isidentifier():
        raise QpeflowError(f"--by {args.by!r}: give a coordinate name such as draw or event")
    check_output_dir(args.out, "-o", [f"{n}.json" for n in names])
    if args.by:
        check_output_dir(args.out / f"by_{args.by}", "-o")
    for path in args.predictions:
        out = evaluate(path, args.out, cfg, chunk=args.chunk, truth_path=args.truth, by=args.by)
        print(out)
    return 0
