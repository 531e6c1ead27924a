"""Parameter count and CPU speed of the default network, per temporal encoder.

Prints, for each encoder of ``qpeflow.nn.ENCODERS`` with the default
:class:`~qpeflow.config.ModelConfig` (T = 4 frames, C = 5 channels, a flow
network with x_channels = 1): the parameter count, the median forward time
(inference, no grad) and the median training step (forward, backward, AdamW
step) at batch 16 on 64 x 64 fields, channels-last fp32.

    python benchmarks/bench_network.py --threads 2 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import replace

import torch

from qpeflow.config import DataConfig, ModelConfig
from qpeflow.nn import ENCODERS, build_network


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench(encoder: str, batch: int, size: int, repeats: int) -> tuple[int, float, float]:
    data = DataConfig()
    frames, channels = data.time_steps, len(data.channels)
    net = build_network(replace(ModelConfig(), encoder=encoder), frames, channels, 1, 0)
    net = net.to(memory_format=torch.channels_last)
    params = sum(p.numel() for p in net.parameters())
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 1, size, size, generator=g).contiguous(memory_format=torch.channels_last)
    cond = torch.randn(batch, frames, channels, size, size, generator=g)
    t = torch.rand(batch, generator=g)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)

    def forward() -> None:
        with torch.no_grad():
            net(x, t, cond)

    def train_step() -> None:
        loss = (net(x, t, cond) - x).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return params, median_seconds(forward, repeats), median_seconds(train_step, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    m = ModelConfig()
    print(
        f"ModelConfig: base {m.base_channels}, mults {m.channel_mults}, res blocks {m.num_res_blocks}, "
        f"attention {m.attention}, encoder width {m.encoder_channels}; batch {args.batch}, "
        f"{args.size}x{args.size}, {args.threads} thread(s), torch {torch.__version__}"
    )
    print(f"{'encoder':8s} {'params':>10s} {'forward s':>10s} {'fwd/s':>7s} {'train step s':>13s} {'steps/s':>8s}")
    for name in ENCODERS:
        params, fwd, step = bench(name, args.batch, args.size, args.repeats)
        print(f"{name:8s} {params:10,d} {fwd:10.3f} {1 / fwd:7.2f} {step:13.3f} {1 / step:8.2f}")


if __name__ == "__main__":
    main()
