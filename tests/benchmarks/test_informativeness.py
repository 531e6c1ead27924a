"""The benchmark's informativeness check: per split and draw scores, and the target verdicts."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from benchmarks import informativeness as inf
from qpeflow.config import PrepareConfig
from qpeflow.data.prepare import prepare


def _result(test_csi: list[float], gpi: float, bias1: dict[str, float]) -> dict:
    th = list(inf.THRESHOLDS)

    def group(csi: float, bias_at_1: float) -> dict:
        scores = {"csi": [csi] * len(th), "pod": [0.5] * len(th), "far": [0.5] * len(th), "bias": [1.0] * len(th)}
        scores["bias"][th.index(1.0)] = bias_at_1
        return {"learner": scores, "gpi": {**scores, "csi": [gpi] * len(th)}, "best_ir108": scores}

    splits = {}
    for name, b in bias1.items():
        draws = test_csi if name == "test" else [0.3, 0.3]
        splits[name] = {"all": group(float(np.mean(draws)), b), "draws": {d: group(c, b) for d, c in enumerate(draws)}}
    return {"thresholds": th, "splits": splits}


def test_targets_line_says_met_or_missed_with_the_numbers() -> None:
    good = inf.targets_line(_result([0.42, 0.44], 0.2, {"train": 1.0, "val": 0.9, "test": 1.2}))
    assert "MISSED" not in good and "test CSI@0.1 0.430" in good and "spread (max-min) 0.020" in good
    bad = inf.targets_line(_result([0.3, 0.7], 0.45, {"train": 1.0, "val": 0.5, "test": 1.2}))
    assert bad.count("MISSED") == 3  # spread 0.4, GPI only 0.05 below, val bias 0.5
    assert "test CSI@0.1 0.500 in 0.35-0.50: met" in bad


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_check_runs_on_a_tiny_store_and_scores_every_split_and_draw(tmp_path) -> None:
    cfg = PrepareConfig(n_events=5, patch=24, patches_per_frame=2, seed=3, draws_train=2, draws_eval=2)
    store = prepare(cfg, tmp_path / "s.zarr", progress=False).path
    result = inf.run(store, steps=5, crop=16, seed=0, by_event=True)
    assert set(result["splits"]) == {"train", "val", "test"}
    for entry in result["splits"].values():
        assert sorted(entry["draws"]) == [0, 1]
        for g in (entry["all"], *entry["draws"].values()):
            for name in ("learner", "gpi", "best_ir108"):
                csi = np.array(g[name]["csi"], float)
                assert np.all((csi[np.isfinite(csi)] >= 0) & (csi[np.isfinite(csi)] <= 1))
    assert inf.table(result).count("\n") > 10 and "targets:" in inf.targets_line(result)
    ds = xr.open_zarr(store)
    assert sorted(result["events"]) == sorted(set(ds["event"].values.astype(str)))
    for sp, entry in result["splits"].items():  # each split names the events it holds
        assert entry["events"] == sorted(set(ds["event"].values[ds["split"].values == sp].astype(str)))
    assert all(sorted(d) == [0, 1] for d in result["events"].values())
    assert len(inf.event_table(result["events"]).splitlines()) == len(result["events"])
