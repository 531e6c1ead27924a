"""StoreDataset: contract checks, splits, crops, re-normalisation, lazy vs in-memory reads."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from qpeflow.config import DataConfig
from qpeflow.data.dataset import StoreDataset, collate
from qpeflow.data.transforms import LogRain
from qpeflow.errors import QpeflowError
from tests.writers.store import make_tiny_store

CH = ("IR_108", "IR_120", "WV_062", "WV_073", "IR_087")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_store(tmp_path_factory.mktemp("ds") / "tiny.zarr", n=16, T=4, C=5, size=32)


def _cfg(**kw: object) -> DataConfig:
    return replace(DataConfig(channels=CH, time_steps=4, patch=32), **kw)


def test_item_shapes_target_transform_and_mask(store: Path) -> None:
    ds = StoreDataset(store, _cfg(), "train")
    raw = xr.open_zarr(store)
    assert len(ds) == int((raw["split"].values == "train").sum())
    item = ds[0]
    i = int(item.index)
    assert item.cond.shape == (4, 5, 32, 32) and item.cond.dtype == torch.float32
    assert item.target.shape == item.mask.shape == (1, 32, 32)
    rain = raw["target"].values[i]
    mask = raw["mask"].values[i].astype(np.float32)
    expected = LogRain(0.1, 2.0).forward(rain) * mask
    np.testing.assert_allclose(item.target.numpy(), expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(item.mask.numpy()[0], mask)
    np.testing.assert_array_equal(item.cond.numpy(), raw["inputs"].values[i])
    assert (item.mask == 0).any()  # the fixture's coverage gap is in store samples 0, 3, 6 ...


def test_channel_selection_and_last_frames(store: Path) -> None:
    ds = StoreDataset(store, _cfg(channels=("WV_062", "IR_108"), time_steps=1), "test")
    raw = xr.open_zarr(store)
    item = ds[0]
    i = int(item.index)
    assert item.cond.shape == (1, 2, 32, 32)
    np.testing.assert_array_equal(item.cond.numpy()[0, 0], raw["inputs"].values[i, -1, 2])
    np.testing.assert_array_equal(item.cond.numpy()[0, 1], raw["inputs"].values[i, -1, 0])
    assert ds.time_in == [0]


def test_random_crop_is_seeded(store: Path) -> None:
    ds = StoreDataset(store, _cfg(patch=16), "train")
    a, b, c = ds[(2, 7)], ds[(2, 7)], ds[(2, 8)]
    assert a.cond.shape == (4, 5, 16, 16)
    assert torch.equal(a.cond, b.cond)
    full = StoreDataset(store, _cfg(), "train")[2]
    crops = {tuple(x.cond[0, 0, 0, :3].tolist()) for x in (ds[(2, s)] for s in range(20))}
    assert len(crops) > 1  # different seeds pick different windows
    # every crop is a window of the full patch
    hit = [(r, q) for r in range(17) for q in range(17) if torch.equal(full.cond[..., r : r + 16, q : q + 16], c.cond)]
    assert len(hit) == 1


def test_lazy_equals_in_memory(store: Path) -> None:
    lazy = StoreDataset(store, _cfg(), "val", in_memory=False)
    mem = StoreDataset(store, _cfg(), "val", in_memory=True)
    for k in range(len(lazy)):
        assert torch.equal(lazy[k].cond, mem[k].cond) and torch.equal(lazy[k].target, mem[k].target)


def test_renormalisation_to_training_statistics(store: Path) -> None:
    base = StoreDataset(store, _cfg(), "train")
    mean, std = base.ir_mean + 5.0, base.ir_std * 2.0
    re = StoreDataset(store, _cfg(), "train", ir_stats=(mean, std))
    bt = (
        base[0].cond.double() * torch.tensor(base.ir_std)[None, :, None, None]
        + torch.tensor(base.ir_mean)[None, :, None, None]
    )
    expected = (bt - torch.tensor(mean)[None, :, None, None]) / torch.tensor(std)[None, :, None, None]
    torch.testing.assert_close(re[0].cond.double(), expected, rtol=1e-5, atol=1e-5)


def test_collate_and_ir_kelvin(store: Path) -> None:
    ds = StoreDataset(store, _cfg(), "test", crop=False)
    batch = collate([ds[0], ds[1]])
    assert batch.cond.shape == (2, 4, 5, 32, 32) and batch.index.shape == (2,)
    bt = ds.ir_kelvin("IR_108")
    assert bt is not None and bt.shape == (len(ds), 32, 32)
    assert float(bt.min()) > 150.0 and float(bt.max()) < 330.0
    assert ds.ir_kelvin("IR_039") is None


@pytest.mark.parametrize(
    ("kw", "split", "words"),
    [
        ({"channels": ("IR_108", "IR_039")}, "train", "IR_039"),
        ({"time_steps": 6}, "train", "time_steps"),
        ({"cadence_minutes": 5}, "train", "cadence"),
        ({"patch": 64}, "train", "patch"),
        ({}, "bogus", "split"),
    ],
)
def test_mismatch_is_a_clear_error(store: Path, kw: dict[str, object], split: str, words: str) -> None:
    with pytest.raises(QpeflowError, match=words):
        StoreDataset(store, _cfg(**kw), split)


def test_store_missing_or_incomplete(tmp_path: Path) -> None:
    with pytest.raises(QpeflowError, match="not found"):
        StoreDataset(tmp_path / "absent.zarr", _cfg(), "train")
    p = make_tiny_store(tmp_path / "t.zarr", n=16, size=16)
    ds = xr.open_zarr(p).load()
    ds = ds.drop_vars("mask")
    del ds.attrs["ir_std"]
    ds.to_zarr(tmp_path / "bad.zarr", zarr_format=2)
    with pytest.raises(QpeflowError, match=r"bad\.zarr.*mask.*ir_std"):
        StoreDataset(tmp_path / "bad.zarr", _cfg(patch=16), "train")


def test_augmentation_turns_infrared_rain_and_mask_together(store: Path) -> None:
    plain = StoreDataset(store, _cfg(), "train")[3]
    aug = StoreDataset(store, _cfg(augment=True), "train")
    seen = set()
    for seed in range(24):
        item = aug[(3, seed)]
        match = [
            (k, f)
            for k in range(4)
            for f in (False, True)
            if torch.equal(_sym(plain.cond, k, f), item.cond)
            and torch.equal(_sym(plain.target, k, f), item.target)
            and torch.equal(_sym(plain.mask, k, f), item.mask)
        ]
        assert match, "the three arrays must share one symmetry"
        seen.add(match[0])
    assert len(seen) > 4  # several of the 8 symmetries drawn
    assert torch.equal(aug[3].cond, plain.cond)  # no crop seed (estimation): untouched


def _sym(t: torch.Tensor, k: int, flip: bool) -> torch.Tensor:
    out = torch.rot90(t, k, dims=(-2, -1))
    return torch.flip(out, dims=(-1,)) if flip else out
