"""The main job end to end on tiny settings: shipped checkpoints (or retrained ones) -> predictions -> scores -> report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qpeflow.config import load_config
from qpeflow.demo import DemoSettings, run_demo
from qpeflow.errors import QpeflowError
from qpeflow.training.export import export_checkpoint
from qpeflow.training.fit import fit
from tests.paths import CONFIGS
from tests.writers.store import make_tiny_store, tiny_overrides


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A shipped folder with a tiny U-Net and residual CFM, exported as the package ships them."""
    tmp = tmp_path_factory.mktemp("ship")
    store = make_tiny_store(tmp / "s.zarr", n=16, size=32)
    unet = fit(load_config(CONFIGS / "unet.yaml", tiny_overrides(store, tmp / "unet", 2))).checkpoint
    res_over = [*tiny_overrides(store, tmp / "res", 2), f"method.residual_of={unet}"]
    res = fit(load_config(CONFIGS / "cfm_residual.yaml", res_over)).checkpoint
    export_checkpoint(unet, tmp / "shipped", "unet", "qpeflow train --config configs/unet.yaml")
    export_checkpoint(res, tmp / "shipped", "cfm_residual", "qpeflow train --config configs/cfm_residual.yaml")
    return tmp / "shipped"


def test_demo_with_shipped_checkpoints(tmp_path: Path, shipped: Path, capsys: pytest.CaptureFixture[str]) -> None:
    s = DemoSettings(
        tmp_path / "demo",
        source="synthetic",
        n_events=4,
        members=2,
        models=("unet", "cfm_residual"),
        max_samples=4,
        shipped=shipped,
    )
    index = run_demo(s)
    assert index.is_file() and (index.parent / "report.md").is_file()
    scores = sorted(p.stem for p in (s.out / "scores").glob("*.json"))
    assert scores == ["autoestimator", "cfm_residual", "cfm_residual_euler1", "cfm_residual_euler2", "gpi", "unet"]
    meta = json.loads((s.out / "scores" / "cfm_residual.json").read_text())["meta"]
    assert meta["infrared"] == "simulated" and meta["data_source"] == "synthetic" and meta["members"] == 2
    out = capsys.readouterr().out
    assert "shipped cfm_residual.pt" in out and "| cfm_residual" in out and "simulated" in out.lower()
    assert sorted(p.name for p in s.out.glob("*.zarr")) == ["synthetic_test.zarr"]  # only the test split is built


def test_demo_refuses_damaged_shipped_files_before_work(tmp_path: Path, shipped: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "manifest.json").write_text((shipped / "manifest.json").read_text())
    (bad / "unet.pt").write_bytes(b"tampered")
    with pytest.raises(QpeflowError, match="sha256 differs"):
        run_demo(DemoSettings(tmp_path / "d", source="synthetic", models=("unet",), shipped=bad))
    assert not list((tmp_path / "d").glob("*.zarr"))


def test_demo_retrains_when_asked(tmp_path: Path) -> None:
    s = DemoSettings(
        tmp_path / "demo",
        train=True,
        minutes=0.005,
        source="synthetic",
        n_events=4,
        members=2,
        configs=CONFIGS,
        models=("unet", "cfm_residual"),
        max_samples=4,
    )
    index = run_demo(s)
    assert index.is_file() and (s.out / "runs" / "cfm_residual" / "best.pt").is_file()


def test_demo_rejects_bad_model_lists(tmp_path: Path) -> None:
    with pytest.raises(QpeflowError, match=r"cfm_residual needs \['unet'\]"):
        run_demo(DemoSettings(tmp_path, train=True, configs=CONFIGS, models=("cfm_residual",)))
    with pytest.raises(QpeflowError, match="unknown model"):
        run_demo(DemoSettings(tmp_path, configs=CONFIGS, models=("gan",)))


def test_demo_warns_when_shipped_models_saw_another_simulator(tmp_path: Path, shipped: Path) -> None:
    import shutil

    from qpeflow.demo import _simulator_mismatch

    copy = tmp_path / "shipped"
    shutil.copytree(shipped, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    for entry in manifest["checkpoints"]:
        entry.setdefault("data", {})["simulator_version"] = "2.0"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    s = DemoSettings(tmp_path / "demo", source="synthetic", models=("unet",), shipped=copy)
    (line,) = _simulator_mismatch(s, "3.0")
    assert "unet was trained on simulator 2.0" in line and "3.0" in line
    assert _simulator_mismatch(s, "2.0") == []
