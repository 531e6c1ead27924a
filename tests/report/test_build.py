"""qpeflow.report.build: comparison table, data-source line, figures and a browser-renderable page.

(a) unit: hand-made scores JSON files written here per the scores schema (DESIGN.md,
"Evaluation") plus a tiny predictions netCDF -> report; (b) integration: synthetic
perfect / smooth / shifted predictions -> ``qpeflow evaluate`` -> report, checking that
the table ranks them as the physics says (skipped while qpeflow.evaluate is absent).
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from PIL import Image

from qpeflow.errors import QpeflowError
from qpeflow.report.build import build_report, data_source_text
from qpeflow.report.maps import read_examples
from qpeflow.report.table import ScoresFile, comparison_table, load_scores
from tests.writers.predictions import make_ir_baseline_predictions

THRESHOLDS = [0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0]
SCALES = [1, 2, 4, 8, 16, 32, 64]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _scalar(name, value, on, threshold=None, scale=None, reason=None):
    return {
        "name": name,
        "value": value,
        "threshold": threshold,
        "scale": scale,
        "on": on,
        "definition": f"definition of {name}",
        "reason": reason if value is None else None,
    }


def scores_doc(
    name: str,
    method: str,
    members: int,
    predictions: str,
    skill: float,
    mae: float,
    p99: float,
    rapsd: float,
    nfe: int | None,
    steps: int | None = None,
) -> dict:
    """A scores document per the schema; ``skill`` in (0, 1] scales the skill curves."""
    ens = members > 1
    na = None if ens else "deterministic model (1 member)"
    s = []
    for on in ("member1", "ensemble_mean"):
        for t in THRESHOLDS:
            s += [
                _scalar("csi", skill / (1 + t / 10), on, t),
                _scalar("hss", skill * 0.9, on, t),
                _scalar("bias", 1.0 + (1 - skill) * (t / 5), on, t),
            ]
        s += [_scalar("fss", min(1.0, skill * (0.5 + k / 8)), on, t, k) for t in (1.0, 5.0, 10.0) for k in SCALES]
        s += [_scalar("mae", mae, on), _scalar("rmse", mae * 1.8, on)]
    s += [
        _scalar("p99_ratio", p99, "pooled"),
        _scalar("w1_log", (1 - skill) + 0.01, "pooled"),
        _scalar("rapsd_small_scale_ratio", rapsd, "member1"),
    ]
    s += [
        _scalar("crps", mae * 0.7 if ens else None, "ensemble", reason=na),
        _scalar("spread_skill", 0.8 if ens else None, "ensemble", reason=na),
        _scalar("member_fss", skill if ens else None, "ensemble", reason=na),
        _scalar("centroid_spread", 3.0 * (1 - skill) if ens else None, "ensemble", reason=na),
        _scalar("nfe", nfe, "pooled", reason="not recorded in the predictions file"),
        _scalar("seconds_per_field", 0.05 * (nfe or 0.01), "pooled"),
    ]
    meta = {
        "name": name,
        "predictions": predictions,
        "method": method,
        "nfe": nfe,
        "steps": steps,
        "sampler": "euler" if ens else None,
        "members": members,
        "n_fields": 6,
        "data_source": "radar:knmi",
        "infrared": "simulated",
        "events": ["knmi_20180824", "knmi_20190606"],
        "seconds_per_member": 0.01,
        "seconds_per_field": 0.05,
        "qpeflow_version": "0.1.0",
    }
    return {"meta": meta, "scalars": s, "curves": curves_doc(members, skill, p99, rapsd)}


def curves_doc(members: int, skill: float, p99: float, rapsd: float) -> dict:
    """Every curve of the schema, shaped by the same knobs as :func:`scores_doc`."""
    ens = members > 1
    lam = [64.0, 32.0, 16.0, 8.0, 4.0, 2.0]
    ratio = [1.0, 1.0, 0.95, rapsd * 1.2, rapsd, rapsd * 0.8]
    q = [0.5, 0.9, 0.95, 0.99, 0.999]
    tq = [0.0, 1.0, 3.0, 10.0, 30.0]
    curves = {
        "csi_vs_threshold": {
            "x": THRESHOLDS,
            "x_label": "threshold (mm/h)",
            "definition": "CSI",
            "series": {
                "member1": [skill / (1 + t / 10) for t in THRESHOLDS],
                "ensemble_mean": [skill / (1 + t / 8) for t in THRESHOLDS],
            },
        },
        "bias_vs_threshold": {
            "x": THRESHOLDS,
            "x_label": "threshold (mm/h)",
            "definition": "bias",
            "series": {"member1": [1.0 + (1 - skill) * t / 5 for t in THRESHOLDS], "ensemble_mean": [1.2] * 6 + [None]},
        },
        "rapsd": {
            "x": lam,
            "x_label": "wavelength (px)",
            "definition": "RAPSD",
            "series": {
                "truth": [10 ** (2 - i) for i in range(6)],
                "prediction": [10 ** (2 - i) * r for i, r in enumerate(ratio)],
            },
        },
        "rapsd_ratio": {"x": lam, "x_label": "wavelength (px)", "definition": "ratio", "series": {"ratio": ratio}},
        "histogram": {
            "x": [0.15, 0.5, 1.5, 5.0, 15.0, 50.0],
            "x_label": "rain rate (mm/h)",
            "definition": "hist",
            "series": {"truth": [0.4, 0.3, 0.15, 0.1, 0.04, 0.01], "prediction": [0.4, 0.3, 0.2, 0.08, 0.02, 0.0]},
        },
        "qq": {
            "x": q,
            "x_label": "quantile level",
            "definition": "qq",
            "series": {"truth": tq, "prediction": [v * p99 for v in tq]},
        },
        "rank_histogram": {
            "x": list(range(members + 1)),
            "x_label": "rank",
            "definition": "rank",
            "series": {"frequency": [1 / (members + 1)] * (members + 1) if ens else [None, None]},
        },
        "spread_skill": {
            "x": [0.5, 1.0, 2.0],
            "x_label": "spread (mm/h)",
            "definition": "ss",
            "series": {"rmse": [0.6, 1.3, 2.4] if ens else [None] * 3},
        },
    }
    for t in (1, 5, 10):
        curves[f"fss_vs_scale_{t}"] = {
            "x": SCALES,
            "x_label": "scale (px)",
            "definition": "FSS",
            "series": {
                "member1": [min(1.0, skill * (0.5 + k / 8)) for k in SCALES],
                "ensemble_mean": [min(1.0, skill * (0.6 + k / 8)) for k in SCALES],
            },
        }
    for t in (1, 5):
        curves[f"reliability_{t}"] = {
            "x": [0.1, 0.5, 0.9],
            "x_label": "p",
            "definition": "rel",
            "series": {"observed_frequency": [0.15, 0.5, 0.8] if ens else [None] * 3, "count": [10, 5, 2]},
        }
    return curves


def write_predictions(path: Path, method: str, members: int, seed: int = 0, n: int = 6, size: int = 32) -> Path:
    """A tiny predictions netCDF per the file contract (member, time, y, x)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    truth = np.stack([20 * np.exp(-((yy - 8 - 3 * i) ** 2 + (xx - 16) ** 2) / 30.0) for i in range(n)])
    truth[truth < 0.05] = 0.0
    rain = np.stack([np.roll(truth, rng.integers(-3, 4), axis=-1) for _ in range(members)]).astype("f4")
    mask = np.ones_like(truth, dtype="i1")
    mask[:, :, :4] = 0
    ir = (280.0 - 4.0 * np.log1p(truth) * 10).astype("f4")
    ds = xr.Dataset(
        {
            "rain_rate": (("member", "time", "y", "x"), rain),
            "truth": (("time", "y", "x"), truth.astype("f4")),
            "mask": (("time", "y", "x"), mask),
            "ir_108": (("time", "y", "x"), ir),
        },
        coords={
            "valid_time": ("time", np.datetime64("2018-08-24T12:00", "ns") + np.arange(n) * np.timedelta64(15, "m")),
            "event": ("time", ["knmi_20180824"] * n),
            "sample": ("time", np.arange(n)),
            "member": np.arange(members),
        },
        attrs={"method": method, "resolution_km": 2.0},
    )
    ds.to_netcdf(path)
    return path


