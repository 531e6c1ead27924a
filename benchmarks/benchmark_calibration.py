"""Figure: CSI against threshold per split for the reference learner and GPI, real-data anchors marked.

Reads the JSON written by ``benchmarks/informativeness.py --json``::

    python benchmarks/informativeness.py --store /work/scratch/radar.zarr --json /work/scratch/inf.json
    python benchmarks/benchmark_calibration.py /work/scratch/inf.json docs/figures/benchmark_calibration.png

Solid: pooled over draws; the shaded band spans the draws (min-max). Anchors (real SEVIRI
+ Meteo-France radar, 2019-08-09, R >= 0.1 mm/h): the team's U-Net CSI 0.417 / POD 0.763,
one DDPM member CSI 0.307.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

ANCHORS = {"U-Net CSI 0.417 (real)": 0.417, "DDPM member CSI 0.307 (real)": 0.307}


def figure(result: dict) -> plt.Figure:
    """One panel per split: CSI vs threshold (log x) for the learner, GPI and the best IR_108 cut."""
    th = np.asarray(result["thresholds"])
    splits = list(result["splits"])
    fig, axes = plt.subplots(1, len(splits), figsize=(4.2 * len(splits), 3.8), sharey=True)
    for ax, sp in zip(np.atleast_1d(axes), splits):
        e = result["splits"][sp]
        for name, colour in (("learner", "C0"), ("gpi", "C3"), ("best_ir108", "C2")):
            ax.plot(th, e["all"][name]["csi"], "o-", color=colour, label=name.replace("_", " "))
            per = np.array([g[name]["csi"] for g in e["draws"].values()], float)
            seen = np.isfinite(per).any(0)  # no rain above a threshold in this split: no band there
            lo, hi = (f(per[:, seen], 0) for f in (np.nanmin, np.nanmax))
            ax.fill_between(th[seen], lo, hi, color=colour, alpha=0.2, lw=0)
        for (label, v), ls in zip(ANCHORS.items(), ("--", ":")):
            ax.plot([0.1], [v], marker="*" if ls == "--" else "X", ms=12, color="k", ls="none", label=label)
        ax.axhspan(0.35, 0.50, xmax=0.12, color="0.8", alpha=0.5, label="target @0.1 (0.35-0.50)")
        ax.set_xscale("log")
        ax.set_xlabel("threshold (mm/h)")
        events = e.get("events", [])
        which = events[0] if len(events) == 1 else f"{len(events)} events" if events else sp
        ax.set_title(f"{sp} ({which}): {len(e['draws'])} IR draws, wet {e['wet_fraction']:.2f}", fontsize=10)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("CSI")
    handles, labels = np.atleast_1d(axes)[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=len(labels), frameon=False)
    fig.suptitle("Reference learner vs GPI on real radar rain + SIMULATED infrared (band: spread over draws)")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: benchmark_calibration.py INFORMATIVENESS.json OUT.png", file=sys.stderr)
        return 2
    from qpeflow.io.atomic import atomic_path

    fig = figure(json.loads(Path(args[0]).read_text()))
    with atomic_path(Path(args[1])) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    print(f"wrote {args[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
