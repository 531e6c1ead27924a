"""Calibration and sanity of the simulated infrared (issue 3, "Calibration and sanity").

Numbers compared, written out so a failure says which one moved:
- against real SEVIRI (Satip, UK winter scene 2023-12-20): IR_108 1st/50th/99th
  percentiles within 10 K, cold-cloud fraction (< 233 K) within a factor 1.5,
  split window and WV_062 - IR_108 in their physical ranges;
- GPI (235 K) on a prepared synthetic test split: >= 20 % of cold pixels dry; on the
  radar benchmark's test event (real FMI rain, simulated infrared): >= 20 % of cold
  pixels dry and >= 30 % of pixels >= 1 mm/h warmer than 235 K (stratiform rain under
  warm tops; the synthetic generator's rain is mostly convective, where few are);
- the correlation between rain at t and the IR_108 cooling over the previous 30 min
  is positive in growing convective cells.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from qpeflow.config import PrepareConfig
from qpeflow.data.prepare import prepare
from qpeflow.data.simulator.calibration import (
    convective_event,
    cooling_rain_correlation,
    gpi_errors,
    ir_summary,
    read_satip,
    winter_scene,
)
from qpeflow.demo import BENCHMARK_TEST_EVENTS, BENCHMARK_VAL_EVENTS


@pytest.fixture(scope="module")
def simulated():
    _, ir = winter_scene(0, n_scenes=8, size=64, n_frames=8)
    return ir_summary(ir[:, :, 0], ir[:, :, 1], ir[:, :, 2])


def test_marginals_match_real_seviri(real_data, simulated) -> None:
    frames = read_satip(real_data("seviri/satip-uk-20231220"))
    real = ir_summary(frames["IR_108"], frames["IR_120"], frames["WV_062"])
    for q, (r, s) in zip((1, 50, 99), zip(real.ir108_pct, simulated.ir108_pct)):
        assert abs(r - s) < 10.0, f"IR_108 p{q}: real {r:.1f} K, simulated {s:.1f} K"
    ratio = simulated.cold_fraction / real.cold_fraction
    assert 1 / 1.5 < ratio < 1.5, (
        f"cold fraction real {real.cold_fraction:.3f}, simulated {simulated.cold_fraction:.3f}"
    )
    assert abs(real.wv062_pct[1] - simulated.wv062_pct[1]) < 8.0


def test_channel_differences_in_physical_ranges(simulated) -> None:
    lo, med, hi = simulated.split_window_pct
    assert -1.5 < lo < 0.5 and 0.0 < med < 3.0 and 2.0 < hi < 10.0  # thin cirrus 2-8 K, opaque ~0
    lo, med, hi = simulated.wv_minus_ir_pct
    assert -75 < lo < -30 and med < 0 and hi < 8.0  # WV above IR_108 only at the deepest tops


def test_gpi_has_false_alarms_and_misses(tmp_path) -> None:
    cfg = PrepareConfig(n_events=10, patch=32, patches_per_frame=2, seed=0)
    ds = xr.open_zarr(prepare(cfg, tmp_path / "g.zarr", progress=False).path, chunks=None)
    test = ds["split"].values == "test"
    assert test.sum() > 10
    bt = ds["inputs"].values[test, -1, 0] * ds.attrs["ir_std"][0] + ds.attrs["ir_mean"][0]
    err = gpi_errors(bt, ds["target"].values[test, 0], ds["mask"].values[test])
    assert err.cold_dry >= 0.20, f"only {err.cold_dry:.2f} of cold pixels are dry"


def test_gpi_misses_stratiform_rain_on_the_radar_test_event(real_data, tmp_path) -> None:
    real_data("radar/fmi")
    cfg = PrepareConfig(
        source="radar",
        patch=48,
        patches_per_frame=1,
        draws_eval=1,
        test_events=BENCHMARK_TEST_EVENTS,
        val_events=BENCHMARK_VAL_EVENTS,
        only_splits=("test",),
    )
    ds = xr.open_zarr(prepare(cfg, tmp_path / "r.zarr", progress=False).path, chunks=None)
    k = [str(c) for c in ds["channel"].values].index("IR_108")
    bt = ds["inputs"].values[:, -1, k] * ds.attrs["ir_std"][k] + ds.attrs["ir_mean"][k]
    err = gpi_errors(bt, ds["target"].values[:, 0], ds["mask"].values)
    assert err.n_wet > 1000
    assert err.cold_dry >= 0.20, f"only {err.cold_dry:.2f} of cold pixels are dry"
    assert err.wet_warm >= 0.30, f"only {err.wet_warm:.2f} of >= 1 mm/h pixels are warmer than 235 K"


def test_cooling_leads_rain_in_growing_cells() -> None:
    corr, rains, coolings, decay_cooling = [], [], [], []
    for seed in range(3):
        rain, ir = convective_event(seed, 14, 64)
        c, x, y = cooling_rain_correlation(rain[4:], ir[4:], lag=2)
        corr.append(c)
        rains.append(x)
        coolings.append(y)
        r_now, r_before = rain[6:], rain[4:-2]
        decay_cooling.append((ir[4:-2] - ir[6:])[(r_before >= 1) & (r_now < 0.5 * r_before)].mean())
    pooled = np.corrcoef(np.log(np.concatenate(rains)), np.concatenate(coolings))[0, 1]
    assert min(corr) > 0.0 and pooled > 0.1, f"correlations {corr}, pooled {pooled:.2f}"
    grow = np.concatenate(coolings).mean()
    assert grow > 3.0 and grow > np.mean(decay_cooling) + 3.0, f"cooling grow {grow:.1f} K, decay {decay_cooling}"
