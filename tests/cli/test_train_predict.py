"""End to end through the CLI: qpeflow train (3 steps) -> qpeflow predict -> predictions.nc."""

from __future__ import annotations

from pathlib import Path

import pytest
import xarray as xr

from qpeflow.cli import main
from tests.paths import CONFIGS
from tests.writers.store import make_tiny_store, tiny_overrides

CONFIGS = CONFIGS


def test_train_then_predict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = make_tiny_store(tmp_path / "s.zarr", n=16, size=16)
    sets = [a for o in tiny_overrides(store, tmp_path / "run", 3) for a in ("--set", o)]
    assert main(["train", "--config", str(CONFIGS / "ddpm.yaml"), *sets]) == 0
    ckpt = tmp_path / "run" / "checkpoint.pt"
    assert ckpt.is_file() and (tmp_path / "run" / "log.csv").is_file()
    out = tmp_path / "pred.nc"
    code = main(
        [
            "predict",
            "--checkpoint",
            str(ckpt),
            "--store",
            str(store),
            "--split",
            "val",
            "--members",
            "2",
            "--steps",
            "3",
            "--sampler",
            "ddim",
            "--seed",
            "7",
            "-o",
            str(out),
        ]
    )
    assert code == 0
    ds = xr.open_dataset(out)
    assert ds["rain_rate"].sizes["member"] == 2 and ds.attrs["method"] == "ddpm"
    assert ds.attrs["sampler"] == "ddim" and ds.attrs["nfe"] == 3
    # --resume after the end trains nothing more and keeps the checkpoint
    assert main(["train", "--config", str(CONFIGS / "ddpm.yaml"), *sets, "--resume"]) == 0


def test_errors_are_one_line_with_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["train", "--config", str(CONFIGS / "unet.yaml"), "--set", f"data.store={tmp_path / 'no.zarr'}"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("qpeflow: error:") and "no.zarr" in err and "\n" not in err
    code = main(["predict", "--checkpoint", str(tmp_path / "none.pt"), "--store", "x.zarr", "-o", "p.nc"])
    assert code == 2 and "none.pt" in capsys.readouterr().err
