"""`prepare --source sevmos` and `estimate` on a test-written archive of the team's sevmos files (issue 13)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from qpeflow.cli import main
from qpeflow.config import PrepareConfig, load_config
from qpeflow.data.sevmos_prepare import block_mean, prepare_sevmos
from qpeflow.errors import QpeflowError
from qpeflow.training.fit import fit
from tests.paths import CONFIGS
from tests.writers.meteofrance import mf_grid
from tests.writers.sevmos import default_bt, write_sevmos
from tests.writers.store import tiny_overrides

T0 = np.datetime64("2019-06-01T12:10:00", "s")
CH = ("IR_108", "WV_062", "IR_087")


def _archive(folder: Path, slots: list[int], size: int = 64, drop: str | None = None) -> list[Path]:
    """sevmos files at T0 + 15 min * slot; rain in a moving blob, quality 30 on the west quarter."""
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[:size, :size]
    paths = []
    for k in slots:
        rain = (8.0 * np.exp(-((yy - 32) ** 2 + (xx - 20 - 3 * k) ** 2) / 150.0)).astype(np.float32)
        rain[:4, :] = np.nan
        quality = np.full((size, size), 90)
        quality[:, : size // 4] = 30
        bt = default_bt(rain)
        if drop:
            del bt[drop]
        paths.append(write_sevmos(folder, T0 + np.timedelta64(15 * k, "m"), bt, rain, quality, mf_grid(size, size)))
    return paths


def _cfg(**kw) -> PrepareConfig:
    base = dict(source="sevmos", channels=CH, time_steps=2, resolution_km=2.0, patch=16, dry_keep_fraction=1.0, seed=0)
    return PrepareConfig(**{**base, **kw})


def test_block_mean_is_area_mean_of_seen_pixels():
    a = np.array([[1.0, 3.0, np.nan, np.nan], [5.0, 7.0, np.nan, 2.0]])
    mean, seen = block_mean(a, 2)
    np.testing.assert_allclose(mean, [[4.0, 2.0]])
    np.testing.assert_allclose(seen, [[1.0, 0.25]])


def test_prepare_sevmos_windows_quality_and_coarsening(tmp_path):
    _archive(tmp_path / "sev", [0, 1, 2, 4, 5])  # slot 3 missing: windows (2,3) and (3,4) cannot exist
    summary = prepare_sevmos(_cfg(), tmp_path / "sev", tmp_path / "s.zarr", progress=False)
    ds = xr.open_zarr(summary.path)
    assert ds.attrs["source"] == "sevmos" and ds.attrs["infrared"] == "observed"
    assert ds.attrs["windows_dropped_missing_slot"] == 1  # the window ending at slot 4 (slot 5's is complete)
    times = sorted({str(t)[:16] for t in ds["valid_time"].values})
    assert times == ["2019-06-01T12:25", "2019-06-01T12:40", "2019-06-01T13:25"]
    assert ds["inputs"].shape[1:] == (2, 3, 16, 16)  # (sample, time, channel, y, x) at 2 km
    assert ds.attrs["grid_dx"] == 2000.0 and ds.attrs["quality_threshold"] == 50.0
    mask = ds["mask"].values
    west = ds["col0"].values == 0
    assert west.any() and not mask[west][:, :, :8].any()  # quality 30 < 50 on the west 16 km: masked
    assert mask[west][:, 2:, 8:].all()
    hi = prepare_sevmos(_cfg(quality_threshold=20.0), tmp_path / "sev", tmp_path / "t.zarr", progress=False)
    assert xr.open_zarr(hi.path)["mask"].values.sum() > mask.sum()


def test_prepare_sevmos_bad_input(tmp_path):
    _archive(tmp_path / "gap", [0, 2, 4])
    with pytest.raises(QpeflowError) as err:
        prepare_sevmos(_cfg(), tmp_path / "gap", tmp_path / "g.zarr", progress=False)
    assert "time gap" in str(err.value) and "sevmos_2019-06-01_124000.nc" in str(err.value)
    assert not (tmp_path / "g.zarr").exists()
    _archive(tmp_path / "nochan", [0, 1], drop="WV_062")
    with pytest.raises(QpeflowError) as err:
        prepare_sevmos(_cfg(), tmp_path / "nochan", tmp_path / "n.zarr", progress=False)
    assert "'WV_062' not in file" in str(err.value) and "sevmos_2019-06-01_121000.nc" in str(err.value)
    assert "\n" not in str(err.value) and not (tmp_path / "n.zarr").exists()


def test_cli_prepare_then_estimate_on_sevmos(tmp_path, capsys):
    files = _archive(tmp_path / "sev", [0, 1, 2, 3])
    store = tmp_path / "s.zarr"
    overrides = [f"prepare.channels={json.dumps(list(CH))}", "prepare.time_steps=2", "prepare.resolution_km=2"]
    overrides += ["prepare.patch=16", "prepare.dry_keep_fraction=1"]
    args = ["prepare", "--source", "sevmos", "--sat-dir", str(tmp_path / "sev"), "--out", str(store), "--no-progress"]
    assert main(args + [a for o in overrides for a in ("--set", o)]) == 0
    assert "source=sevmos" in capsys.readouterr().out
    cfg = load_config(
        CONFIGS / "cfm.yaml",
        [*tiny_overrides(store, tmp_path / "run", 2), "data.time_steps=2", f"data.channels={json.dumps(list(CH))}"]
        + ["model.attention=false"],
    )
    ckpt = fit(cfg).checkpoint
    out = tmp_path / "rain.nc"
    rc = main(
        ["estimate", "--checkpoint", str(ckpt), "--sat", *map(str, files[-2:]), "--grid", "native"]
        + ["--resolution-km", "2", "--members", "1", "--steps", "1", "--tile", "16", "--overlap", "4", "-o", str(out)]
    )
    assert rc == 0
    est = xr.open_dataset(out)
    assert est["rain_rate"].shape[-2:] == (32, 32) and np.isfinite(est["rain_rate"].values).all()
