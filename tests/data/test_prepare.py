"""`qpeflow prepare`: the store contract, split by event, determinism, dry patches, gaps."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import xarray as xr

from qpeflow.cli import main
from qpeflow.config import DEFAULT_CHANNELS, PrepareConfig
from qpeflow.data.events import RainSequence
from qpeflow.data.prepare import (
    _Samples,
    _window_ok,
    assign_splits,
    cut_patches,
    event_weights,
    frame_patches,
    patch_origins,
    prepare,
)
from qpeflow.data.simulator.params import SIMULATOR_VERSION
from qpeflow.data.store import StoreArrays, write_store
from qpeflow.errors import QpeflowError
from qpeflow.io.regrid import equal_area_grid

SMALL = PrepareConfig(n_events=5, patch=24, patches_per_frame=2, seed=3, draws_train=2, draws_eval=3)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> xr.Dataset:
    out = tmp_path_factory.mktemp("prep") / "s.zarr"
    prepare(SMALL, out, progress=False)
    return xr.open_zarr(out, chunks=None)


def test_store_contract(store: xr.Dataset) -> None:
    n = store.sizes["sample"]
    assert store["inputs"].shape == (n, 4, 7, 24, 24) and store["inputs"].dtype == np.float32
    assert store["target"].shape == (n, 1, 24, 24) and not np.isnan(store["target"].values).any()
    assert store["mask"].dtype == bool
    assert tuple(store["channel"].values) == DEFAULT_CHANNELS
    assert list(store["time_in"].values) == [-45, -30, -15, 0]
    assert np.issubdtype(store["valid_time"].dtype, np.datetime64)
    for key in (
        "source",
        "infrared",
        "simulator_version",
        "simulator_params",
        "ir_mean",
        "ir_std",
        "cadence_minutes",
        "resolution_km",
        "events",
        "qpeflow_version",
        "created",
    ):
        assert key in store.attrs, key
    assert store.attrs["infrared"] == "simulated" and store.attrs["source"] == "synthetic"
    params = json.loads(store.attrs["simulator_params"])
    assert set(params) == set(store["event"].values)
    assert store.attrs["simulator_version"] == SIMULATOR_VERSION


def test_split_by_event_and_train_normalisation(store: xr.Dataset) -> None:
    ev, sp = store["event"].values, store["split"].values
    for e in np.unique(ev):
        assert len(np.unique(sp[ev == e])) == 1
    assert set(sp) == {"train", "val", "test"}
    train = store["inputs"].values[sp == "train"]
    assert np.abs(train.mean(axis=(0, 1, 3, 4))).max() < 1e-3  # z-scored with train statistics
    assert train.std(axis=(0, 1, 3, 4)) == pytest.approx(np.ones(7), rel=1e-3)
    bt = store["inputs"].values[:, -1, 0] * store.attrs["ir_std"][0] + store.attrs["ir_mean"][0]
    assert bt.min() > 180 and bt.max() < 330


def test_deterministic_for_a_seed(tmp_path, store: xr.Dataset) -> None:
    again = xr.open_zarr(prepare(SMALL, tmp_path / "b.zarr", progress=False).path, chunks=None)
    np.testing.assert_array_equal(again["inputs"].values, store["inputs"].values)
    np.testing.assert_array_equal(again["split"].values, store["split"].values)
    other = xr.open_zarr(prepare(dataclasses.replace(SMALL, seed=4), tmp_path / "c.zarr", progress=False).path)
    assert not np.array_equal(other["target"].values[:3], store["target"].values[:3])


def test_k_draws_per_event_share_the_rain_and_differ_in_infrared(store: xr.Dataset) -> None:
    ev, sp, dr = store["event"].values, store["split"].values, store["draw"].values
    contents = json.loads(store.attrs["split_contents"])
    params = json.loads(store.attrs["simulator_params"])
    assert store.attrs["balance_events"] == 1  # the default, recorded
    for e in np.unique(ev):
        k = 2 if sp[ev == e][0] == "train" else 3
        assert len(params[e]) == k and sorted(set(dr[ev == e])) == list(range(k))
        assert contents[sp[ev == e][0]][e] == list(range(k))
        assert params[e][0] != params[e][1]  # fresh simulator parameters per draw
    e = ev[0]
    a, b = np.flatnonzero((ev == e) & (dr == 0)), np.flatnonzero((ev == e) & (dr == 1))
    # the draws of an event share their crops and rain targets; the infrared of a draw is its own
    for v in ("target", "mask", "valid_time", "row0", "col0"):
        np.testing.assert_array_equal(store[v].values[a], store[v].values[b])
    assert not np.allclose(store["inputs"].values[a].mean(), store["inputs"].values[b].mean())


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"channels": ("IR_108", "IR_999")}, "unknown channel"),
        ({"draws_train": 0}, "draws_train"),
        ({"draws_eval": 0}, "draws_eval"),
        ({"simulator_version": "0.9"}, "simulator version '0.9'"),
        ({"rain_weighted_splits": ("training",)}, "rain_weighted_splits: unknown split"),
    ],
)
def test_bad_requests_are_refused_before_writing(tmp_path, kw, words) -> None:
    with pytest.raises(QpeflowError, match=words):
        prepare(dataclasses.replace(SMALL, **kw), tmp_path / "bad.zarr", progress=False)
    assert not (tmp_path / "bad.zarr").exists()


def test_rain_weighted_origins_favour_rain() -> None:
    rain = np.zeros((40, 40), np.float32)
    rain[:10, :10] = 3.0
    rng = np.random.default_rng(0)
    wet = [np.divmod(patch_origins(rain, 8, 1, True, rng)[0], 33)[0] < 10 for _ in range(300)]
    uniform = [np.divmod(patch_origins(rain, 8, 1, False, rng)[0], 33)[0] < 10 for _ in range(300)]
    assert np.mean(wet) > np.mean(uniform) + 0.2


def test_crops_per_frame_follow_the_seen_area_with_stochastic_rounding() -> None:
    cfg = dataclasses.replace(SMALL, patch=16, patches_per_frame=2)  # 2 crops per 4 x 16^2 seen px
    rng = np.random.default_rng(0)
    small = [frame_patches(cfg, 512, rng) for _ in range(4000)]  # n = 1 exactly
    tiny = [frame_patches(cfg, 128, rng) for _ in range(4000)]  # n = 0.25: one crop a quarter of the time
    assert set(small) == {1}
    assert set(tiny) == {0, 1} and abs(np.mean(tiny) - 0.25) < 0.03
    assert frame_patches(cfg, 10 * 1024, rng) == 20


def test_event_weights_give_every_event_of_a_split_the_same_crops() -> None:
    cfg = dataclasses.replace(SMALL, time_steps=2, cadence_minutes=15)
    grid = equal_area_grid(5.0, 50.0, 4.0, (20, 20))

    def seq(event: str, n_t: int, seen: int) -> RainSequence:
        rain = np.full((n_t, 20, 20), np.nan, np.float32)
        rain[:, :seen] = 1.0  # the radar sees `seen` rows
        times = np.datetime64("2021-06-01T00:00") + np.arange(n_t) * np.timedelta64(15, "m")
        return RainSequence(event, "test", grid, rain, times.astype("datetime64[s]"))

    # a long, large event and a short, small one in train (windows end at frames 1..n-1); one in test
    seqs = [seq("long", 9, 20), seq("short", 3, 5), seq("alone", 5, 10)]
    w = event_weights(seqs, {"long": "train", "short": "train", "alone": "test"}, cfg)
    s_long, s_short = 8 * 400, 2 * 100  # seen pixel-time
    np.testing.assert_allclose([w["long"], w["short"]], [(s_long + s_short) / 2 / s for s in (s_long, s_short)])
    assert w["long"] * s_long == pytest.approx(w["short"] * s_short)  # the same expected crops
    assert w["alone"] == pytest.approx(1.0)  # alone in its split: unchanged
    rng = np.random.default_rng(0)
    cfg16 = dataclasses.replace(SMALL, patch=16, patches_per_frame=2)
    assert np.mean([frame_patches(cfg16, 512, rng, weight=0.5) for _ in range(4000)]) == pytest.approx(0.5, abs=0.03)


def test_eval_splits_are_cut_uniformly_and_train_rain_weighted(tmp_path) -> None:
    cfg = dataclasses.replace(SMALL, dry_keep_fraction=1.0)
    ds = xr.open_zarr(prepare(cfg, tmp_path / "w.zarr", progress=False).path, chunks=None)
    assert json.loads(ds.attrs["rain_weighted_splits"]) == ["train"]
    ev = ds["event"].values.astype(str)
    target = ds["target"].values[:, 0]
    wet = {e: float((target[ev == e] >= 0.1).mean()) for e in np.unique(ev)}
    flat = dataclasses.replace(cfg, rain_weighted_splits=())
    ds0 = xr.open_zarr(prepare(flat, tmp_path / "u.zarr", progress=False).path, chunks=None)
    ev0, t0 = ds0["event"].values.astype(str), ds0["target"].values[:, 0]
    split = dict(zip(ev, ds["split"].values.astype(str)))
    train = [e for e in wet if split[e] == "train"]
    held = [e for e in wet if split[e] != "train"]
    # the same crops on held-out events either way; more rain in weighted train crops
    for e in held:
        np.testing.assert_array_equal(t0[ev0 == e], target[ev == e])
    assert np.mean([wet[e] for e in train]) > np.mean([(t0[ev0 == e] >= 0.1).mean() for e in train])


def _seq(rain: np.ndarray, times: np.ndarray | None = None, event: str = "e") -> RainSequence:
    t = rain.shape[0]
    times = (
        times if times is not None else np.datetime64("2020-01-01T00:00", "s") + np.arange(t) * np.timedelta64(15, "m")
    )
    return RainSequence(event, "synthetic", equal_area_grid(0, 50, 4, rain.shape[1:]), rain, times)


def test_dry_patches_are_subsampled_not_dropped() -> None:
    cfg = dataclasses.replace(SMALL, patches_per_frame=20, dry_keep_fraction=0.3)
    seq = _seq(np.zeros((10, 40, 40), np.float32))
    out = _Samples()
    kept = cut_patches(seq, np.zeros((10, 5, 40, 40), np.float32), cfg, np.random.default_rng(0), out)
    assert 0.15 * 7 * 20 < kept < 0.45 * 7 * 20  # 7 valid times x 20 crops, about 30 % kept
    none = cut_patches(
        seq,
        np.zeros((10, 5, 40, 40), np.float32),
        dataclasses.replace(cfg, dry_keep_fraction=0.0),
        np.random.default_rng(0),
        _Samples(),
    )
    assert none == 0


def test_windows_never_span_a_gap_and_uncovered_patches_drop() -> None:
    times = np.datetime64("2020-01-01T00:00", "s") + np.array([0, 15, 30, 45, 75, 90, 105, 120]) * np.timedelta64(
        1, "m"
    )
    ok = [t for t in range(8) if _window_ok(times, t, SMALL)]
    assert ok == [3, 7]
    rain = np.full((8, 30, 30), 2.0, np.float32)
    rain[:, :, :20] = np.nan  # radar sees only a third: below min_coverage
    out = _Samples()
    assert (
        cut_patches(_seq(rain, times), np.zeros((8, 5, 30, 30), np.float32), SMALL, np.random.default_rng(0), out) == 0
    )


def test_assign_splits_disjoint() -> None:
    names = [f"ev{i}" for i in range(10)]
    split = assign_splits(names, SMALL, np.random.default_rng(0))
    assert sorted(split) == names and {"train", "val", "test"} <= set(split.values())
    assert assign_splits(["a", "b"], SMALL, np.random.default_rng(0)) == {"a": "train", "b": "train"}


def test_write_store_rejects_event_in_two_splits(tmp_path) -> None:
    n = 2
    arrays = StoreArrays(
        np.zeros((n, 1, 1, 4, 4), np.float32),
        np.zeros((n, 4, 4)),
        np.ones((n, 4, 4), bool),
        np.array(["2020-01-01", "2020-01-02"], "datetime64[ns]"),
        np.array(["e", "e"]),
        np.array(["train", "test"]),
        np.zeros(n),
        np.zeros(n),
        ("IR_108",),
        (0,),
    )
    with pytest.raises(QpeflowError, match="more than one split"):
        write_store(tmp_path / "x.zarr", arrays, {})
    assert not (tmp_path / "x.zarr").exists()


def test_cli_prepare_prints_summary(tmp_path, capsys) -> None:
    out = tmp_path / "cli.zarr"
    rc = main(
        [
            "prepare",
            "--source",
            "synthetic",
            "--out",
            str(out),
            "--n-events",
            "3",
            "--seed",
            "1",
            "--set",
            "prepare.patch=16",
            "--set",
            "prepare.patches_per_frame=1",
            "--no-progress",
        ]
    )
    assert rc == 0 and out.is_dir() and not (tmp_path / "cli.zarr.tmp").exists()
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "train=" in line and "wet_fraction=" in line and "seconds=" in line
    assert main(["prepare", "--source", "pairs", "--out", str(tmp_path / "p.zarr")]) == 2
    assert main(["prepare", "--out", str(out), "--set", "prepare.source=nope"]) == 2


def test_only_splits_builds_the_same_test_samples(tmp_path, store: xr.Dataset) -> None:
    """The demo builds only the test split: exactly the samples (inputs and rain) of the full store."""
    part = xr.open_zarr(
        prepare(dataclasses.replace(SMALL, only_splits=("test",)), tmp_path / "t.zarr", progress=False).path,
        chunks=None,
    )
    full = store.isel(sample=np.flatnonzero(store["split"].values == "test"))
    assert set(part["split"].values) == {"test"} and part.sizes["sample"] == full.sizes["sample"]
    np.testing.assert_array_equal(part["target"].values, full["target"].values)
    np.testing.assert_array_equal(part["draw"].values, full["draw"].values)
    z_full = full["inputs"].values * np.asarray(full.attrs["ir_std"])[None, None, :, None, None]
    z_part = part["inputs"].values * np.asarray(part.attrs["ir_std"])[None, None, :, None, None]
    k_full = z_full + np.asarray(full.attrs["ir_mean"])[None, None, :, None, None]
    k_part = z_part + np.asarray(part.attrs["ir_mean"])[None, None, :, None, None]
    np.testing.assert_allclose(k_part, k_full, rtol=0, atol=1e-3)  # the same brightness temperatures (K)
    with pytest.raises(QpeflowError, match="only_splits"):
        prepare(dataclasses.replace(SMALL, only_splits=("dev",)), tmp_path / "x.zarr", progress=False)


def test_held_out_events_are_chosen_explicitly() -> None:
    cfg = dataclasses.replace(SMALL, val_events=("b",), test_events=("c",))
    assert assign_splits(["a", "b", "c", "d"], cfg, np.random.default_rng(0)) == {
        "a": "train",
        "b": "val",
        "c": "test",
        "d": "train",
    }
    with pytest.raises(QpeflowError, match="unknown event"):
        assign_splits(["a", "b"], dataclasses.replace(SMALL, test_events=("zz",)), np.random.default_rng(0))
    with pytest.raises(QpeflowError, match="share an event"):
        assign_splits(["a", "b"], dataclasses.replace(SMALL, val_events=("a",), test_events=("a",)), None)
