"""Command-line entry point ``qpeflow``: the only code that parses arguments.

One module per subcommand (``qpeflow/cli/<name>.py``), each with

    add_arguments(parser: argparse.ArgumentParser) -> None
    run(args: argparse.Namespace) -> int

registered in the literal dict :data:`COMMANDS` below. A :class:`QpeflowError`
anywhere is printed as one line ``qpeflow: error: <file>: <problem>`` and the
process exits with status 2; so is an ``OSError`` (a full disk, a folder that
became read-only while the command ran), with the file and the system's reason.
Commands check their output paths before any work (:mod:`qpeflow.cli.outputs`).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from qpeflow.errors import QpeflowError, os_error_line

#: subcommand -> (module under qpeflow.cli, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "inspect": ("inspect", "describe radar/satellite files, optionally draw a quick-look PNG"),
    "prepare": ("prepare", "build a prepared zarr store (synthetic, radar, opera, pairs)"),
    "train": ("train", "train a method from a config file"),
    "predict": ("predict", "run a trained checkpoint over a store split -> predictions.nc"),
    "evaluate": ("evaluate", "score prediction files -> scores/*.json"),
    "report": ("report", "scores -> report/index.html + report.md with figures"),
    "estimate": ("estimate", "rain maps from SEVIRI files with a trained checkpoint"),
    "export": ("export", "a trained checkpoint -> a shipped one (fp16 EMA weights) + manifest entry"),
    "demo": ("demo", "the main job: synthetic data -> train -> predict -> evaluate -> report"),
}


def add_overrides(parser: argparse.ArgumentParser, example: str) -> None:
    """The ``--set KEY=VALUE`` option (repeatable) every config-reading command shares; ``example`` for its help."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override a config setting, e.g. {example} (repeatable)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qpeflow", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        try:
            mod = importlib.import_module(f"qpeflow.cli.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"qpeflow.cli.{module}":
                raise
            continue  # a subcommand not (yet) present in this build
        p = sub.add_parser(name, help=help_text, description=(mod.__doc__ or help_text).strip())
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    try:
        return int(args._run(args) or 0)
    except QpeflowError as exc:
        text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())  # one line, always
        print(f"qpeflow: error: {text}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"qpeflow: error: {os_error_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
