"""Estimation cost per 64 x 64 field per member, for the CPU-sized configs.

Times ``method.estimate`` of freshly initialised networks (weights do not change
the cost) built from ``configs/*.yaml``: the U-Net (1 NFE), DDPM with all 1000
ancestral steps and DDIM-50, CFM with 1, 2, 4 and 8 Euler steps. Prints one row
per case: NFE, seconds per call of ``--batch`` fields, seconds per field per member.

    python benchmarks/bench_estimation.py [--batch 16] [--size 64] [--threads 2] [--ddpm-steps 1000]

The machine's speed swings (ENVIRONMENT.md): repeat, and quote the median.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from qpeflow.build import InputSpec, build
from qpeflow.config import load_config
from qpeflow.data.transforms import IRNorm
from qpeflow.methods import Noise
from qpeflow.training.device import autocast, pick_device

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def cases(ddpm_steps: int) -> list[tuple[str, str, str, int]]:
    """(label, config, sampler, steps)."""
    flow = [(f"CFM-{k} euler", "cfm", "euler", k) for k in (1, 2, 4, 8)]
    return [
        ("U-Net", "unet", "", 1),
        (f"DDPM-{ddpm_steps} ancestral", "ddpm", "ancestral", ddpm_steps),
        ("DDIM-50", "ddpm", "ddim", 50),
        *flow,
    ]


def time_case(config: str, sampler: str, steps: int, batch: int, size: int, device: torch.device) -> tuple[int, float]:
    """(nfe, seconds) of one estimate call of ``batch`` fields, one member."""
    cfg = load_config(CONFIGS / f"{config}.yaml")
    torch.manual_seed(0)
    n_ch = len(cfg.data.channels)
    spec = InputSpec(tuple(cfg.data.channels), cfg.data.time_steps, IRNorm((250.0,) * n_ch, (20.0,) * n_ch))
    built = build(cfg, spec)
    net, method = built.net, built.method
    net.to(device, memory_format=torch.channels_last).eval()
    cond = torch.randn(batch, cfg.data.time_steps, n_ch, size, size, device=device)
    with torch.no_grad(), autocast(device):
        method.estimate(net, cond[:1], 1, Noise.seeded([0], device), sampler=sampler)  # warm-up
        start = time.perf_counter()
        est = method.estimate(net, cond, steps, Noise.seeded(range(batch), device), sampler=sampler)
        if device.type == "cuda":
            torch.cuda.synchronize()
    return est.nfe, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=16, help="fields per call")
    parser.add_argument("--size", type=int, default=64, help="field size (px)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--ddpm-steps", type=int, default=1000, help="ancestral steps (all 1000 by default)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--only", default="", help="comma-separated labels to run (default: all)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    print(f"device {device}, {torch.get_num_threads()} threads, batch {args.batch}, {args.size} x {args.size}")
    print(f"{'case':<22} {'NFE':>5} {'s/call':>9} {'s/field/member':>15} {'ms/NFE/field':>13}")
    wanted = {s.strip() for s in args.only.split(",") if s.strip()}
    for label, config, sampler, steps in cases(args.ddpm_steps):
        if wanted and label not in wanted:
            continue
        nfe, seconds = time_case(config, sampler, steps, args.batch, args.size, device)
        per_field = seconds / args.batch
        print(
            f"{label:<22} {nfe:>5d} {seconds:>9.2f} {per_field:>15.4f} {1e3 * per_field / max(nfe, 1):>13.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
