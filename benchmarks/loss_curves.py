"""Plot training loss curves from runs' log.csv files (one panel per run, log-scale loss).

python benchmarks/loss_curves.py runs/unet runs/cfm ... -o loss_curves.png
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def read_log(run: Path) -> tuple[list[int], list[float], float]:
    """(steps, losses, total seconds) of ``run/log.csv``."""
    with open(run / "log.csv") as f:
        rows = list(csv.DictReader(f))
    return [int(r["step"]) for r in rows], [float(r["loss"]) for r in rows], float(rows[-1]["seconds"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("-o", "--out", type=Path, required=True)
    args = p.parse_args()
    fig, axes = plt.subplots(1, len(args.runs), figsize=(3.2 * len(args.runs), 3.0), squeeze=False)
    for ax, run in zip(axes[0], args.runs):
        steps, loss, seconds = read_log(run)
        ax.plot(steps, loss, color="tab:blue")
        ax.set_yscale("log")
        ax.set_title(f"{run.name}: {steps[-1]} steps, {seconds / 60:.0f} min", fontsize=9)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("training loss (model space)")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