@pytest.fixture(scope="module")
def scores_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four hand-made scores files (+ predictions) shared by the module; tests must not modify it."""
    tmp_path = tmp_path_factory.mktemp("report")
    out = tmp_path / "scores"
    out.mkdir()
    runs = [
        ("cfm_4", "cfm", 4, 0.8, 1.0, 0.9, 0.8, 8, 4),
        ("cfm_16", "cfm", 4, 0.85, 0.95, 0.97, 0.9, 32, 16),
        ("unet", "unet", 1, 0.7, 0.7, 0.5, 0.2, 1, None),
        ("gpi", "gpi", 1, 0.3, 2.0, 0.2, 0.1, 0, 0),
    ]
    for i, (name, method, m, skill, mae, p99, rapsd, nfe, steps) in enumerate(runs):
        # a baseline writes its own predictions file, like any model (method gpi, nfe 0)
        pred = (
            make_ir_baseline_predictions(tmp_path / "gpi.nc", tmp_path / "cfm_4.nc", "gpi")
            if method == "gpi"
            else write_predictions(tmp_path / f"{name}.nc", method, m, seed=i)
        )
        doc = scores_doc(name, method, m, str(pred), skill, mae, p99, rapsd, nfe, steps)
        (out / f"{name}.json").write_text(json.dumps(doc))
    return out


@pytest.fixture(scope="module")
def built(scores_dir: Path) -> Path:
    """The report of :func:`scores_dir`, built once for the module; returns index.html."""
    return build_report(scores_dir, scores_dir.parent / "report")


def _cell_html(page: str, row: str) -> list[str]:
    m = re.search(rf"<tr><td><span[^>]*></span>{row} <small>.*?</tr>", page)
    assert m is not None, f"row {row} missing"
    return re.findall(r"<td[^>]*>(.*?)</td>", m.group(0))[1:]


def test_report_table_and_data_source(scores_dir: Path, built: Path) -> None:
    page = built.read_text(encoding="utf-8")
    md = (built.parent / "report.md").read_text(encoding="utf-8")
    assert "Data source: radar:knmi" in page and "knmi_20180824" in page
    assert "pairs real radar rain with SIMULATED infrared" in page and "SIMULATED infrared" in md
    table = comparison_table(load_scores(scores_dir))
    assert table.rows == ("cfm_16", "cfm_4", "gpi", "unet")  # every row alike, by name
    # CSI@1 max -> cfm_16; MAE min -> unet; P99 ratio closest to 1 -> cfm_16; CRPS only ensembles
    assert [table.cell(r, "csi_1").best for r in table.rows] == [True, False, False, False]
    assert [table.cell(r, "mae").best for r in table.rows] == [False, False, False, True]
    assert table.cell("cfm_16", "p99_ratio").best and not table.cell("unet", "p99_ratio").best
    assert table.cell("unet", "crps").value is None
    assert table.cell("unet", "crps").reason == "deterministic model (1 member)"
    assert table.cell("gpi", "nfe").value == 0
    assert [c.key for c in table.columns][:5] == ["csi_0.1", "csi_1", "csi_5", "fss_5_16", "mae"]
    cfm16, unet = _cell_html(page, "cfm_16"), _cell_html(page, "unet")
    assert cfm16[1] == "<b>0.773</b>" and unet[1] == "0.636"  # CSI@1 = skill / 1.1
    assert unet[4] == "<b>0.7</b>"  # MAE
    assert 'title="CRPS: deterministic model (1 member)"' in page and "–<sup>" in page
    assert "**0.773**" in md and "| unet (unet) |" in md
    assert "definition of csi" in page and "closest to 1" in page
    head, details = page.split("<details>", 1)
    for header in ("CSI@0.1", "CSI@1", "CSI@5", "FSS@5mm/16px", "MAE", "CRPS", "NFE"):
        assert f">{header} " in head, header
    for header in ("HSS@1", "bias@1", "POD@10", "RMSE", "W1 log", "spread-skill", "Brier@5", "s/field"):
        assert f">{header} " in details and f">{header} " not in head, header


def test_report_figures_are_valid_pngs(built: Path) -> None:
    out = built.parent
    page = built.read_text(encoding="utf-8")
    refs = re.findall(r"<img src='([^']+)'", page)
    assert {
        "figures/example_maps_1.png",
        "figures/example_maps_2.png",
        "figures/example_maps_3.png",
        "figures/quality_vs_nfe.png",
        "figures/rank_histograms.png",
        "figures/rapsd.png",
        "figures/fss.png",
    } <= set(refs)
    for ref in refs:
        data = (out / ref).read_bytes()
        assert data[:8] == PNG_SIGNATURE, ref
        with Image.open(out / ref) as im:
            im.load()
            assert im.size[0] > 300 and im.size[1] > 200
            assert np.asarray(im.convert("L")).std() > 5, f"{ref} looks blank"
    assert not list(out.rglob("*.tmp")), "atomic writes left temp files"


CHECK_SCRIPT = """<script>
window.addEventListener("load", () => {
  const imgs = [...document.images];
  const table = document.querySelector("table");
  const report = {
    images: imgs.length,
    broken: imgs.filter((im) => !im.complete || im.naturalWidth === 0).map((im) => im.getAttribute("src")),
    table_rows: table ? table.rows.length : 0,
    table_width: table ? Math.ceil(table.getBoundingClientRect().right) : -1,
    viewport: document.documentElement.clientWidth,
  };
  const out = document.createElement("pre");
  out.id = "qpeflow-check";
  out.textContent = JSON.stringify(report);
  document.body.appendChild(out);
});
</script>"""


def chromium(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium with a fresh profile and no network side traffic."""
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1400,2400",
    ]
    return subprocess.run([browser, *flags, *args], check=True, timeout=180, capture_output=True, text=True)


