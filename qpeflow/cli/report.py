"""Turn a folder of scores files into report/index.html + report.md with figures.

Example: ``qpeflow report scores/ -o report/`` (scores written by ``qpeflow evaluate``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from qpeflow.errors import QpeflowError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scores", type=Path, help="folder of scores *.json files (qpeflow evaluate -o)")
    parser.add_argument(
        "-o",
        "--out",
        type=Path,
        default=Path("report"),
        help="output folder for index.html, report.md and figures/ (default: report)",
    )
    parser.add_argument("--examples", type=int, default=3, help="rows of the example-maps panel (default 3)")


def run(args: argparse.Namespace) -> int:
    from qpeflow.cli.outputs import check_output_dir, clean_folder
    from qpeflow.report.build import build_report  # matplotlib only when this command runs

    if args.examples < 1:
        raise QpeflowError(f"--examples {args.examples}: must be >= 1")
    out = check_output_dir(args.out, "-o", ("index.html", "report.md"))
    clean_folder(out / "figures")
    index = build_report(args.scores, out, n_examples=args.examples)
    print(f"report: {index} (and {index.parent / 'report.md'})")
    return 0
