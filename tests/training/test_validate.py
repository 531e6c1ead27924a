"""Validation during training: fixed samples and noise, best.pt by validation loss, the plateau rule, resume."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from qpeflow.checkpoint import load_checkpoint
from qpeflow.config import load_config
from qpeflow.training.fit import fit
from qpeflow.training.validate import ValidationState
from tests.paths import CONFIGS
from tests.writers.store import make_tiny_store, tiny_overrides


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_store(tmp_path_factory.mktemp("val") / "tiny.zarr", n=16, size=32)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_validation_rows_best_checkpoint_and_determinism(store: Path, tmp_path: Path) -> None:
    over = [*tiny_overrides(store, tmp_path / "a", 6), "train.val_every=2", "train.val_batches=1"]
    result = fit(load_config(CONFIGS / "cfm.yaml", over))
    rows = _rows(result.checkpoint.parent / "val.csv")
    assert [int(r["step"]) for r in rows] == [2, 4, 6]
    losses = [float(r["val_loss"]) for r in rows]
    best = load_checkpoint(result.checkpoint.parent / "best.pt")
    assert best["step"] == int(rows[-1]["best_step"]) == min(zip(losses, (2, 4, 6)))[1]
    assert best["validation"]["best_loss"] == pytest.approx(min(losses), rel=1e-5)
    # same weights, same samples, same noise: the same validation loss again
    again = fit(load_config(CONFIGS / "cfm.yaml", [*over[:1], f"train.out={tmp_path / 'b'}", *over[2:]]))
    assert [r["val_loss"] for r in _rows(again.checkpoint.parent / "val.csv")] == [r["val_loss"] for r in rows]


def test_plateau_stops_training_and_resume_keeps_the_record(store: Path, tmp_path: Path) -> None:
    # min_delta 0.99: no later validation counts as an improvement, so patience 1 stops at the second one
    over = [*tiny_overrides(store, tmp_path / "p", 50), "train.val_every=2", "train.val_batches=1"]
    result = fit(load_config(CONFIGS / "unet.yaml", [*over, "train.patience=1", "train.min_delta=0.99"]))
    assert result.steps == 4
    record = load_checkpoint(result.checkpoint)["validation"]
    losses = [v for _, v in record["history"]]
    assert record["since_best"] == 1 and len(losses) == 2
    assert record["best_step"] == (2 if losses[0] <= losses[1] else 4)  # the lowest, improvement or not
    resumed = fit(load_config(CONFIGS / "unet.yaml", [*over[:2], "train.steps=6", *over[3:]]), resume=True)
    history = load_checkpoint(resumed.checkpoint)["validation"]["history"]
    assert [s for s, _ in history] == [2, 4, 6]
    assert [int(r["step"]) for r in _rows(resumed.checkpoint.parent / "val.csv")] == [2, 4, 6]


def test_validation_state_rules() -> None:
    s = ValidationState().update(10, 1.0, 0.0)
    assert s.improved and s.best_step == 10
    s = s.update(20, 0.995, 0.01)  # less than 1 % better: the new best, but no gain for the plateau rule
    assert s.improved and s.best_step == 20 and s.since_best == 1 and s.plateaued(1) and not s.plateaued(2)
    assert not s.plateaued(0)
    s = s.update(30, 0.992, 0.01)  # 0.8 % below the last gain (1.0): still counted against the plateau
    assert s.improved and s.since_best == 2 and s.ref_loss == 1.0
    s = s.update(40, 1.2, 0.01)
    assert not s.improved and s.best_step == 30 and s.since_best == 3
    s = s.update(50, 0.5, 0.01)
    assert s.improved and s.best_loss == 0.5 and s.since_best == 0
    back = ValidationState.from_payload(s.to_payload())
    assert back == s and math.isinf(ValidationState.from_payload(None).best_loss)
    old = {"best_loss": 0.7, "best_step": 3, "since_best": 1, "history": [[3, 0.7], [4, 0.8]]}
    assert ValidationState.from_payload(old).ref_loss == 0.7  # a checkpoint written before ref_loss
