"""Train a method from a config file: ``qpeflow train --config configs/cfm.yaml [--set key=value ...] [--resume]``.

Under ``torchrun --nproc_per_node N --no-python qpeflow train ...`` each process trains
its share of every batch (DistributedDataParallel; gloo on CPUs, NCCL on GPUs).
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="experiment YAML (configs/*.yaml)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a setting, e.g. --set train.steps=10 --set data.store=S.zarr",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue from <train.out>/checkpoint.pt exactly where it stopped"
    )


def run(args: argparse.Namespace) -> int:
    from qpeflow.config import load_config
    from qpeflow.training.fit import fit

    fit(load_config(args.config, args.overrides), resume=args.resume)  # logs its one-line summary
    return 0
