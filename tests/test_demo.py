"""The main job end to end on tiny settings: store -> unet + residual CFM -> predictions -> scores -> report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qpeflow.demo import DemoSettings, run_demo
from qpeflow.errors import QpeflowError
from tests.paths import CONFIGS

CONFIGS = CONFIGS


def test_demo_runs_every_stage(tmp_path: Path) -> None:
    s = DemoSettings(
        tmp_path / "demo",
        minutes=0.005,
        n_events=4,
        members=2,
        configs=CONFIGS,
        models=("unet", "cfm_residual"),
        max_samples=4,
    )
    index = run_demo(s)
    assert index.is_file() and (index.parent / "report.md").is_file()
    scores = sorted(p.stem for p in (s.out / "scores").glob("*.json"))
    assert scores == ["autoestimator", "cfm_residual", "cfm_residual_1steps", "cfm_residual_2steps", "gpi", "unet"]
    meta = json.loads((s.out / "scores" / "cfm_residual.json").read_text())["meta"]
    assert meta["infrared"] == "simulated" and meta["data_source"] == "synthetic" and meta["members"] == 2
    assert "simulated" in index.read_text().lower()


def test_demo_rejects_residual_without_unet(tmp_path: Path) -> None:
    with pytest.raises(QpeflowError, match=r"cfm_residual needs \['unet'\]"):
        run_demo(DemoSettings(tmp_path, configs=CONFIGS, models=("cfm_residual",)))
    with pytest.raises(QpeflowError, match="unknown model"):
        run_demo(DemoSettings(tmp_path, configs=CONFIGS, models=("gan",)))
