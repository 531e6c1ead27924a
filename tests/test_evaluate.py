"""qpeflow evaluate: scores files from synthetic predictions, their ranking, IR baselines as rows alike, bad input, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from qpeflow.cli import main
from qpeflow.config import EvalConfig
from qpeflow.errors import QpeflowError
from qpeflow.evaluate import evaluate
from tests.writers.predictions import make_ir_baseline_predictions, make_predictions

REQUIRED_BOTH_VIEWS = (
    "pod",
    "far",
    "csi",
    "hss",
    "ets",
    "bias",
    "fss",
    "mae",
    "rmse",
    "me",
    "pearson",
    "spearman",
    "mae_log",
    "rmse_log",
    "pearson_log",
)
REQUIRED_OTHER = (
    "w1_log",
    "p95_ratio",
    "p99_ratio",
    "p999_ratio",
    "max_ratio",
    "wet_fraction_ratio",
    "std_ratio",
    "rapsd_small_scale_ratio",
    "crps",
    "rank_flatness",
    "spread_skill",
    "brier",
    "member_fss",
    "centroid_spread",
    "nfe",
    "seconds_per_field",
)
CURVES = {
    "csi_vs_threshold": {"member1", "ensemble_mean"},
    "bias_vs_threshold": {"member1", "ensemble_mean"},
    "fss_vs_scale_1": {"member1", "ensemble_mean"},
    "fss_vs_scale_5": {"member1", "ensemble_mean"},
    "fss_vs_scale_10": {"member1", "ensemble_mean"},
    "rapsd": {"truth", "prediction"},
    "rapsd_ratio": {"ratio"},
    "histogram": {"truth", "prediction"},
    "qq": {"truth", "prediction"},
    "rank_histogram": {"frequency"},
    "spread_skill": {"rmse"},
    "reliability_1": {"observed_frequency", "count"},
    "reliability_5": {"observed_frequency", "count"},
}


def strict_load(path: Path) -> dict:
    def no_constant(name: str) -> None:
        raise AssertionError(f"{path} holds {name}")

    return json.loads(path.read_text(), parse_constant=no_constant)


def value(doc: dict, name: str, on: str | None = None, threshold: float | None = None, scale: int | None = None):
    hits = [
        s
        for s in doc["scalars"]
        if s["name"] == name and (on is None or s["on"] == on) and s["threshold"] == threshold and s["scale"] == scale
    ]
    assert len(hits) == 1, (name, on, threshold, scale, len(hits))
    return hits[0]["value"]


@pytest.fixture(scope="module")
def three(tmp_path_factory) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("evaluate")
    docs = {}
    for kind in ("perfect", "smooth", "shifted"):
        pred = make_predictions(root / f"{kind}.nc", kind, n_time=10, members=3, size=48, seed=1)
        docs[kind] = strict_load(evaluate(pred, root / "scores", EvalConfig(), chunk=4))
    for name in ("gpi", "autoestimator"):  # written as qpeflow predict writes a baseline's file
        pred = make_ir_baseline_predictions(root / f"{name}.nc", root / "perfect.nc", name)
        docs[name] = strict_load(evaluate(pred, root / "scores", EvalConfig(), chunk=4))
    return docs


def test_scores_file_follows_the_contract(three):
    doc = three["shifted"]
    meta = doc["meta"]
    assert meta["name"] == "shifted" and meta["members"] == 3 and meta["n_fields"] == 10 and meta["nfe"] == 1
    assert (
        meta["events"] == ["ev0", "ev1"] and meta["infrared"] == "simulated" and Path(meta["predictions"]).is_absolute()
    )
    assert meta["seconds_per_field"] == pytest.approx(1.5 / 10) and meta["seconds_per_member"] == pytest.approx(0.05)
    names = {(s["name"], s["on"]) for s in doc["scalars"]}
    for name in REQUIRED_BOTH_VIEWS:
        assert {(name, "member1"), (name, "ensemble_mean")} <= names, name
    assert {n for n, _ in names} >= set(REQUIRED_OTHER)
    assert len([s for s in doc["scalars"] if s["name"] == "fss" and s["on"] == "member1"]) == 21
    assert len([s for s in doc["scalars"] if s["name"] == "pod" and s["on"] == "ensemble_mean"]) == 7
    for s in doc["scalars"]:
        assert s["definition"] and (s["value"] is not None or s["reason"]), s
    for name, series in CURVES.items():
        curve = doc["curves"][name]
        assert series <= set(curve["series"]) and curve["definition"] and curve["x_label"]
        assert all(len(v) == len(curve["x"]) for v in curve["series"].values())


def test_ranking_of_perfect_smooth_shifted(three):
    p, sm, sh = three["perfect"], three["smooth"], three["shifted"]
    assert value(p, "mae", "member1") == 0.0 and value(p, "csi", "member1", 1.0) == 1.0
    assert value(p, "crps") == pytest.approx(0.0, abs=1e-9) and value(p, "fss", "member1", 5.0, 8) == pytest.approx(1.0)
    assert value(sm, "mae", "member1") < value(sh, "mae", "member1")
    assert value(sm, "p99_ratio") < min(value(sh, "p99_ratio"), value(p, "p99_ratio"))
    assert value(sm, "rapsd_small_scale_ratio") < min(value(sh, "rapsd_small_scale_ratio"), 0.5)
    assert value(sh, "csi", "member1", 1.0) < min(value(sm, "csi", "member1", 1.0), value(p, "csi", "member1", 1.0))
    assert value(sh, "member_fss", threshold=5.0, scale=8) < min(value(sm, "member_fss", threshold=5.0, scale=8), 0.9)
    assert value(sh, "centroid_spread", threshold=5.0) > 2.0 and value(p, "centroid_spread", threshold=5.0) == 0.0


def test_baselines_are_one_member_predictions(three):
    for name in ("gpi", "autoestimator"):
        doc = three[name]
        assert doc["meta"]["members"] == 1 and doc["meta"]["method"] == name and doc["meta"]["nfe"] == 0
        assert value(doc, "nfe") == 0 and doc["meta"]["steps"] == 0
        assert value(doc, "crps") == pytest.approx(value(doc, "mae", "member1"), rel=1e-9)
        assert value(doc, "spread_skill") is None
        assert 0.0 < value(doc, "csi", "member1", 1.0) < 1.0
    assert value(three["gpi"], "max_ratio") == pytest.approx(
        3.0 / max(three["perfect"]["curves"]["qq"]["series"]["truth"]), rel=0.5
    )


def test_chunking_does_not_change_the_scores(tmp_path):
    pred = make_predictions(tmp_path / "noisy.nc", "noisy", n_time=6, members=3, size=32)
    a = strict_load(evaluate(pred, tmp_path / "a", chunk=6))
    b = strict_load(evaluate(pred, tmp_path / "b", chunk=2))
    for sa, sb in zip(a["scalars"], b["scalars"]):
        assert sa["name"] == sb["name"]
        if sa["name"] not in ("rank_flatness",) and sa["value"] is not None:  # rank ties are broken at random
            assert sb["value"] == pytest.approx(sa["value"], rel=1e-9, abs=1e-12), sa["name"]


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_zero_rain_truth_gives_null_with_reasons(tmp_path):
    src = make_predictions(tmp_path / "p.nc", "noisy", n_time=3, members=2, size=32)
    ds = xr.load_dataset(src)
    ds["truth"] = ds["truth"] * 0.0
    ds.to_netcdf(tmp_path / "dry.nc")
    doc = strict_load(evaluate(tmp_path / "dry.nc", tmp_path / "scores"))
    pod = [s for s in doc["scalars"] if s["name"] == "pod"]
    assert all(s["value"] is None and "no observed pixel" in s["reason"] for s in pod)
    assert value(doc, "p99_ratio") is None and value(doc, "mae", "member1") > 0


def modified(tmp_path: Path, name: str, change) -> Path:
    ds = xr.load_dataset(make_predictions(tmp_path / "base.nc", "smooth", n_time=3, members=2, size=16))
    ds = change(ds)
    out = tmp_path / name
    ds.to_netcdf(out)
    return out


BAD = {
    "no_rain_rate.nc": (lambda ds: ds.drop_vars("rain_rate"), "no 'rain_rate'"),
    "no_truth.nc": (lambda ds: ds.drop_vars("truth"), "without the truth"),
    "no_member.nc": (lambda ds: ds.assign(rain_rate=ds["rain_rate"].isel(member=0)), r"holds \(member, time, y, x\)"),
    "truth_nan.nc": (lambda ds: ds.assign(truth=ds["truth"] * np.nan), "NaN or masked at every pixel"),
    "member_nan.nc": (
        lambda ds: ds.assign(rain_rate=ds["rain_rate"].where(ds["member"] == 0)),
        "member 1 at time index 0 is NaN",
    ),
    "truth_grid.nc": (lambda ds: ds.assign(truth=ds["truth"].rename(y="yy")), "'truth' has dimensions"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_predictions_name_the_file(tmp_path, name):
    change, message = BAD[name]
    path = modified(tmp_path, name, change)
    with pytest.raises(QpeflowError, match=message) as err:
        evaluate(path, tmp_path / "scores")
    assert str(path) in str(err.value)
    assert not (tmp_path / "scores" / f"{path.stem}.json").exists()


def test_separate_truth_file_must_share_grid_and_times(tmp_path):
    pred = make_predictions(tmp_path / "pred.nc", "smooth", n_time=4, members=2, size=16)
    other_size = make_predictions(tmp_path / "big.nc", "perfect", n_time=4, members=1, size=20)
    with pytest.raises(QpeflowError, match="grids or times differ") as err:
        evaluate(pred, tmp_path / "s", truth_path=other_size)
    assert str(other_size) in str(err.value)
    ds = xr.load_dataset(pred)
    ds["valid_time"] = ds["valid_time"] + np.timedelta64(1, "h")
    ds.to_netcdf(tmp_path / "later.nc")
    with pytest.raises(QpeflowError, match="times differ"):
        evaluate(pred, tmp_path / "s", truth_path=tmp_path / "later.nc")
    assert evaluate(pred, tmp_path / "s", truth_path=pred).is_file()


def test_missing_file_not_netcdf_and_no_ir(tmp_path):
    with pytest.raises(QpeflowError, match="not found"):
        evaluate(tmp_path / "nope.nc", tmp_path)
    (tmp_path / "junk.nc").write_text("not a netCDF file")
    with pytest.raises(QpeflowError, match="cannot read") as err:
        evaluate(tmp_path / "junk.nc", tmp_path)
    assert "junk.nc" in str(err.value)
    no_ir = modified(tmp_path, "no_ir.nc", lambda ds: ds.drop_vars("ir_108"))
    assert strict_load(evaluate(no_ir, tmp_path / "scores"))["meta"]["n_fields"] == 3  # ir_108 is optional


def test_scores_record_the_evaluation_settings(tmp_path):
    pred = make_predictions(tmp_path / "p.nc", "smooth", n_time=3, members=2, size=16)
    cfg = EvalConfig(fss_thresholds=(2.0, 8.0), fss_scales=(1, 4), brier_thresholds=(2.0,))
    doc = strict_load(evaluate(pred, tmp_path / "scores", cfg))
    settings = doc["meta"]["eval"]
    assert settings["fss_thresholds"] == [2.0, 8.0] and settings["fss_scales"] == [1, 4]
    assert settings["thresholds"] == list(cfg.thresholds) and settings["brier_thresholds"] == [2.0]
    assert {"localisation_threshold", "localisation_scale", "small_scale_px"} <= set(settings)
    assert sorted(
        s["threshold"] for s in doc["scalars"] if s["name"] == "fss" and s["scale"] == 4 and s["on"] == "member1"
    ) == [2.0, 8.0]


def test_cli_evaluate_treats_baseline_files_alike_and_bad_input(tmp_path, capsys):
    a = make_predictions(tmp_path / "a.nc", "smooth", n_time=3, members=2, size=16)
    gpi = make_ir_baseline_predictions(tmp_path / "gpi.nc", a, "gpi")
    assert main(["evaluate", str(a), str(gpi), "-o", str(tmp_path / "scores")]) == 0
    assert sorted(p.name for p in (tmp_path / "scores").glob("*.json")) == ["a.json", "gpi.json"]
    assert strict_load(tmp_path / "scores" / "gpi.json")["meta"]["method"] == "gpi"
    with pytest.raises(SystemExit):
        main(["evaluate", str(a), "-o", str(tmp_path / "scores"), "--baselines"])  # the special case is gone
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "missing.nc"), "-o", str(tmp_path / "scores")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("qpeflow: error:") and "missing.nc" in err and len(err.splitlines()) == 1


def _with_draws(src: Path, out: Path, draws: list[int]) -> Path:
    ds = xr.load_dataset(src)
    ds = ds.assign_coords(draw=("time", np.asarray(draws, dtype=np.int64)))
    ds.to_netcdf(out)
    return out


def _same_scalars(a: dict, b: dict) -> None:
    assert [s["name"] for s in a["scalars"]] == [s["name"] for s in b["scalars"]]
    for sa, sb in zip(a["scalars"], b["scalars"]):
        if sa["name"] == "rank_flatness":  # rank ties are broken at random, chunk by chunk
            continue
        if sa["value"] is None:
            assert sb["value"] is None, sa["name"]
        else:
            assert sb["value"] == pytest.approx(sa["value"], rel=1e-9, abs=1e-12), (sa["name"], sa["threshold"])


def test_scores_by_draw_equal_files_cut_by_hand(tmp_path):
    draws = [2, 0, 1, 0, 2, 1, 1, 0, 2]  # interleaved, across chunk boundaries
    base = make_predictions(tmp_path / "base.nc", "noisy", n_time=len(draws), members=3, size=32, seed=3)
    pred = _with_draws(base, tmp_path / "m.nc", draws)
    main_path = evaluate(pred, tmp_path / "scores", chunk=4, by="draw")
    doc = strict_load(main_path)
    _same_scalars(strict_load(evaluate(pred, tmp_path / "plain", chunk=4)), doc)  # all-fields scores unchanged
    groups = doc["groups"]
    assert groups["by"] == "draw" and groups["values"] == [0, 1, 2] and groups["n_fields"] == [3, 3, 3]
    assert groups["files"] == [f"by_draw/m.draw{k}.json" for k in range(3)]
    assert sorted(p.name for p in (tmp_path / "scores").glob("*.json")) == ["m.json"]  # one report row
    full = xr.load_dataset(pred)
    seconds = list(full.attrs["seconds_per_member"])
    per_draw = []
    for k in range(3):
        cut = full.isel(time=np.flatnonzero(np.asarray(draws) == k))
        cut.attrs = {**full.attrs, "seconds_per_member": [s * 3 / len(draws) for s in seconds]}  # its share
        cut.to_netcdf(tmp_path / f"cut{k}.nc")
        brute = strict_load(evaluate(tmp_path / f"cut{k}.nc", tmp_path / "brute", chunk=2))
        grouped = strict_load(tmp_path / "scores" / groups["files"][k])
        _same_scalars(brute, grouped)
        assert grouped["meta"]["n_fields"] == 3 and grouped["meta"]["group"] == {"by": "draw", "value": k}
        per_draw.append(brute)
    for entry in groups["scalars"]:
        if entry["name"] == "rank_flatness":
            continue
        vals = [value(d, entry["name"], entry["on"], entry["threshold"], entry["scale"]) for d in per_draw]
        if "class" in entry:
            continue  # several classes share (name, on, threshold) only through `class`; checked below
        finite = [v for v in vals if v is not None]
        assert entry["n"] == len(finite)
        if len(finite) > 1:
            assert entry["mean"] == pytest.approx(np.mean(finite), rel=1e-9, abs=1e-12)
            assert entry["std"] == pytest.approx(np.std(finite, ddof=1), rel=1e-6, abs=1e-12)
            assert entry["min"] == pytest.approx(min(finite)) and entry["max"] == pytest.approx(max(finite))
    classes = [e for e in groups["scalars"] if "class" in e]
    assert classes and all(len(e["values"]) == 3 for e in classes)


def test_scores_by_a_missing_coordinate_name_the_file(tmp_path, capsys):
    pred = make_predictions(tmp_path / "p.nc", "smooth", n_time=3, members=2, size=16)
    with pytest.raises(QpeflowError, match=r"p\.nc.*'draw'"):
        evaluate(pred, tmp_path / "scores", by="draw")
    assert not (tmp_path / "scores" / "p.json").exists()
    assert main(["evaluate", str(pred), "-o", str(tmp_path / "scores"), "--by", "draw"]) == 2
    err = capsys.readouterr().err.strip()
    assert "p.nc" in err and len(err.splitlines()) == 1


def test_cli_evaluate_by_draw(tmp_path, capsys):
    base = make_predictions(tmp_path / "b.nc", "shifted", n_time=4, members=2, size=16)
    pred = _with_draws(base, tmp_path / "m.nc", [0, 1, 0, 1])
    assert main(["evaluate", str(pred), "-o", str(tmp_path / "s"), "--by", "draw"]) == 0
    doc = strict_load(tmp_path / "s" / "m.json")
    assert doc["groups"]["n_fields"] == [2, 2]
    assert sorted(p.name for p in (tmp_path / "s" / "by_draw").glob("*.json")) == ["m.draw0.json", "m.draw1.json"]
    csi = next(e for e in doc["groups"]["scalars"] if e["name"] == "csi" and e["threshold"] == 1.0)
    assert csi["min"] <= csi["mean"] <= csi["max"] and len(csi["values"]) == 2
