"""benchmarks/steps.py: the rows it plans, the references and ratios, and one tiny end-to-end run (resumable)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.steps import Model, add_ratios, main, parse_args, parse_grid, plan_rows, reference
from qpeflow.errors import QpeflowError
from tests.benchmarks.tiny_study import tiny_store, train_tiny


def _args(*extra: str):
    return parse_args(["--store", "s.zarr", *extra])


def test_plans_follow_the_method_kind():
    args = _args("--members", "4")
    team = plan_rows(Model("ddpm_team", Path("t.pt"), "ddpm", 500, "eps"), args)
    assert [(p.sampler, p.steps) for p in team] == [("ddim", 10), ("ddim", 50), ("ddim", 250), ("ancestral", 500)]
    ddpm = plan_rows(Model("ddpm", Path("d.pt"), "ddpm", 1000, "v"), args)
    assert ("ancestral", 1000) in [(p.sampler, p.steps) for p in ddpm]
    flow = plan_rows(Model("cfm", Path("c.pt"), "flow", 1000, "v"), args)
    assert [(p.sampler, p.steps) for p in flow] == [("euler", k) for k in (1, 2, 4, 8, 16)] + [("heun", 2), ("heun", 4)]
    (unet,) = plan_rows(Model("unet", Path("u.pt"), "regression", 1000, "v"), args)
    assert unet.members == 1 and unet.steps == 1 and unet.name == "unet-mean"
    limited = plan_rows(Model("ddpm", Path("d.pt"), "ddpm", 1000, "v"), _args("--expensive-members", "2"))
    assert [(p.steps, p.members, p.limited) for p in limited if p.steps >= 500] == [(500, 8, False), (1000, 2, True)]
    with pytest.raises(QpeflowError, match="sampler:steps"):
        parse_grid("euler:one")


def _row(model: str, kind: str, sampler: str, steps: int, nfe: int, seconds: float | None) -> dict:
    return {"model": model, "kind": kind, "sampler": sampler, "steps": steps, "nfe": nfe,
            "seconds_per_member": seconds, "name": f"{model}-{sampler}{steps}"}  # fmt: skip


def test_references_measured_or_estimated_and_ratios():
    models = [Model("ddpm_team", Path("t.pt"), "ddpm", 500, "eps"), Model("cfm", Path("c.pt"), "flow", 1000, "v")]
    rows = [
        _row("ddpm_team", "ddpm", "ddim", 10, 10, 0.1),
        _row("ddpm_team", "ddpm", "ancestral", 500, 500, 4.0),
        _row("cfm", "flow", "euler", 8, 8, 0.08),
    ]
    team = reference(rows, models, "team500")
    assert team["nfe"] == 500 and team["seconds_per_member"] == 4.0 and team["time_source"].startswith("measured")
    big = reference(rows, models, "ddpm1000")  # no DDPM with 1000 steps: nominal NFE, time from the DDPM rows
    assert big["model"] is None and big["nfe"] == 1000 and "estimated" in big["time_source"]
    assert big["seconds_per_member"] == pytest.approx(1000 * (0.01 + 0.008) / 2)  # median of 0.01 and 0.008 s/NFE
    add_ratios(rows, {"ddpm1000": big, "team500": team})
    assert rows[2]["nfe_ratio_team500"] == pytest.approx(8 / 500)
    assert rows[2]["time_ratio_team500"] == pytest.approx(0.08 / 4.0)
    assert rows[1]["time_ratio_team500"] == pytest.approx(1.0)


def test_steps_end_to_end_and_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    store = tiny_store(tmp_path)
    train_tiny(tmp_path / "runs", store, ("unet", "cfm"))
    argv = ["--checkpoints", str(tmp_path / "runs"), "--store", str(store), "--members", "2", "--out",
            str(tmp_path / "out"), "--flow-grid", "euler:1,2", "--max-samples", "3"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| cfm | euler | 2 | 2 |" in printed and "| unet | mean | 1 | 1 |" in printed
    doc = json.loads((tmp_path / "out" / "steps.json").read_text())
    assert [r["name"] for r in doc["rows"]] == ["cfm-euler1", "cfm-euler2", "unet-mean"]
    assert all(r["n_fields"] == 3 and not r["resumed"] for r in doc["rows"])
    cfm2 = doc["rows"][1]
    assert cfm2["nfe_ratio_ddpm1000"] == pytest.approx(2 / 1000) and cfm2["nfe_ratio_team500"] == pytest.approx(2 / 500)
    assert doc["references"]["team500"]["nfe_source"].startswith("nominal")
    assert 0.0 <= cfm2["csi_0.1"] <= 1.0 and cfm2["member_fss"] is not None and doc["rows"][2]["member_fss"] is None
    assert (tmp_path / "out" / "steps.md").read_text().startswith("| model | sampler")
    assert not list((tmp_path / "out" / "predictions").glob("*.nc"))  # deleted after scoring
    stamp = (tmp_path / "out" / "scores" / "cfm-euler1.json").stat().st_mtime_ns
    assert main(argv) == 0
    again = json.loads((tmp_path / "out" / "steps.json").read_text())
    assert all(r["resumed"] for r in again["rows"])
    assert (tmp_path / "out" / "scores" / "cfm-euler1.json").stat().st_mtime_ns == stamp
    assert main(["--store", str(store), "--out", str(tmp_path / "x")]) == 2
    assert "no checkpoints" in capsys.readouterr().err
