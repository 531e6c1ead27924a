"""Run a trained checkpoint over a store split: ``qpeflow predict --checkpoint CKPT --store STORE -o PRED.nc``.

Writes CF-netCDF ``rain_rate`` (member, time, y, x) mm/h beside ``truth``, ``mask``
and ``ir_108``; member m is reproducible from seed ``--seed + m``.
"""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="trained checkpoint (.pt)")
    parser.add_argument("--store", required=True, help="prepared zarr store")
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    parser.add_argument("--members", type=int, default=None, help="members per sample (default: the config's)")
    parser.add_argument(
        "--steps", type=int, default=None, help="sampling steps (default: the config's; ignored by regression)"
    )
    parser.add_argument(
        "--sampler", default=None, help="euler | heun | midpoint (flow), ddim | ancestral (ddpm); default: the config's"
    )
    parser.add_argument("--seed", type=int, default=0, help="member m uses seed + m")
    parser.add_argument("--batch-size", type=int, default=32, help="samples per network call")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument(
        "--max-samples",
        type=int,
        default=None,
        help="at most this many samples, evenly spaced over the split (default: all)",
    )
    parser.add_argument("-o", "--output", required=True, help="predictions netCDF to write")


def run(args: argparse.Namespace) -> int:
    from qpeflow.inference.predict import predict

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
