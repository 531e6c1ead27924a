"""Run a trained checkpoint over a store split: ``qpeflow predict --checkpoint CKPT --store STORE -o PRED.nc``.

Writes CF-netCDF ``rain_rate`` (member, time, y, x) mm/h beside ``truth``, ``mask``
and ``ir_108``; member m of sample k is reproducible from (``--seed``, m, k).
``--baseline gpi|autoestimator`` writes the same file for a literature baseline.
"""

from __future__ import annotations

import argparse
import logging

from qpeflow.cli.outputs import check_output_file
from qpeflow.errors import QpeflowError

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--checkpoint", help="trained checkpoint (.pt)")
    which.add_argument(
        "--baseline",
        choices=("gpi", "autoestimator"),
        help="a literature baseline instead of a checkpoint (IR_108 only)",
    )
    parser.add_argument("--store", required=True, help="prepared zarr store")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--members", type=int, default=None, help="members per sample (default: the config's)")
    parser.add_argument(
        "--steps", type=int, default=None, help="sampling steps (default: the config's; ignored by regression)"
    )
    parser.add_argument(
        "--sampler", default=None, help="euler | heun | midpoint (flow), ddim | ancestral (ddpm); default: the config's"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="member m of sample k draws from SeedSequence([seed, m, k])"
    )
    parser.add_argument("--batch-size", type=int, default=32, help="samples per network call")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument(
        "--max-samples",
        type=int,
        default=None,
        help="at most this many samples, evenly spaced over the split (default: all)",
    )
    parser.add_argument("-o", "--output", required=True, help="predictions netCDF to write")


def _check(args: argparse.Namespace) -> None:
    """Ranges of the numeric options and the output path, before any work."""
    for flag, value in (("--members", args.members), ("--steps", args.steps), ("--max-samples", args.max_samples)):
        if value is not None and value < 1:
            raise QpeflowError(f"{flag} {value}: must be >= 1 (leave it out for the default)")
    if args.batch_size < 1:
        raise QpeflowError(f"--batch-size {args.batch_size}: must be >= 1")
    check_output_file(args.output, "-o")


def run(args: argparse.Namespace) -> int:
    from qpeflow.inference.predict import predict

    _check(args)

    r = predict(
        args.checkpoint,
        args.store,
        args.split,
        args.members,
        args.steps,
        args.seed,
        args.sampler,
        args.output,
        args.batch_size,
        args.device,
        args.max_samples,
        baseline=args.baseline,
    )
    mean_s = sum(r.seconds_per_member) / max(len(r.seconds_per_member), 1)
    log.info(
        "wrote %s: %d members x %d samples, %d NFE per member, %.2f s per member",
        r.path,
        r.members,
        r.samples,
        r.nfe,
        mean_s,
    )
    return 0
