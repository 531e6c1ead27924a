"""predict(): CF-netCDF per contract, members reproducible from their seeds, mm/h >= 0."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from qpeflow.config import load_config
from qpeflow.errors import QpeflowError
from qpeflow.inference.predict import predict
from qpeflow.training.fit import fit
from tests.paths import CONFIGS
from tests.writers.store import make_tiny_store, tiny_overrides

CONFIGS = CONFIGS


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("pred")
    store = make_tiny_store(tmp / "tiny.zarr", n=16, size=32)
    cfm = fit(load_config(CONFIGS / "cfm.yaml", tiny_overrides(store, tmp / "cfm", 2))).checkpoint
    return {"store": store, "cfm": cfm, "tmp": tmp}


def test_netcdf_layout_and_attributes(trained: dict[str, Path]) -> None:
    out = trained["tmp"] / "pred.nc"
    r = predict(trained["cfm"], trained["store"], "test", members=2, steps=2, seed=5, out=out, batch_size=3)
    ds = xr.open_dataset(out)
    raw = xr.open_zarr(trained["store"])
    n_test = int((raw["split"].values == "test").sum())
    assert r.samples == n_test and r.members == 2
    assert ds["rain_rate"].dims == ("member", "time", "y", "x") and ds["rain_rate"].shape == (2, n_test, 32, 32)
    for name in ("truth", "mask", "ir_108"):
        assert ds[name].dims == ("time", "y", "x")
    assert ds["mask"].dtype == np.int8 and ds["rain_rate"].attrs["units"] == "mm h-1"
    assert ds["ir_108"].attrs["units"] == "K" and 180 < float(ds["ir_108"].mean()) < 320
    assert float(ds["rain_rate"].min()) >= 0.0 and np.isfinite(ds["rain_rate"].values).all()
    for coord in ("valid_time", "event", "sample", "member"):
        assert coord in ds.coords
    a = ds.attrs
    assert a["method"] == "cfm" and a["nfe"] == 2 and a["steps"] == 2 and a["sampler"] == "euler"
    assert list(np.atleast_1d(a["seeds"])) == [5] and "SeedSequence([seed, m, k])" in a["seeding"]
    assert len(np.atleast_1d(a["seconds_per_member"])) == 2
    assert a["checkpoint"] == str(trained["cfm"]) and a["data_source"] == "synthetic"
    assert a["infrared"] == "simulated" and json.loads(a["events"]) == sorted(set(ds["event"].values.tolist()))
    # truth is the store's rain where the radar saw
    idx = ds["sample"].values
    np.testing.assert_allclose(ds["truth"].values, raw["target"].values[idx, 0] * raw["mask"].values[idx])


def test_member_reproducible_whatever_the_batch_size_and_thinning(trained: dict[str, Path]) -> None:
    """The one seeding rule: member m of sample k depends on (seed, m, k) only."""
    tmp, ck, st = trained["tmp"], trained["cfm"], trained["store"]
    predict(ck, st, "test", members=3, steps=2, seed=10, out=tmp / "a.nc", batch_size=3)
    predict(ck, st, "test", members=3, steps=2, seed=10, out=tmp / "b.nc", batch_size=1, max_samples=2)
    predict(ck, st, "test", members=3, steps=2, seed=11, out=tmp / "c.nc", batch_size=3)
    a, b, c = (xr.open_dataset(tmp / f"{n}.nc") for n in "abc")
    rows = [int(np.flatnonzero(a["sample"].values == k)[0]) for k in b["sample"].values]
    np.testing.assert_allclose(a["rain_rate"].values[:, rows], b["rain_rate"].values, rtol=1e-5, atol=1e-6)
    assert not np.array_equal(a["rain_rate"].values[0], a["rain_rate"].values[1])
    assert not np.array_equal(a["rain_rate"].values[0], c["rain_rate"].values[0])


def test_baseline_writes_the_same_file_as_a_model(trained: dict[str, Path]) -> None:
    from qpeflow.methods.baselines import gpi

    out = trained["tmp"] / "gpi.nc"
    r = predict(None, trained["store"], "test", out=out, baseline="gpi")
    ds = xr.open_dataset(out)
    assert r.members == 1 and r.nfe == 0 and ds.attrs["method"] == "gpi" and ds.attrs["nfe"] == 0
    assert ds["rain_rate"].dims == ("member", "time", "y", "x")
    np.testing.assert_allclose(ds["rain_rate"].values[0], gpi(ds["ir_108"].values), atol=1e-4)
    with pytest.raises(QpeflowError, match="either a checkpoint or a baseline"):
        predict(trained["cfm"], trained["store"], out=out, baseline="gpi")


def test_bad_inputs(trained: dict[str, Path]) -> None:
    with pytest.raises(QpeflowError, match="absent.pt"):
        predict(trained["tmp"] / "absent.pt", trained["store"], out=trained["tmp"] / "x.nc")
    with pytest.raises(QpeflowError, match="members"):
        predict(trained["cfm"], trained["store"], members=0, out=trained["tmp"] / "x.nc")
    assert not (trained["tmp"] / "x.nc").exists()


def test_max_samples_keeps_evenly_spaced_subset(trained: dict[str, Path]) -> None:
    tmp = trained["tmp"]
    full = xr.open_dataset(
        predict(trained["cfm"], trained["store"], "test", members=1, steps=1, out=tmp / "full.nc", batch_size=4).path
    )
    thin = xr.open_dataset(
        predict(
            trained["cfm"],
            trained["store"],
            "test",
            members=1,
            steps=1,
            out=tmp / "thin.nc",
            batch_size=4,
            max_samples=2,
        ).path
    )
    n = full.sizes["time"]
    assert thin.sizes["time"] == 2
    assert thin["sample"].values.tolist() == [full["sample"].values[0], full["sample"].values[n - 1]]
    np.testing.assert_array_equal(thin["truth"].values[1], full["truth"].values[n - 1])
