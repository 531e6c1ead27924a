"""benchmarks/results.py end to end on a tiny fake study: every section, numbers equal the scores files', and
models that were not run are "not run" rows, not a crash."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from benchmarks import steps
from benchmarks.results import COLS, COMPARISON, HEADLINE, LABELS, main
from qpeflow.evaluate import evaluate
from qpeflow.inference.predict import predict
from qpeflow.training.export import export_checkpoint
from tests.benchmarks.tiny_study import tiny_store, train_tiny

SECTIONS = ("## (a)", "## (b)", "## (c)", "## (d)", "## (e)", "## (f)", "## (g)", "## Commands")


def _with_draws(pred: Path) -> None:
    """Two infrared draws per event, as the benchmark store's `draw` coordinate gives them."""
    ds = xr.load_dataset(pred)
    if "draw" not in ds.coords:
        ds.assign_coords(draw=("time", np.arange(ds.sizes["time"]) % 2)).to_netcdf(pred)


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> tuple[Path, Path]:
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("study")
    store = tiny_store(root)
    ckpts = train_tiny(root / "runs", store, ("unet", "cfm"))
    study = root / "study"
    rows = (("unet", ckpts["unet"], {}), ("cfm", ckpts["cfm"], {"members": 2, "steps": 2, "sampler": "euler"}))
    for name, ckpt, kw in (*rows, ("gpi", None, {"baseline": "gpi"})):
        pred = root / "pred" / f"{name}.nc"
        predict(ckpt, store, "test", out=pred, **kw)
        _with_draws(pred)
        evaluate(pred, study / "scores", by="draw")
    for name, ckpt, _ in rows:
        export_checkpoint(ckpt, study, name, f"qpeflow train --config configs/{name}.yaml")
    argv = ["cfm=" + str(ckpts["cfm"]), "--store", str(store), "--members", "2", "--max-samples", "2"]
    assert steps.main([*argv, "--flow-grid", "euler:1", "--out", str(study / "steps")]) == 0
    out = root / "docs" / "results.md"
    assert main([str(study), "--out", str(out), "--figures", str(root / "docs" / "figures" / "results")]) == 0
    return study, out


def _table_after(text: str, heading: str) -> list[list[str]]:
    """The cells of the first Markdown table after ``heading`` (header and rule left out)."""
    lines = text[text.index(heading) :].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def _number(cell: str) -> float | None:
    return None if cell == "—" else float(cell.split()[0])


def test_document_has_every_section_and_figures(study):
    _root, out = study
    text = out.read_text()
    for heading in SECTIONS:
        assert heading in text, heading
    assert "Per-class CSI" in text and "Class confusion" in text
    links = [line[line.index("(") + 1 : -1] for line in text.splitlines() if line.startswith("![")]
    assert links and all((out.parent / link).is_file() for link in links)
    assert "rank_histograms.png" in " ".join(links)
    assert "a different data set" in text.lower() and "0.417" in text and "0.307" in text
    assert "qpeflow evaluate" in text and "--by draw" in text and "qpeflow predict --checkpoint" in text
    assert "| unet |" in text and "| cfm | euler | 1 |" in text  # manifest and steps tables


def test_comparison_numbers_equal_the_scores_files(study):
    root, out = study
    text = out.read_text()
    pooled = _table_after(text, "### All test fields pooled")
    draws = _table_after(text, "### Mean ± standard deviation")
    assert len(pooled) == len(draws) == len(COMPARISON)
    for name, row, drow in zip(COMPARISON, pooled, draws):
        path = root / "scores" / f"{name}.json"
        if not path.is_file():
            assert row[0].startswith(LABELS[name]) and "not run" in row[0]
            assert set(row[1:]) == {"not run"} and set(drow[1:]) == {"not run"}
            continue
        doc = json.loads(path.read_text())
        for key, cell, dcell in zip(HEADLINE, row[1:], drow[1:] + [None]):
            c = COLS[key]
            (entry,) = [
                s for s in doc["scalars"]
                if s["name"] == c.name and s["on"] in c.on
                and (c.threshold is None or s["threshold"] == c.threshold) and (c.scale is None or s["scale"] == c.scale)
                and (s["on"] == c.on[0] or not any(t["name"] == c.name and t["on"] == c.on[0] for t in doc["scalars"]))
            ]  # fmt: skip
            want = entry["value"]
            assert _number(cell) == (None if want is None else pytest.approx(round(want, 3), abs=1.5e-3)), (name, key)
            if dcell is not None and key != "nfe":
                (spread,) = [s for s in doc["groups"]["scalars"] if (s["name"], s["threshold"], s["scale"], s["on"])
                             == (entry["name"], entry["threshold"], entry["scale"], entry["on"])]  # fmt: skip
                mean = spread["mean"]
                assert _number(dcell) == (None if mean is None else pytest.approx(round(mean, 3), abs=1.5e-3))
        assert float(row[-1]) == pytest.approx(round(doc["meta"]["seconds_per_member"], 3), abs=1.5e-3)


def test_missing_models_and_targets_not_run(study):
    _root, out = study
    text = out.read_text()
    targets = _table_after(text, "## (f)")
    verdicts = {row[0].split(".")[0]: row[-1] for row in targets}
    assert set(verdicts) == {"1a", "1b", "2a", "2b", "2c", "2d", "2e", "3"}
    assert all(v.startswith("not run") for v in verdicts.values())  # no DDPM, no residual CFM in this study
    assert "Not run: no `generalisation" in text
    ablation = _table_after(text, "## (b)")
    assert [r[0] for r in ablation] == ["U-Net, T = 4, early fusion (`unet`)"]  # absent rows left out


def test_bad_study_is_one_line(tmp_path, capsys):
    assert main([str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert "nowhere" in err and len(err.splitlines()) == 1
    (tmp_path / "s" / "scores").mkdir(parents=True)
    (tmp_path / "s" / "scores" / "x.json").write_text("{not json")
    assert main([str(tmp_path / "s"), "--out", str(tmp_path / "r.md")]) == 2
    assert "x.json" in capsys.readouterr().err and not (tmp_path / "r.md").exists()
