"""Benchmark: overlapping-tile estimation over the full OPERA grid (2200 x 1900 px) with a cheap network.

    python benchmarks/bench_tiling.py [--height 2200] [--width 1900] [--members 2] [--tile 64]
                                      [--overlap 16] [--batch 8] [--frames 4] [--channels 5]

The tile function is a small, real convolutional net (3 conv layers, 16 channels,
fp32) so that the figure is about the tiling machinery and memory, not a U-Net's
cost. Prints: number of tiles, seconds, tiles/s, peak resident memory (RSS) and
its part above what the input and output arrays need themselves, which is what
tiling must keep bounded (a batch of tiles, independent of the domain size).
A quarter of the left half of the domain is NaN (space pixels) to exercise the
skip path.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch
from torch import nn

from qpeflow.inference.tiling import estimate_tiled, tile_windows


def cheap_net(in_channels: int) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(in_channels, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 1, 3, padding=1),
    ).eval()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=2200)
    parser.add_argument("--width", type=int, default=1900)
    parser.add_argument("--members", type=int, default=2)
    parser.add_argument("--tile", type=int, default=64)
    parser.add_argument("--overlap", type=int, default=16)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--channels", type=int, default=5)
    args = parser.parse_args()

    net = cheap_net(args.frames * args.channels)

    def fn(x: torch.Tensor) -> torch.Tensor:
        b, t, c, h, w = x.shape
        y = net(x.reshape(b, t * c, h, w))
        return torch.stack([y + m for m in range(args.members)])

    rng = np.random.default_rng(0)
    cond = rng.standard_normal((args.frames, args.channels, args.height, args.width), dtype=np.float32)
    cond[..., : args.height // 2, : args.width // 4] = np.nan
    base = peak_rss_mb()
    n_tiles = len(tile_windows((args.height, args.width), args.tile, args.overlap))
    start = time.perf_counter()
    out = estimate_tiled(fn, cond, args.tile, args.overlap, args.batch, progress=False)
    seconds = time.perf_counter() - start
    peak = peak_rss_mb()
    in_mb, out_mb = cond.nbytes / 2**20, out.nbytes / 2**20
    print(
        f"domain {args.height} x {args.width}, T={args.frames}, C={args.channels}, {args.members} members, "
        f"tile {args.tile}, overlap {args.overlap}, batch {args.batch}"
    )
    print(f"{n_tiles} tiles in the domain (all-NaN ones skipped), {seconds:.1f} s, {n_tiles / seconds:.1f} tiles/s")
    print(
        f"peak RSS {peak:.0f} MB (before the call {base:.0f} MB, input already allocated {in_mb:.0f} MB); "
        f"growth {peak - base:.0f} MB for output {out_mb:.0f} MB + weight sum "
        f"{args.height * args.width * 4 / 2**20:.0f} MB + one batch of tiles"
    )
    print(f"output finite fraction {np.isfinite(out).mean():.3f}")


if __name__ == "__main__":
    main()
