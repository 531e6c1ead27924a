"""`prepare --source pairs` on a tiny archive: real Satip frames + synthetic ODIM radar fields over them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from qpeflow.config import DEFAULT_CHANNELS, PrepareConfig
from qpeflow.data.pairs import match_windows, prepare_pairs, split_by_day
from qpeflow.io import read
from qpeflow.io.grid import Grid
from tests.writers.odim import write_odim

SATIP = "seviri/satip-uk-20231220"
FRAMES = ("202312201145", "202312201200", "202312201215", "202312201230")  # 15-min cadence subset
RADAR_CRS = "+proj=laea +lat_0=54 +lon_0=-2 +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"


def _rain(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Rain in mm/h with dry (undetect, 0) areas, rain cells, and a nodata corner (NaN)."""
    from scipy.ndimage import gaussian_filter

    noise = gaussian_filter(rng.standard_normal(shape), 6)
    rain = np.where(noise > 0.02, 40 * noise, 0.0)
    rain[:40, :100] = np.nan  # outside radar coverage
    return rain.astype(np.float32)


def _archive(tmp_path: Path, satip: Path) -> tuple[Path, Path]:
    sat, radar = tmp_path / "sat", tmp_path / "radar"
    sat.mkdir()
    radar.mkdir()
    for stamp in FRAMES:
        (sat / f"{stamp}.zarr.zip").symlink_to(satip / f"{stamp}.zarr.zip")
    (sat / "README.txt").write_text("not a satellite file: ignored")
    grid = Grid(RADAR_CRS, -160e3, 2000.0, 160e3, -2000.0, (160, 160))
    rng = np.random.default_rng(3)
    for stamp in ("2023-12-20T12:15", "2023-12-20T12:28", "2023-12-20T12:30"):  # 12:15 lacks its t-45 slot
        t = np.datetime64(stamp)
        write_odim(radar / f"comp_{stamp.replace(':', '')}.h5", _rain(rng, grid.shape), grid, t)
    return sat, radar


def test_prepare_pairs_store(tmp_path: Path, real_data) -> None:
    sat, radar = _archive(tmp_path, real_data(SATIP))
    cfg = PrepareConfig(source="pairs", patch=32, dry_keep_fraction=1.0, resolution_km=4.0)
    summary = prepare_pairs(cfg, sat, radar, tmp_path / "pairs.zarr")
    ds = xr.open_zarr(summary.path)
    n = ds.sizes["sample"]
    assert n == sum(summary.counts.values()) == summary.counts["train"]
    assert n > 0 and ds["inputs"].shape == (n, 4, 7, 32, 32) and ds["target"].shape == (n, 1, 32, 32)
    assert list(ds["time_in"].values) == [-45, -30, -15, 0]
    assert list(ds["channel"].values) == list(DEFAULT_CHANNELS)  # the team's seven IR/WV channels
    assert ds.attrs["infrared"] == "observed" and ds.attrs["source"] == "pairs"
    assert ds.attrs["windows_dropped_missing_slot"] == 1  # the 12:15 radar field
    times = set(ds["valid_time"].values.astype("datetime64[m]").astype(str))
    assert times <= {"2023-12-20T12:28", "2023-12-20T12:30"} and "2023-12-20T12:30" in times
    assert set(ds["event"].values) == {"2023-12-20"} and set(ds["split"].values) == {"train"}
    target, mask = ds["target"].values[:, 0], ds["mask"].values
    assert np.isfinite(target).all() and (target[~mask] == 0).all()
    assert (~mask).any() and mask.any(), "nodata must be masked, the rest seen"
    assert (target[mask] == 0).any() and (target[mask] > 1).any(), "undetect is 0 mm/h rain, cells are rain"
    bt = (
        ds["inputs"].values * np.asarray(ds.attrs["ir_std"])[None, None, :, None, None]
        + np.asarray(ds.attrs["ir_mean"])[None, None, :, None, None]
    )
    assert bt[:, :, 0].min() > 190 and bt[:, :, 0].max() < 300  # real IR_108 in K
    assert json.loads(ds.attrs["events"])[0]["event"] == "2023-12-20"


def test_match_windows_drops_missing_slot(real_data) -> None:
    satip = real_data(SATIP)
    fields = [f for s in FRAMES for f in read(satip / f"{s}.zarr.zip", channels=("IR_108",))]
    times = np.array([f.valid_time for f in fields], "datetime64[s]")
    radar = [fields[-1], fields[1]]  # 12:30 is complete, 12:00 lacks 11:15 and 11:30
    windows, dropped = match_windows(radar, times, (-45, -30, -15, 0), 5.0)
    assert dropped == 1 and len(windows) == 1 and windows[0].slots == (0, 1, 2, 3)


def test_split_by_day_is_chronological_and_by_event() -> None:
    days = [f"2021-06-{d:02d}" for d in range(1, 21)]
    split = split_by_day(days + days[:3], val_fraction=0.15, test_fraction=0.15)
    assert [split[d] for d in days].count("test") == 3 and [split[d] for d in days].count("val") == 3
    assert all(split[d] == "test" for d in days[-3:]) and all(split[d] == "train" for d in days[:14])
    assert split_by_day(["2021-01-01"], 0.15, 0.15) == {"2021-01-01": "train"}


def test_parallax_moves_cold_tops_towards_the_satellite() -> None:
    from qpeflow.data.simulator.parallax import correct_parallax

    grid = Grid(RADAR_CRS, -100e3, 4000.0, 100e3, -4000.0, (50, 50))
    bt = np.full((50, 50), 285.0)
    bt[20:30, 20:30] = 220.0  # a 10 km high top (65 K colder) at about 54 N
    fixed = correct_parallax(bt[None], bt, grid, sub_lon=0.0)[0]
    cold = np.argwhere(fixed < 250)
    assert cold.size and cold[:, 0].mean() > 24.5 + 1  # moved south (towards the equator), rows increase
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(fixed[10:40, 10:40], bt[10:40, 10:40])


def test_cli_pairs_without_complete_window_is_a_clean_error(tmp_path: Path, real_data, capsys) -> None:
    from qpeflow.cli import main

    sat, radar = _archive(tmp_path, real_data(SATIP))
    for f in radar.glob("*12[23]*.h5"):  # keep only the 12:15 field, whose t-45 slot is absent
        f.unlink()
    out = tmp_path / "none.zarr"
    rc = main(["prepare", "--source", "pairs", "--sat", str(sat), "--radar", str(radar), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "has all 4 satellite slots" in err and str(sat) in err
    assert not out.exists()
