"""Calibration and sanity figures of the simulated infrared (tests and benchmarks use these).

* :func:`ir_summary` — marginal statistics to compare with real SEVIRI (Satip frames).
* :func:`winter_scene` — the "comparable cloudy scene" for the Satip comparison: the
  Satip frames are a mid-latitude winter scene (UK, 2023-12-20 midday), so the
  simulator is run with winter conditions (surface 276-284 K, tropopause 206-216 K,
  overshoots <= 0.5 km, upper WV 224-229 K, weak convection: tops climb only above
  6-10 mm/h) over a frontal rain field (wet fraction 5-20 %, at most 0.5 convective
  cells per 10^4 km^2 per hour); everything else is drawn from the ordinary ranges.
* :func:`gpi_errors` — how ambiguous the IR is: false alarms and misses of GPI's
  235 K rule (Arkin & Meisner 1987).
* :func:`cooling_rain_correlation` — the temporal signal: correlation between the rain
  at t and the IR_108 cooling over the previous ``lag`` frames in growing cells
  (connected objects, :func:`growing_cells`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qpeflow.data.simulator.forward import SimulatorParams, simulate_ir
from qpeflow.data.simulator.rain_generator import RainEventParams, simulate_rain
from qpeflow.io.regrid import equal_area_grid

GPI_THRESHOLD_K = 235.0
COLD_CLOUD_K = 233.0


@dataclass(frozen=True)
class IRSummary:
    """Marginals of a set of IR frames (K).

    Attributes:
        ir108_pct: IR_108 1st/50th/99th percentiles.
        cold_fraction: fraction of IR_108 < 233 K.
        split_window_pct: IR_108 - IR_120 1st/50th/99th percentiles.
        wv_minus_ir_pct: WV_062 - IR_108 1st/50th/99th percentiles.
        wv062_pct: WV_062 1st/50th/99th percentiles.
    """

    ir108_pct: tuple[float, float, float]
    cold_fraction: float
    split_window_pct: tuple[float, float, float]
    wv_minus_ir_pct: tuple[float, float, float]
    wv062_pct: tuple[float, float, float]


def _pct(x: np.ndarray) -> tuple[float, float, float]:
    p = np.nanpercentile(x, [1, 50, 99])
    return (float(p[0]), float(p[1]), float(p[2]))


def ir_summary(ir108: np.ndarray, ir120: np.ndarray, wv062: np.ndarray) -> IRSummary:
    """Summary of equally shaped arrays of brightness temperature (K), NaN ignored."""
    return IRSummary(
        _pct(ir108), float(np.nanmean(ir108 < COLD_CLOUD_K)), _pct(ir108 - ir120), _pct(wv062 - ir108), _pct(wv062)
    )


def read_satip(folder: Path, channels: tuple[str, ...] = ("IR_108", "IR_120", "WV_062")) -> dict[str, np.ndarray]:
    """All Satip frames of ``folder`` through :func:`qpeflow.io.read`: channel -> (N, H, W) K."""
    from qpeflow.io import read

    out: dict[str, list[np.ndarray]] = {c: [] for c in channels}
    for path in sorted(Path(folder).glob("*.zarr.zip")):
        for f in read(path, channels=list(channels)):
            out[f.name].append(f.data)
    return {c: np.stack(v) for c, v in out.items()}


def winter_scene(
    seed: int,
    n_scenes: int = 4,
    size: int = 96,
    n_frames: int = 8,
    channels: tuple[str, ...] = ("IR_108", "IR_120", "WV_062"),
) -> tuple[np.ndarray, np.ndarray]:
    """Simulated winter frontal scenes near the UK at 4 km (see module docstring).

    Returns:
        rain (N, T, H, W) mm/h and ir (N, T, C, H, W) K, the last ``n_frames // 2``
        frames of each scene (the first ones spin up the anvils).
    """
    grid = equal_area_grid(-2.0, 55.0, 4.0, (size, size))
    times = np.datetime64("2023-12-20T10:00:00") + np.arange(n_frames) * np.timedelta64(15, "m")
    rains, irs = [], []
    for s in range(n_scenes):
        rng = np.random.default_rng([seed, s])
        rp = dataclasses.replace(
            RainEventParams.sample(rng),
            wet_fraction=float(rng.uniform(0.05, 0.2)),
            cell_rate=float(rng.uniform(0.0, 0.5)),
        )
        rain = simulate_rain(n_frames, (size, size), 15, 4.0, rng, rp)
        p = dataclasses.replace(
            SimulatorParams.sample(rng),
            surface_temperature_k=float(rng.uniform(276, 284)),
            tropopause_temperature_k=float(rng.uniform(206, 216)),
            overshoot_km=float(rng.uniform(0, 0.5)),
            wv062_k=float(rng.uniform(224, 229)),
            convective_threshold_mmh=float(rng.uniform(6, 10)),
        )
        ir = simulate_ir(rain, grid, times, p, rng, channels)
        rains.append(rain[n_frames // 2 :])
        irs.append(ir[n_frames // 2 :])
    return np.stack(rains), np.stack(irs)


@dataclass(frozen=True)
class GpiErrors:
    """GPI's 235 K rule against the rain.

    Attributes:
        cold_dry: fraction of cold pixels (< 235 K) with rain < 0.1 mm/h (false alarms).
        wet_warm: fraction of pixels with rain >= 1 mm/h warmer than 235 K (misses).
        csi: critical success index of "cold" for rain >= 1 mm/h.
        n_cold, n_wet: pixel counts.
    """

    cold_dry: float
    wet_warm: float
    csi: float
    n_cold: int
    n_wet: int


def gpi_errors(ir108: np.ndarray, rain: np.ndarray, mask: np.ndarray | None = None) -> GpiErrors:
    """GPI false alarms and misses over equally shaped arrays (pixels where ``mask``)."""
    m = np.ones(rain.shape, bool) if mask is None else mask.astype(bool)
    bt, r = ir108[m], rain[m]
    cold, wet = bt < GPI_THRESHOLD_K, r >= 1.0
    n_cold, n_wet = int(cold.sum()), int(wet.sum())
    union = int((cold | wet).sum())
    return GpiErrors(
        float((cold & (r < 0.1)).sum() / max(n_cold, 1)),
        float((wet & ~cold).sum() / max(n_wet, 1)),
        float((cold & wet).sum() / max(union, 1)),
        n_cold,
        n_wet,
    )


def growing_cells(
    rain: np.ndarray, ir108: np.ndarray, lag: int = 2, min_rain: float = 1.0, min_pixels: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """Growing cells and the cooling of their tops.

    A growing cell is a connected object (4-connectivity) of pixels with rain
    >= ``min_rain`` at t that rained more at t than ``lag`` frames before, of at least
    ``min_pixels`` pixels. Object means remove the pixel-scale parallax/texture noise.

    Args:
        rain: (T, H, W) mm/h; ir108: (T, H, W) K.

    Returns:
        (mean rain at t in mm/h, mean IR_108 cooling ``BT(t - lag) - BT(t)`` in K), one
        value per cell, pooled over t.
    """
    from scipy import ndimage

    rains, coolings = [], []
    for t in range(lag, rain.shape[0]):
        grow = (rain[t] >= min_rain) & (rain[t] > rain[t - lag])
        labels, n = ndimage.label(grow)
        if n == 0:
            continue
        idx = np.arange(1, n + 1)
        size = ndimage.sum_labels(np.ones(grow.shape), labels, idx)
        keep = size >= min_pixels
        rains.append(ndimage.mean(rain[t], labels, idx)[keep])
        coolings.append(ndimage.mean(ir108[t - lag] - ir108[t], labels, idx)[keep])
    if not rains:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(rains), np.concatenate(coolings)


def convective_event(seed: int, n_times: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic convective event for the cooling-before-rain check (mid-latitude summer noon).

    Returns:
        rain (n_times, size, size) mm/h and IR_108 (n_times, size, size) K, 15-min
        cadence on a 4 km grid; deterministic for ``seed``.
    """
    grid = equal_area_grid(5.0, 48.0, 4.0, (size, size))
    times = np.datetime64("2021-07-01T12:00") + np.arange(n_times) * np.timedelta64(15, "m")
    rng = np.random.default_rng(seed)
    p = dataclasses.replace(RainEventParams.sample(rng), cell_rate=2.0, wet_fraction=0.03)
    rain = simulate_rain(n_times, (size, size), 15, 4.0, rng, p)
    ir = simulate_ir(rain, grid, times, SimulatorParams.sample(rng), rng, ("IR_108",))[:, 0]
    return rain, ir


def cooling_rain_correlation(rain: np.ndarray, ir108: np.ndarray, lag: int = 2) -> tuple[float, np.ndarray, np.ndarray]:
    """Correlation between log rain at t and the IR_108 cooling over the previous ``lag``
    frames, over the growing cells of :func:`growing_cells`.

    Returns:
        (Pearson correlation of log(mean rain) and mean cooling, mean rains, mean coolings).
    """
    x, y = growing_cells(rain, ir108, lag)
    if x.size < 3:
        return float("nan"), x, y
    return float(np.corrcoef(np.log(x), y)[0, 1]), x, y
