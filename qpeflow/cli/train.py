"""Train a method from a config file: ``qpeflow train --config configs/cfm.yaml [--set key=value ...] [--resume]``.

A ``train.out`` that already holds a run is refused unless ``--resume`` (continue it)
or ``--overwrite`` (start again) is given.

Under ``torchrun --nproc_per_node N --no-python qpeflow train ...`` each process trains
its share of every batch (DistributedDataParallel; gloo on CPUs, NCCL on GPUs).
"""

from __future__ import annotations

import argparse

from qpeflow.cli import add_overrides


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="experiment YAML (configs/*.yaml)")
    add_overrides(parser, "--set train.steps=10 --set data.store=S.zarr")
    parser.add_argument(
        "--resume", action="store_true", help="continue from <train.out>/checkpoint.pt exactly where it stopped"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="start again in a train.out that already holds a run (its checkpoint and log are replaced)",
    )


def run(args: argparse.Namespace) -> int:
    from qpeflow.cli.outputs import check_output_dir
    from qpeflow.config import load_config
    from qpeflow.training.fit import CHECKPOINT_NAME, check_run_folder, fit

    cfg = load_config(args.config, args.overrides)
    check_run_folder(cfg.train.out, args.resume, args.overwrite)
    check_output_dir(cfg.train.out, "train.out", (CHECKPOINT_NAME, "log.csv"))
    fit(cfg, resume=args.resume, overwrite=args.overwrite)  # logs its one-line summary
    return 0