def test_report_renders_in_headless_chromium(built: Path, tmp_path: Path) -> None:
    """Screenshot non-blank; in the DOM after load: the table, every image decoded, the table within 1400 px."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    assert browser is not None, "no chromium: `.ci/run` installs the Debian package (apt-get install -y chromium)"
    shot = tmp_path / "shot.png"
    chromium(browser, tmp_path / "profile1", f"--screenshot={shot}", built.resolve().as_uri())
    with Image.open(shot) as im:
        grey = np.asarray(im.convert("L"))
        assert im.size[0] == 1400 and grey.std() > 5, "the rendered page is blank"
    checked = built.with_name("browser_check.html")  # the page plus a script, beside it so images resolve
    checked.write_text(built.read_text(encoding="utf-8").replace("</body>", CHECK_SCRIPT + "</body>"))
    dom = chromium(
        browser, tmp_path / "profile2", "--virtual-time-budget=10000", "--dump-dom", checked.resolve().as_uri()
    ).stdout
    found = re.search(r'<pre id="qpeflow-check">(.*?)</pre>', dom)
    assert found is not None, "the check script did not run"
    report = json.loads(html.unescape(found.group(1)))
    assert report["images"] >= 8 and report["broken"] == [], report
    assert report["table_rows"] == 5, report  # header + four models
    assert report["table_width"] <= report["viewport"] <= 1400, f"the table scrolls sideways: {report}"
    # a broken image must be caught by the same check
    checked.write_text(checked.read_text().replace("figures/fss.png", "figures/missing.png"))
    dom = chromium(browser, tmp_path / "profile3", "--virtual-time-budget=10000", "--dump-dom", checked.as_uri()).stdout
    found = re.search(r'<pre id="qpeflow-check">(.*?)</pre>', dom)
    assert found is not None and json.loads(html.unescape(found.group(1)))["broken"] == ["figures/missing.png"]
    checked.unlink()


def test_report_bad_input_names_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from qpeflow.cli import main

    assert main(["report", str(tmp_path / "absent"), "-o", str(tmp_path / "report")]) == 2
    assert "absent: scores folder does not exist" in capsys.readouterr().err
    with pytest.raises(QpeflowError, match="no scores"):
        build_report(tmp_path, tmp_path / "report")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(QpeflowError, match="broken.json"):
        build_report(tmp_path, tmp_path / "report")
    (tmp_path / "broken.json").write_text(json.dumps({"meta": {}}))
    with pytest.raises(QpeflowError, match="lacks scalars, curves"):
        build_report(tmp_path, tmp_path / "report")


def test_report_survives_missing_predictions_and_nulls(scores_dir: Path, tmp_path: Path) -> None:
    scores_dir = Path(shutil.copytree(scores_dir, tmp_path / "scores"))
    doc = json.loads((scores_dir / "unet.json").read_text())
    doc["meta"]["predictions"] = str(tmp_path / "gone.nc")
    for s in doc["scalars"]:
        s["value"], s["reason"] = None, "no observed pixel > threshold"
    for c in doc["curves"].values():
        c["series"] = {k: [None] * len(v) for k, v in c["series"].items()}
    (scores_dir / "unet.json").write_text(json.dumps(doc))
    page = build_report(scores_dir, tmp_path / "report").read_text(encoding="utf-8")
    assert "gone.nc" in page and "not usable" in page
    assert _cell_html(page, "unet")[0].startswith("–<sup>")


def test_report_examples_one_row_per_model_from_its_own_file(scores_dir: Path) -> None:
    scores = load_scores(scores_dir)
    ex = read_examples([(s.name, s.meta["method"], Path(s.meta["predictions"])) for s in scores], 2, 1.0)
    assert ex is not None and len(ex.cases) == 2 and not ex.notes
    assert ex.models == ["cfm_16", "cfm_4", "gpi", "unet"] and ex.resolution_km == 2.0
    first = ex.cases[0].rows["cfm_16"]
    assert first.truth.shape == (32, 32)
    with xr.open_dataset(scores_dir.parent / "cfm_16.nc") as ds:
        wet = (ds["truth"] > 1).where(ds["mask"] > 0).mean(("y", "x")).values
    assert wet.max() == pytest.approx(float(((first.truth > 1) & first.mask).sum() / first.mask.sum()))
    gpi = ex.cases[0].rows["gpi"]  # read from gpi.nc itself: its rain is the GPI of its own IR
    assert gpi.member2 is None and gpi.prob is None and set(np.unique(gpi.member1)) <= {0.0, 3.0}
    np.testing.assert_array_equal(gpi.member1 == 3.0, gpi.ir_108 < 235.0)
    cfm = ex.cases[1].rows["cfm_16"]
    assert cfm.prob is not None and cfm.prob.min() >= 0 and cfm.prob.max() <= 1


def test_example_maps_one_figure_per_case_at_most_2000_px(built: Path) -> None:
    for k in (1, 2, 3):
        with Image.open(built.parent / "figures" / f"example_maps_{k}.png") as im:
            assert 1000 < im.size[0] <= 2000 and im.size[1] > 4 * 200  # four model rows
    assert not (built.parent / "figures" / "example_maps.png").exists()


def test_report_examples_skip_files_with_another_truth(scores_dir: Path, tmp_path: Path) -> None:
    other, preds = tmp_path / "other.nc", scores_dir.parent
    with xr.open_dataset(preds / "cfm_4.nc") as ds:
        ds = ds.load()
    ds["truth"] = ds["truth"] * 2.0 + 1.0
    ds.to_netcdf(other)
    ex = read_examples(
        [("cfm_4", "cfm", preds / "cfm_4.nc"), ("other", "cfm", other), ("wrong", "ddpm", preds / "cfm_16.nc")],
        2,
        1.0,
    )
    assert ex is not None and ex.models == ["cfm_4"]
    assert any("other" in n and "different truth" in n for n in ex.notes)
    assert any("wrong" in n and "holds method 'cfm'" in n for n in ex.notes)


def test_captions_and_columns_follow_the_evaluation_settings(tmp_path: Path) -> None:
    """Changing eval.fss_thresholds (and the scales) changes table, curves and captions consistently."""
    from qpeflow.config import EvalConfig
    from qpeflow.evaluate import evaluate
    from tests.writers.predictions import make_predictions

    pages = {}
    for label, cfg in (
        ("default", EvalConfig()),
        ("changed", EvalConfig(fss_thresholds=(2.0, 10.0, 20.0), fss_scales=(1, 3, 9), brier_thresholds=(2.0,))),
    ):
        pred = make_predictions(tmp_path / label / "noisy.nc", "noisy", n_time=3, members=2, size=24)
        evaluate(pred, tmp_path / label / "scores", cfg)
        index = build_report(tmp_path / label / "scores", tmp_path / label / "report", n_examples=1)
        pages[label] = index.read_text(encoding="utf-8")
    default, changed = pages["default"], pages["changed"]
    assert "FSS at 1, 5 and 10 mm/h against neighbourhood size 1, 2, 4, 8, 16, 32 and 64 px" in default
    assert "FSS at 2, 10 and 20 mm/h against neighbourhood size 1, 3 and 9 px" in changed
    assert "1, 5 and 10 mm/h" not in changed and "FSS@5mm/16px" in default and "FSS@10mm/9px" in changed
    assert ">CSI@2 " in changed and ">CSI@1 " not in changed.split("<details>")[0]
    assert "probability of exceeding 2 mm/h" in changed and "P(R &gt; 2 mm/h)" in changed
    assert "fss_vs_scale_20" in changed and "fss_vs_scale_5" not in changed


def _source_docs(*sources: tuple[str, str]) -> list:
    docs = []
    for i, (source, infrared) in enumerate(sources):
        doc = scores_doc(f"m{i}", "cfm", 2, "", 0.5, 1.0, 1.0, 1.0, 8)
        doc["meta"].update(data_source=source, infrared=infrared)
        docs.append(ScoresFile(Path(f"m{i}.json"), doc["meta"], doc["scalars"], doc["curves"]))
    return docs


def test_data_source_statement() -> None:
    text, warnings = data_source_text(_source_docs(("radar:knmi", "simulated")))
    assert "pairs real radar rain with SIMULATED infrared" in text and not warnings
    text, _ = data_source_text(_source_docs(("synthetic", "simulated")))
    assert "synthetic" in text and "real radar" not in text
    text, warnings = data_source_text(_source_docs(("pairs", "observed")))
    assert "observed SEVIRI" in text and "SIMULATED" not in text and not warnings
    _, warnings = data_source_text(_source_docs(("pairs", "observed"), ("radar:knmi", "simulated")))
    assert warnings and "not directly comparable" in warnings[0]


# ---------------------------------------------------------------- integration with evaluate


@pytest.mark.slow
def test_report_ranks_perfect_smooth_shifted(tmp_path: Path) -> None:
    from qpeflow.cli import main
    from tests.writers import predictions as fixture

    paths = []
    for kind in ("perfect", "smooth", "shifted"):
        paths.append(
            str(fixture.make_predictions(tmp_path / f"{kind}.nc", kind=kind, n_time=8, members=4, size=64, seed=0))
        )
    assert main(["evaluate", *paths, "-o", str(tmp_path / "scores")]) == 0
    assert main(["report", str(tmp_path / "scores"), "-o", str(tmp_path / "report")]) == 0
    table = comparison_table(load_scores(tmp_path / "scores"))
    assert table.rows == ("perfect", "shifted", "smooth")  # scores named after the file stems
    rows = table.rows

    def v(kind: str, key: str) -> float:
        value = table.cell(kind, key).value
        assert value is not None, (kind, key, table.cell(kind, key).reason)
        return value

    assert v("smooth", "mae") < v("shifted", "mae")
    far = {k: abs(np.log(v(k, "p99_ratio"))) for k in rows}
    assert far["smooth"] == max(far.values())
    far_rapsd = {k: abs(np.log(v(k, "rapsd_small_scale_ratio"))) for k in rows}
    assert far_rapsd["smooth"] == max(far_rapsd.values())
    assert v("shifted", "csi_1") == min(v(k, "csi_1") for k in rows)
    assert v("shifted", "member_fss") == min(v(k, "member_fss") for k in rows)
    assert table.cell("perfect", "csi_1").best and table.cell("perfect", "mae").best
    page = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert _cell_html(page, "perfect")[0] == "<b>1</b>" and not _cell_html(page, "smooth")[7].startswith("<b>")
    for ref in re.findall(r"<img src='([^']+)'", page):
        assert (tmp_path / "report" / ref).read_bytes()[:8] == PNG_SIGNATURE
