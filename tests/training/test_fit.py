"""fit(): loss decreases, EMA warm-up, CSV log, bit-for-bit kill-and-resume, residual training."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

import qpeflow.training.fit as train_mod
from qpeflow.build import InputSpec, build
from qpeflow.checkpoint import load_checkpoint
from qpeflow.config import load_config
from qpeflow.data.transforms import IRNorm
from qpeflow.errors import QpeflowError
from qpeflow.training.fit import fit
from tests.paths import CONFIGS
from tests.writers.store import make_tiny_store, tiny_overrides

CONFIGS = CONFIGS


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_store(tmp_path_factory.mktemp("train") / "tiny.zarr", n=16, size=32)


def _cfg(name: str, store: Path, out: Path, steps: int, *extra: str):  # type: ignore[no-untyped-def]
    return load_config(CONFIGS / f"{name}.yaml", [*tiny_overrides(store, out, steps), *extra])


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_regression_loss_decreases_and_log_is_written(store: Path, tmp_path: Path) -> None:
    # a fixed batch (all 8 training samples, no crop) so that the loss curve is not sampling noise
    cfg = _cfg(
        "unet",
        store,
        tmp_path / "u",
        12,
        "train.batch_size=8",
        "data.patch=32",
        "train.lr_schedule=constant",
        "train.lr=3e-3",
    )
    result = fit(cfg)
    rows = _rows(result.log_csv)
    assert [int(r["step"]) for r in rows] == list(range(1, 13))
    losses = [float(r["loss"]) for r in rows]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert sum(losses[-3:]) / 3 < 0.8 * sum(losses[:3]) / 3
    assert set(rows[0]) == {"step", "loss", "lr", "steps_per_s", "seconds"}
    ckpt = load_checkpoint(result.checkpoint)
    assert ckpt["step"] == 12 == result.steps
    assert ckpt["normalisation"]["channels"] == list(cfg.data.channels)
    assert ckpt["normalisation"]["time_in"] == [-45, -30, -15, 0]
    assert ckpt["data_provenance"]["source"] == "synthetic"


class _Killed(Exception):
    pass


#: dropout and random crops use randomness too; a checkpoint every 3 steps
RESUME_EXTRA = ("model.dropout=0.1", "train.ckpt_every=3")


@pytest.fixture(scope="module")
def runs(store: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 6-step CFM run, and the same run killed during step 5 then resumed."""
    tmp = tmp_path_factory.mktemp("runs")
    full = fit(_cfg("cfm", store, tmp / "full", 6, *RESUME_EXTRA))
    real_step = train_mod.train_step

    def dying_step(state, batch, train, rank):  # type: ignore[no-untyped-def]
        if state.step == 4:  # killed during step 5, after the checkpoint at step 3
            raise _Killed
        return real_step(state, batch, train, rank)

    mp = pytest.MonkeyPatch()
    mp.setattr(train_mod, "train_step", dying_step)
    try:
        with pytest.raises(_Killed):
            fit(_cfg("cfm", store, tmp / "part", 6, *RESUME_EXTRA))
    finally:
        mp.undo()
    killed_at = load_checkpoint(tmp / "part" / "checkpoint.pt")["step"]
    resumed = fit(_cfg("cfm", store, tmp / "part", 6, *RESUME_EXTRA), resume=True)
    return {"full": full.checkpoint, "resumed": resumed.checkpoint, "killed_at": killed_at}


def test_kill_and_resume_is_bit_for_bit(runs: dict) -> None:
    assert runs["killed_at"] == 3
    a, b = load_checkpoint(runs["full"]), load_checkpoint(runs["resumed"])
    assert a["step"] == b["step"] == 6
    for key in ("state_dict", "ema"):
        assert a[key].keys() == b[key].keys()
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key]), key
    sa, sb = a["optimizer"]["state"], b["optimizer"]["state"]
    assert all(torch.equal(sa[i]["exp_avg_sq"], sb[i]["exp_avg_sq"]) for i in sa)
    log_a, log_b = _rows(runs["full"].parent / "log.csv"), _rows(runs["resumed"].parent / "log.csv")
    assert [r["step"] for r in log_b] == [str(i) for i in range(1, 7)]  # no duplicated rows after resume
    assert [r["loss"] for r in log_a] == [r["loss"] for r in log_b]


