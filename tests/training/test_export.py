"""Exported (shipped) checkpoints: fp16 EMA weights, self-contained residual, manifest with sha256, names resolve."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from qpeflow.checkpoint import load_checkpoint
from qpeflow.config import load_config
from qpeflow.errors import QpeflowError
from qpeflow.inference.estimator import estimator_from_payload, load_estimator
from qpeflow.inference.shipped import check_shipped, resolve_checkpoint, shipped_manifest
from qpeflow.methods import Noise
from qpeflow.training.export import export_checkpoint
from qpeflow.training.fit import fit
from tests.paths import CONFIGS
from tests.writers.store import make_tiny_store, tiny_overrides


def test_export_residual_then_load_by_name(tmp_path: Path) -> None:
    store = make_tiny_store(tmp_path / "s.zarr", n=16, size=16)
    unet = fit(load_config(CONFIGS / "unet.yaml", tiny_overrides(store, tmp_path / "unet", 2))).checkpoint
    over = [*tiny_overrides(store, tmp_path / "res", 2), f"method.residual_of={unet}"]
    res = fit(load_config(CONFIGS / "cfm_residual.yaml", over)).checkpoint
    ship = tmp_path / "ship"
    entry = export_checkpoint(res, ship, "cfm_residual", "qpeflow train --config configs/cfm_residual.yaml")
    export_checkpoint(unet, ship, "unet", "qpeflow train --config configs/unet.yaml")
    manifest = json.loads((ship / "manifest.json").read_text())
    assert [e["name"] for e in manifest["checkpoints"]] == ["cfm_residual", "unet"]
    assert entry["step"] == 2 and entry["dtype"] == "float16" and entry["data"]["source"] == "synthetic"
    assert entry["train_command"].startswith("qpeflow train") and len(entry["sha256"]) == 64
    slim = load_checkpoint(ship / "cfm_residual.pt")
    assert slim["exported"] and all(v.dtype == torch.float16 for v in slim["ema"].values() if v.is_floating_point())
    assert (ship / "cfm_residual.pt").stat().st_size < 0.6 * res.stat().st_size
    # the shipped residual is self-contained and estimates like the original, up to fp16 rounding
    unet.unlink()
    path = resolve_checkpoint("cfm_residual", ship)
    assert path == ship / "cfm_residual.pt" and check_shipped("cfm_residual", ship) == path
    est = estimator_from_payload(load_checkpoint(path), path, torch.device("cpu"))
    ref = load_estimator(res, "cpu")
    cond = torch.randn(2, 4, len(est.channels), 16, 16)
    a = est.sample(cond, 2, Noise.seeded([1, 2])).rain_mmh
    b = ref.sample(cond, 2, Noise.seeded([1, 2])).rain_mmh
    np.testing.assert_allclose(a, b, rtol=2e-2, atol=2e-3)
    assert shipped_manifest(ship)["unet"]["file"] == "unet.pt"


def test_resolve_and_check_errors(tmp_path: Path) -> None:
    with pytest.raises(QpeflowError, match="no shipped checkpoint of that name"):
        resolve_checkpoint("nothing_here", tmp_path)
    assert resolve_checkpoint(tmp_path / "x.pt", tmp_path) == tmp_path / "x.pt"  # a path stays a path
    (tmp_path / "manifest.json").write_text(json.dumps({"checkpoints": [{"name": "a", "file": "a.pt", "sha256": "0"}]}))
    (tmp_path / "a.pt").write_bytes(b"not the file")
    with pytest.raises(QpeflowError, match="sha256 differs"):
        check_shipped("a", tmp_path)
