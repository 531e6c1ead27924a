"""Export a trained checkpoint for shipping: ``qpeflow export --checkpoint runs/cfm/best.pt --name cfm -o DIR``.

Writes ``DIR/<name>.pt`` (EMA weights in fp16, provenance, validation record) and
its entry in ``DIR/manifest.json`` with the sha256 and the ``qpeflow train``
command that reproduces it (``--train-command``). The package ships the files of
``qpeflow/checkpoints/``; every ``--checkpoint`` option accepts their names.
"""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="trained checkpoint (best.pt or checkpoint.pt)")
    parser.add_argument("--name", required=True, help="name of the shipped checkpoint (letters, digits, _)")
    parser.add_argument("-o", "--output", required=True, help="folder of the shipped checkpoints and manifest.json")
    parser.add_argument(
        "--train-command", required=True, help="the one `qpeflow train ...` command that reproduces the checkpoint"
    )


def run(args: argparse.Namespace) -> int:
    from qpeflow.cli.outputs import check_output_dir
    from qpeflow.training.export import export_checkpoint

    check_output_dir(args.output, "-o")
    entry = export_checkpoint(args.checkpoint, args.output, args.name, args.train_command)
    log.info(
        "exported %s -> %s/%s (%.1f MB, sha256 %s...)",
        args.checkpoint,
        args.output,
        entry["file"],
        entry["bytes"] / 1e6,
        entry["sha256"][:12],
    )
    return 0
