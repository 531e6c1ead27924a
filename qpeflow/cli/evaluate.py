"""Score prediction files against their truth: one scores JSON per file (and the IR baselines).

    qpeflow evaluate PRED.nc [PRED2.nc ...] -o scores/ [--baselines] [--config EXP.yaml] [--set eval.KEY=VALUE]

Each PRED.nc (member, time, y, x, with truth and mask) gives scores/<stem>.json;
--baselines adds scores/gpi.json and scores/autoestimator.json computed from the
first file's ir_108.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from qpeflow.config import load_config
from qpeflow.errors import QpeflowError
from qpeflow.evaluate import evaluate, evaluate_baselines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``qpeflow evaluate``."""
    parser.add_argument("predictions", nargs="+", type=Path, help="predictions netCDF file(s)")
    parser.add_argument("-o", "--out", type=Path, default=Path("scores"), help="folder for the scores JSON files")
    parser.add_argument("--baselines", action="store_true", help="also score GPI and the Auto-Estimator from ir_108")
    parser.add_argument("--truth", type=Path, default=None, help="take truth and mask from this file instead")
    parser.add_argument("--chunk", type=int, default=64, help="time steps read at once")
    parser.add_argument("--config", type=Path, default=None, help="experiment YAML (its eval section is used)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override, e.g. eval.fss_scales=[1,4,16]",
    )


def run(args: argparse.Namespace) -> int:
    """Score every file (and the baselines); print the paths written."""
    cfg = load_config(args.config, args.overrides).eval
    names = [p.stem for p in args.predictions]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise QpeflowError(f"prediction files share the name(s) {duplicates}: their scores would overwrite each other")
    for path in args.predictions:
        out = evaluate(path, args.out, cfg, chunk=args.chunk, truth_path=args.truth)
        print(out)
    if args.baselines:
        for out in evaluate_baselines(args.predictions[0], args.out, cfg, chunk=args.chunk).values():
            print(out)
    return 0
