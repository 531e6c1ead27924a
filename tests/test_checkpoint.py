"""Checkpoints: atomic write, weights_only load, clear errors; EMA warm-up; LR schedule; data order."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from qpeflow.checkpoint import FORMAT_VERSION, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from qpeflow.data.order import StepSampler
from qpeflow.errors import QpeflowError
from qpeflow.methods import Noise
from qpeflow.training.ema import EMA, ema_decay
from qpeflow.training.lr_schedule import learning_rate
from tests.paths import CONFIGS


def _payload() -> dict[str, object]:
    net = torch.nn.Conv2d(2, 3, 3)
    return {
        "state_dict": net.state_dict(),
        "ema": net.state_dict(),
        "optimizer": {},
        "step": 3,
        "config": {"train": {"steps": 3}},
        "versions": {"torch": str(torch.__version__)},
        "normalisation": {
            "channels": ["IR_108"],
            "ir_mean": [250.0],
            "ir_std": [20.0],
            "time_in": [0],
            "cadence_minutes": 15,
        },
        "data_provenance": {"source": "synthetic"},
        "rng": rng_state(),
    }


def test_round_trip_and_no_temp_files_left(tmp_path: Path) -> None:
    p = save_checkpoint(tmp_path / "run" / "checkpoint.pt", _payload())
    back = load_checkpoint(p)
    assert back["format_version"] == FORMAT_VERSION and back["step"] == 3
    assert set(back["state_dict"]) == {"weight", "bias"} and back["rng"]["torch"].dtype == torch.uint8
    assert sorted(os.listdir(p.parent)) == ["checkpoint.pt"]
    torch.load(p, weights_only=True)  # loadable without trusting the file


def test_atomic_write_keeps_old_file_when_saving_fails(tmp_path: Path) -> None:
    p = save_checkpoint(tmp_path / "c.pt", _payload())
    before = p.read_bytes()
    with pytest.raises((pickle.PicklingError, AttributeError)):  # torch.save: a lambda cannot be pickled
        save_checkpoint(p, {**_payload(), "bad": lambda: 0})  # not serialisable
    assert p.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["c.pt"]


def test_weights_only_refuses_pickled_objects(tmp_path: Path) -> None:
    p = tmp_path / "evil.pt"
    torch.save({**_payload(), "format_version": FORMAT_VERSION, "obj": Path("/x")}, p)
    with pytest.raises(QpeflowError, match="evil.pt: holds objects other than tensors"):
        load_checkpoint(p)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_or_truncated_is_a_clear_error(tmp_path: Path, damage: str) -> None:
    p = save_checkpoint(tmp_path / "c.pt", _payload())
    data = p.read_bytes()
    p.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"not a checkpoint" * 10, "empty": b""}[damage])
    with pytest.raises(QpeflowError, match=r"c\.pt: not a readable checkpoint"):
        load_checkpoint(p)


def test_missing_keys_other_version_and_absent_file(tmp_path: Path) -> None:
    p = tmp_path / "c.pt"
    torch.save({"state_dict": {}}, p)
    with pytest.raises(QpeflowError, match="missing"):
        load_checkpoint(p)
    save_checkpoint(p, {**_payload(), "format_version": FORMAT_VERSION + 1})
    with pytest.raises(QpeflowError, match="format_version"):
        load_checkpoint(p)
    with pytest.raises(QpeflowError, match="not found"):
        load_checkpoint(tmp_path / "absent.pt")


def test_rng_state_round_trip_through_a_checkpoint(tmp_path: Path) -> None:
    import random

    p = save_checkpoint(tmp_path / "c.pt", _payload())
    expected = (torch.rand(3), np.random.rand(3), random.random())
    set_rng_state(load_checkpoint(p)["rng"])
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(expected[0], got[0]) and np.array_equal(expected[1], got[1]) and expected[2] == got[2]


def test_ema_warm_up_follows_the_weights_early() -> None:
    assert ema_decay(0, 0.999) == pytest.approx(0.1) and ema_decay(10**6, 0.999) == 0.999
    net = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(net.weight)
    ema = EMA(net, 0.999)
    with torch.no_grad():
        net.weight.fill_(1.0)
    for _ in range(20):
        ema.update(net)
    # with a fixed 0.999 the average would still be 1 - 0.999**20 = 0.02
    expected = 1.0 - np.prod([ema_decay(n, 0.999) for n in range(20)])
    assert float(ema.state_dict()["weight"]) == pytest.approx(expected, rel=1e-5)
    assert expected > 0.95


def test_lr_schedules() -> None:
    assert learning_rate("cosine", 0, 1.0, 10, 110) == pytest.approx(0.1)
    assert learning_rate("cosine", 9, 1.0, 10, 110) == pytest.approx(1.0)
    assert learning_rate("cosine", 60, 1.0, 10, 110) == pytest.approx(0.5)
    assert learning_rate("cosine", 110, 1.0, 10, 110) == pytest.approx(0.0, abs=1e-12)
    assert learning_rate("constant", 500, 1.0, 10, 110) == 1.0
    with pytest.raises(QpeflowError):
        learning_rate("step", 0, 1.0, 0, 1)


def test_data_order_is_a_function_of_step_and_shards_ranks() -> None:
    a = StepSampler(10, 4, seed=3, start=0, stop=6)
    b = StepSampler(10, 4, seed=3, start=4, stop=6)
    assert list(a)[4:] == list(b)
    items = [k[0] for keys in StepSampler(10, 5, 3, 0, 2) for k in keys]
    assert sorted(items) == list(range(10))  # one epoch = a permutation
    r0 = StepSampler(10, 2, 3, 0, 1, rank=0, world_size=2).keys(0)
    r1 = StepSampler(10, 2, 3, 0, 1, rank=1, world_size=2).keys(0)
    assert r0 + r1 == StepSampler(10, 4, 3, 0, 1).keys(0)
    assert StepSampler(10, 4, seed=4, start=0, stop=1).keys(0) != a.keys(0)


def test_residual_checkpoint_is_self_contained(tmp_path: Path) -> None:

    from qpeflow.config import load_config
    from qpeflow.inference.estimator import load_estimator
    from qpeflow.training.fit import fit
    from tests.writers.store import make_tiny_store, tiny_overrides

    configs = CONFIGS
    store = make_tiny_store(tmp_path / "s.zarr", n=16, size=16)
    unet = fit(load_config(configs / "unet.yaml", tiny_overrides(store, tmp_path / "unet", 1))).checkpoint
    unet_ema = load_checkpoint(unet)["ema"]
    res_cfg = load_config(
        configs / "cfm_residual.yaml", [*tiny_overrides(store, tmp_path / "res", 1), f"method.residual_of={unet}"]
    )
    res = fit(res_cfg).checkpoint
    unet.unlink()  # the residual checkpoint must not need the regression file any more
    est = load_estimator(res, "cpu")
    assert est.label == "cfm_residual"
    mean_net = est.method.mean.net  # type: ignore[attr-defined]
    assert all(torch.equal(mean_net.state_dict()[k], v) for k, v in unet_ema.items())
    cond = torch.randn(2, 4, len(est.channels), 16, 16)
    out = est.sample(cond, 2, Noise.seeded([1, 2]))
    # 2 Euler steps plus one evaluation of the mean
    assert out.rain_mmh.shape == (2, 1, 16, 16) and out.nfe == 3 and (out.rain_mmh >= 0).all()
    np.testing.assert_allclose(est.sample(cond[1:], 2, Noise.seeded([2])).rain_mmh[0], out.rain_mmh[1], rtol=1e-5)


def test_single_frame_model_is_labelled_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qpeflow.config import load_config
    from qpeflow.inference.estimator import load_estimator
    from qpeflow.training.fit import fit
    from tests.writers.store import make_tiny_store, tiny_overrides

    configs = CONFIGS
    store = make_tiny_store(tmp_path / "s.zarr", n=16, size=16)
    ckpt = fit(
        load_config(configs / "unet.yaml", [*tiny_overrides(store, tmp_path / "u1", 1), "data.time_steps=1"])
    ).checkpoint
    assert load_estimator(ckpt, "cpu").label == "unet_t1"


def _bit_rot(path: Path, tensor_bytes: bytes) -> None:
    """Overwrite 4 KiB inside the stored bytes of one tensor (a zip member with a CRC)."""
    data = bytearray(path.read_bytes())
    at = data.find(tensor_bytes)
    assert at > 0
    data[at + 1024 : at + 1024 + 4096] = bytes(4096)
    path.write_bytes(bytes(data))


def test_bit_rot_inside_a_tensor_fails_the_crc_check(tmp_path: Path) -> None:
    weights = torch.arange(1.0, 1 + 16384.0)  # 64 KiB, no run of zero bytes
    p = save_checkpoint(tmp_path / "c.pt", {**_payload(), "state_dict": {"w": weights}, "ema": {"w": weights}})
    _bit_rot(p, weights.numpy().tobytes()[:64])
    assert torch.load(p, weights_only=True)["state_dict"]["w"].shape == (16384,)  # torch itself loads it
    with pytest.raises(QpeflowError, match=r"c\.pt: corrupt checkpoint: archive member .* fails its CRC") as info:
        load_checkpoint(p)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("where", ["state_dict", "ema"])
def test_non_finite_weights_are_refused(tmp_path: Path, where: str) -> None:
    bad = {"w": torch.tensor([1.0, float("nan")]), "b": torch.ones(1)}
    p = save_checkpoint(tmp_path / "nan.pt", {**_payload(), where: bad})
    with pytest.raises(QpeflowError, match=rf"nan\.pt: corrupt checkpoint: {where} tensor 'w' holds NaN"):
        load_checkpoint(p)


@pytest.mark.parametrize(
    "change, words",
    [
        ({"ir_mean": None}, r"normalisation lacks \['ir_mean'\]"),
        ({"ir_std": [0.0]}, "ir_std > 0"),
        ({"ir_mean": [1.0, 2.0]}, "2/1 values for 1 channels"),
    ],
)
def test_incomplete_normalisation_is_refused(tmp_path: Path, change: dict, words: str) -> None:
    norm = {**_payload()["normalisation"], **change}  # type: ignore[dict-item]
    norm = {k: v for k, v in norm.items() if v is not None}
    p = save_checkpoint(tmp_path / "n.pt", {**_payload(), "normalisation": norm})
    with pytest.raises(QpeflowError, match=rf"n\.pt: .*{words}"):
        load_checkpoint(p)
