"""Calibration figures of the simulated infrared (issue 3).

Usage::

    QPEFLOW_DATA=/path/to/shared/data python benchmarks/calibration_figures.py OUTDIR

Writes into OUTDIR:

* ``ir_panel.png`` — rain, IR_108, IR_108 - IR_120, WV_062 for a real radar event
  (MeteoSwiss 2016-07-11) with simulated IR, for the synthetic generator with
  simulated IR, and a real SEVIRI frame (Satip, UK 2023-12-20; no coincident radar),
  at the same colour scales;
* ``calibration_hist.png`` — IR_108, split-window and WV_062 histograms, real Satip
  vs the comparable simulated winter scene, with the 1/50/99th percentiles;
* ``cooling_vs_rain.png`` — rain at t against the IR_108 cooling over the previous
  30 min in growing and decaying convective cells.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import LogNorm

from qpeflow.config import PrepareConfig
from qpeflow.data.simulator.calibration import (
    convective_event,
    cooling_rain_correlation,
    ir_summary,
    read_satip,
    winter_scene,
)
from qpeflow.data.simulator.forward import SimulatorParams, simulate_ir
from qpeflow.data.simulator.rain_generator import RainEventParams, simulate_rain
from qpeflow.io.regrid import equal_area_grid
from qpeflow.io.sample_data import data_path

CHANNELS = ("IR_108", "IR_120", "WV_062")
SCALES = {
    "rain": dict(cmap="viridis", norm=LogNorm(0.1, 50)),
    "IR_108": dict(cmap="gray_r", vmin=200, vmax=295),
    "split": dict(cmap="RdBu_r", vmin=-8, vmax=8),
    "WV_062": dict(cmap="cividis_r", vmin=205, vmax=245),
}


def _radar_case() -> tuple[np.ndarray, np.ndarray, str]:
    """A real MeteoSwiss summer event with simulated IR: rain (H, W), ir (C, H, W), label."""
    from qpeflow.data.radar_sequences import family_events, load_event

    files = family_events("mch")["mch-20160711"]
    seq = max(load_event("mch-20160711", "mch", files, PrepareConfig()), key=lambda s: s.rain.shape[0])
    _, lat = seq.grid.lonlat()
    rng = np.random.default_rng(11)
    p = SimulatorParams.sample(rng, float(lat.mean()), seq.times[0])
    ir = simulate_ir(seq.rain, seq.grid, seq.times, p, rng, CHANNELS)
    t = int(np.argmax(np.nansum(seq.rain >= 1, axis=(1, 2))))
    return seq.rain[t], ir[t], f"MeteoSwiss radar {str(seq.times[t])[:16]}\n+ simulated IR"


def _synthetic_case() -> tuple[np.ndarray, np.ndarray, str]:
    rng = np.random.default_rng(5)
    n = 160
    grid = equal_area_grid(6.0, 49.0, 4.0, (n, n))
    times = np.datetime64("2021-07-10T11:00") + np.arange(14) * np.timedelta64(15, "m")
    rain = simulate_rain(
        14, (n, n), 15, 4.0, rng, dataclasses.replace(RainEventParams.sample(rng), cell_rate=1.0, wet_fraction=0.2)
    )
    ir = simulate_ir(rain, grid, times, SimulatorParams.sample(rng, 49.0, times[0]), rng, CHANNELS)
    return rain[-3], ir[-3], "synthetic generator\n+ simulated IR"


def _satip_case() -> tuple[np.ndarray, np.ndarray, str]:
    frames = read_satip(data_path("seviri/satip-uk-20231220"), CHANNELS)
    ir = np.stack([frames[c][-1] for c in CHANNELS])
    return np.full(ir.shape[1:], np.nan), ir, "real SEVIRI (Satip, UK)\n2023-12-20 12:30, no radar"


def ir_panel(out: Path) -> None:
    cases = [_radar_case(), _synthetic_case(), _satip_case()]
    fig, axes = plt.subplots(len(cases), 4, figsize=(15, 3.6 * len(cases)), constrained_layout=True)
    for row, (rain, ir, label) in zip(axes, cases):
        panels = [
            ("rain", rain, "rain rate (mm/h)"),
            ("IR_108", ir[0], "IR_108 (K)"),
            ("split", ir[0] - ir[1], "IR_108 - IR_120 (K)"),
            ("WV_062", ir[2], "WV_062 (K)"),
        ]
        for ax, (key, data, title) in zip(row, panels):
            im = ax.imshow(np.where(data > 0.1, data, np.nan) if key == "rain" else data, **SCALES[key])
            ax.set_title(title, fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
            fig.colorbar(im, ax=ax, shrink=0.8)
        row[0].set_ylabel(label, fontsize=9)
        if np.isnan(rain).all():
            row[0].text(0.5, 0.5, "no coincident radar", ha="center", va="center", transform=row[0].transAxes)
    fig.suptitle(
        "Simulated infrared (rows 1-2) beside real SEVIRI (row 3), same colour scales; "
        "pixels 4 km (radar, synthetic), 3-4 km (SEVIRI)",
        fontsize=10,
    )
    fig.savefig(out / "ir_panel.png", dpi=90)
    plt.close(fig)


def calibration_hist(out: Path) -> None:
    real = read_satip(data_path("seviri/satip-uk-20231220"), CHANNELS)
    _, sim = winter_scene(0, n_scenes=8, size=64, n_frames=8)
    sim_d = {c: sim[:, :, i] for i, c in enumerate(CHANNELS)}
    rs = ir_summary(real["IR_108"], real["IR_120"], real["WV_062"])
    ss = ir_summary(sim_d["IR_108"], sim_d["IR_120"], sim_d["WV_062"])
    items = [
        ("IR_108 (K)", real["IR_108"], sim_d["IR_108"], np.arange(195, 300, 2), rs.ir108_pct, ss.ir108_pct),
        (
            "IR_108 - IR_120 (K)",
            real["IR_108"] - real["IR_120"],
            sim_d["IR_108"] - sim_d["IR_120"],
            np.arange(-3, 10, 0.25),
            rs.split_window_pct,
            ss.split_window_pct,
        ),
        ("WV_062 (K)", real["WV_062"], sim_d["WV_062"], np.arange(200, 250, 1), rs.wv062_pct, ss.wv062_pct),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4), constrained_layout=True)
    for ax, (title, r, s, bins, rp, sp) in zip(axes, items):
        ax.hist(r[np.isfinite(r)].ravel(), bins, density=True, histtype="step", lw=2, label="real SEVIRI (Satip)")
        ax.hist(s.ravel(), bins, density=True, histtype="step", lw=2, label="simulated (winter scene)")
        ax.set_title(
            f"{title}\nreal p1/50/99 {rp[0]:.1f}/{rp[1]:.1f}/{rp[2]:.1f}; sim {sp[0]:.1f}/{sp[1]:.1f}/{sp[2]:.1f}",
            fontsize=9,
        )
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    axes[0].axvline(233, color="k", ls=":", lw=1)
    axes[0].text(
        233,
        axes[0].get_ylim()[1] * 0.5,
        f" cold < 233 K: real {rs.cold_fraction:.3f}, sim {ss.cold_fraction:.3f}",
        fontsize=8,
    )
    fig.savefig(out / "calibration_hist.png", dpi=90)
    plt.close(fig)


def cooling_vs_rain(out: Path) -> None:
    grow_r, grow_c, dec_r, dec_c, corrs = [], [], [], [], []
    for seed in range(6):
        rain, ir = convective_event(seed, 16, 96)
        c, x, y = cooling_rain_correlation(rain[4:], ir[4:], lag=2)
        corrs.append(c)
        grow_r.append(x)
        grow_c.append(y)
        now, before = rain[6:], rain[4:-2]
        sel = (before >= 1) & (now < 0.5 * before) & (now >= 0.1)
        dec_r.append(now[sel])
        dec_c.append((ir[4:-2] - ir[6:])[sel])
    fig, ax = plt.subplots(figsize=(7, 5), constrained_layout=True)
    for label, r, c, col, alpha in (
        ("growing cells (objects)", grow_r, grow_c, "C3", 0.4),
        ("decaying pixels", dec_r, dec_c, "C0", 0.05),
    ):
        r, c = np.concatenate(r), np.concatenate(c)
        ax.scatter(r, c, s=3, alpha=alpha, color=col)
        edges = np.logspace(-1, 2, 13)
        idx = np.digitize(r, edges)
        mids = [np.sqrt(edges[i - 1] * edges[i]) for i in range(1, len(edges)) if (idx == i).sum() > 10]
        means = [c[idx == i].mean() for i in range(1, len(edges)) if (idx == i).sum() > 10]
        ax.plot(mids, means, "o-", color=col, label=f"{label} (bin means)")
    ax.set_xscale("log")
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("rain rate at t (mm/h; cell mean for growing cells)")
    ax.set_ylabel("IR_108 cooling over the previous 30 min (K)")
    ax.set_title(
        f"Tops cool before the rain (6 convective synthetic events)\n"
        f"corr(log R, cooling) over growing cells, per event: {', '.join(f'{v:.2f}' for v in corrs)}",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    fig.savefig(out / "cooling_vs_rain.png", dpi=90)
    plt.close(fig)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    ir_panel(out)
    calibration_hist(out)
    cooling_vs_rain(out)
    print(f"figures in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
