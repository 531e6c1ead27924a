"""Benchmark: evaluate 1,000 fields of 64 x 64 with 8 members (target < 60 s on 2 cores).

    python benchmarks/bench_verify.py [--fields 1000] [--members 8] [--size 64] [--kind noisy]

Writes a synthetic predictions file (tests/writers/predictions.py; not timed) to a
temporary folder, then times ``qpeflow.evaluate.evaluate`` on it (every score of
qpeflow.verify, read in chunks of 64 time steps) and prints the seconds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # repository root, for tests.writers

from qpeflow.config import EvalConfig
from qpeflow.evaluate import evaluate
from tests.writers.predictions import make_predictions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fields", type=int, default=1000)
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--kind", default="noisy", choices=("perfect", "smooth", "shifted", "noisy"))
    parser.add_argument("--chunk", type=int, default=64)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        pred = make_predictions(
            Path(tmp) / "bench.nc", args.kind, n_time=args.fields, members=args.members, size=args.size
        )
        made = time.perf_counter() - t0
        t0 = time.perf_counter()
        evaluate(pred, Path(tmp) / "scores", EvalConfig(), chunk=args.chunk)
        seconds = time.perf_counter() - t0
    print(
        f"evaluate: {args.fields} fields of {args.size}x{args.size}, {args.members} members ({args.kind}): "
        f"{seconds:.1f} s ({1000 * seconds / args.fields:.1f} ms/field); file written in {made:.1f} s"
    )


if __name__ == "__main__":
    main()
