"""Plot training and validation loss curves from runs' log.csv / val.csv (one panel per run, log-scale loss).

python benchmarks/loss_curves.py runs/unet runs/cfm ... -o loss_curves.png
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from qpeflow.plots.maps import save_figure


def read_csv(path: Path, column: str) -> tuple[list[int], list[float]]:
    """(steps, values) of one column of a run's CSV ([] when the file is absent)."""
    if not path.is_file():
        return [], []
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return [int(r["step"]) for r in rows], [float(r[column]) for r in rows]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("-o", "--out", type=Path, required=True)
    p.add_argument("--cols", type=int, default=4)
    args = p.parse_args()
    rows = math.ceil(len(args.runs) / args.cols)
    fig, axes = plt.subplots(rows, args.cols, figsize=(3.3 * args.cols, 2.8 * rows), squeeze=False)
    for ax, run in zip(axes.flat, args.runs):
        steps, loss = read_csv(run / "log.csv", "loss")
        vsteps, vloss = read_csv(run / "val.csv", "val_loss")
        ax.plot(steps, loss, color="tab:blue", lw=1, label="train")
        if vsteps:
            ax.plot(vsteps, vloss, "o-", color="tab:orange", ms=3, lw=1, label="validation (EMA, fixed noise)")
        ax.set_yscale("log")
        ax.set_title(f"{run.name}: {steps[-1] if steps else 0} steps", fontsize=9)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(args.runs) :]:
        ax.axis("off")
    axes[0][0].set_ylabel("loss (model space)")
    axes[0][0].legend(fontsize=7)
    fig.suptitle("Study training: real radar rain + SIMULATED infrared, 2 shared CPU cores", fontsize=10)
    fig.tight_layout()
    save_figure(fig, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