def test_ema_is_warmed_up_not_stuck_at_init(store: Path, runs: dict) -> None:
    ckpt = load_checkpoint(runs["full"])
    cfg = _cfg("cfm", store, runs["full"].parent, 6, *RESUME_EXTRA)
    torch.manual_seed(cfg.train.seed)  # fit() builds the network right after this
    n = len(cfg.data.channels)
    init = build(cfg, InputSpec(tuple(cfg.data.channels), 4, IRNorm((250.0,) * n, (20.0,) * n))).net
    w0 = init.state_dict()
    names = [k for k, v in ckpt["ema"].items() if v.is_floating_point() and v.numel() > 100]
    for name in names:
        w, e = ckpt["state_dict"][name], ckpt["ema"][name]
        # with a plain 0.999 decay the EMA would still be 99 % initial weights after 6 steps
        assert (e - w).norm() < (e - w0[name]).norm(), name
        assert not torch.equal(e, w)


def test_resume_refuses_a_different_model(store: Path, tmp_path: Path) -> None:
    fit(_cfg("cfm", store, tmp_path / "r", 2))
    with pytest.raises(QpeflowError, match="model.base_channels"):
        fit(_cfg("cfm", store, tmp_path / "r", 4, "model.base_channels=16"), resume=True)


def test_time_limit_stops_and_checkpoints(store: Path, tmp_path: Path) -> None:
    result = fit(_cfg("cfm", store, tmp_path / "t", 10_000, "train.time_limit_minutes=1e-9"))
    assert result.steps == 1 and load_checkpoint(result.checkpoint)["step"] == 1


def test_ddpm_and_residual_train(store: Path, tmp_path: Path) -> None:
    unet = fit(_cfg("unet", store, tmp_path / "unet", 2))
    ddpm = fit(_cfg("ddpm", store, tmp_path / "ddpm", 2))
    res = fit(_cfg("cfm_residual", store, tmp_path / "res", 2, f"method.residual_of={unet.checkpoint}"))
    assert ddpm.steps == res.steps == 2
    payload = load_checkpoint(res.checkpoint)
    mean = payload["components"]["mean"]
    assert mean["checkpoint"] == str(unet.checkpoint) and payload["components"].keys() == {"mean"}
    unet_ema = load_checkpoint(unet.checkpoint)["ema"]
    assert all(torch.equal(mean["state_dict"][k], v) for k, v in unet_ema.items())


def test_init_from_takes_matching_weights_of_another_run(store: Path, tmp_path: Path) -> None:
    """MeanFlow from a trained residual CFM: every shared tensor starts equal, the new time embedding at zero."""
    unet = fit(_cfg("unet", store, tmp_path / "unet", 2))
    res = fit(_cfg("cfm_residual", store, tmp_path / "res", 2, f"method.residual_of={unet.checkpoint}"))
    over = (f"method.residual_of={unet.checkpoint}", f"train.init_from={res.checkpoint}", "train.lr=1e-12")
    mf = fit(_cfg("meanflow_residual", store, tmp_path / "mf", 1, *over))
    src, dst = load_checkpoint(res.checkpoint)["ema"], load_checkpoint(mf.checkpoint)["state_dict"]
    shared = [k for k in src if k in dst and src[k].shape == dst[k].shape]
    assert len(shared) == len(src) and any(k not in src for k in dst)  # all CFM tensors, plus MeanFlow's own
    assert all(torch.allclose(src[k].float(), dst[k].float(), atol=1e-6) for k in shared)
    with pytest.raises(QpeflowError, match="none.pt: checkpoint not found"):
        fit(_cfg("unet", store, tmp_path / "u2", 1, f"train.init_from={tmp_path / 'none.pt'}"))
