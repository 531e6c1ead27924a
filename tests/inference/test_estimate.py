"""`qpeflow estimate` end to end on the REAL Satip rapid-scan sequence with a tiny checkpoint trained here,
the HRIT path, and every bad input (one-line QpeflowError naming the file, no output file left)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pyproj
import pytest
import torch
import xarray as xr
import yaml

from qpeflow.cli import main
from qpeflow.config import load_config
from qpeflow.errors import QpeflowError
from qpeflow.inference.estimate import EstimateOptions, estimate_files
from qpeflow.io.grid import OPERA_CRS
from qpeflow.training.fit import fit
from tests.paths import CONFIGS
from tests.writers.satip import write_satip
from tests.writers.store import make_tiny_store, tiny_overrides

CONFIGS = CONFIGS
SATIP = "seviri/satip-uk-20231220"
HRIT = "seviri/hrit-msg2-20101011"
FIVE = ["IR_108", "IR_120", "WV_062", "WV_073", "IR_087"]


def _train(tmp: Path, T: int, C: int) -> Path:
    store = make_tiny_store(tmp / "tiny.zarr", n=16, T=T, C=C, size=32)
    cfg = load_config(
        CONFIGS / "cfm.yaml",
        [
            *tiny_overrides(store, tmp / "run", 2),
            f"data.time_steps={T}",
            f"data.channels={json.dumps(FIVE[:C])}",
            "model.attention=false",
        ],
    )
    return fit(cfg).checkpoint


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny CFM checkpoint: 5 channels, T = 4 frames at 15 min, trained on simulated IR at 4 km."""
    return _train(tmp_path_factory.mktemp("ckpt5"), 4, 5)


def _grid_file(path: Path, crs: str, lon: float, lat: float, shape: tuple[int, int] = (36, 44)) -> Path:
    """A YAML grid file of 4 km pixels centred on (lon, lat)."""
    x, y = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
    h, w = shape[0] * 2000.0, shape[1] * 2000.0
    path.write_text(yaml.safe_dump({"crs": crs, "extent": [x - w, y - h, x + w, y + h], "shape": list(shape)}))
    return path


def _frames(satip: Path, hhmm: list[str]) -> list[str]:
    return [str(satip / f"20231220{s}.zarr.zip") for s in hhmm]


def test_estimate_real_satip_sequence_cli(ckpt: Path, tmp_path: Path, real_data) -> None:
    satip = real_data(SATIP)
    files = sorted(str(p) for p in satip.glob("*.zarr.zip"))  # 12 frames at 5 min -> subsampled to 15 min
    out, png = tmp_path / "rain.nc", tmp_path / "rain.png"
    rc = main(
        [
            "estimate",
            "--checkpoint",
            str(ckpt),
            "--sat",
            *files,
            "--grid",
            "opera",
            "--bbox",
            "-3.5",
            "53.5",
            "-1.5",
            "54.5",
            "--members",
            "2",
            "--steps",
            "2",
            "--tile",
            "32",
            "--overlap",
            "8",
            "-o",
            str(out),
            "--png",
            str(png),
        ]
    )
    assert rc == 0 and out.is_file() and png.stat().st_size > 10_000
    ds = xr.open_dataset(out)
    assert ds.attrs["Conventions"] == "CF-1.8"
    assert ds["rain_rate"].dims == ("member", "y", "x") and ds.sizes["member"] == 2
    assert ds["rain_rate"].attrs["units"] == "mm h-1" and ds["rain_rate"].attrs["grid_mapping"] == "crs"
    assert ds["crs"].attrs["grid_mapping_name"] == "lambert_azimuthal_equal_area"
    assert ds["lon"].dims == ("y", "x") and ds["lat"].dims == ("y", "x")
    assert -4 < float(ds["lon"].mean()) < -1 and 53 < float(ds["lat"].mean()) < 55
    assert float(ds["x"][1] - ds["x"][0]) == 4000.0  # OPERA 2 km coarsened to the 4 km training resolution
    rain = ds["rain_rate"].values
    assert np.isfinite(rain).all() and (rain >= 0).all()
    prob = ds["probability_of_exceedance"]
    assert list(prob["threshold"].values) == pytest.approx([0.1, 1.0, 5.0])
    assert ((prob.values >= 0) & (prob.values <= 1)).all()
    np.testing.assert_allclose(ds["rain_rate_mean"].values, rain.mean(axis=0), rtol=1e-5, atol=1e-6)
    assert str(ds["time"].values)[:16] == "2023-12-20T12:30"
    assert json.loads(ds.attrs["input_times"]) == [
        "2023-12-20T11:45:00",
        "2023-12-20T12:00:00",
        "2023-12-20T12:15:00",
        "2023-12-20T12:30:00",
    ]
    assert len(json.loads(ds.attrs["input_files"])) == 4 and ds.attrs["infrared"] == "simulated"
    assert json.loads(ds.attrs["training_data"])["resolution_km"] == 4.0
    assert list(np.atleast_1d(ds.attrs["seeds"])) == [0] and int(ds.attrs["nfe"]) >= 2
    assert "SeedSequence([seed, m, k])" in ds.attrs["seeding"]
    assert ds.attrs["checkpoint"] == str(ckpt) and ds.attrs["platform"] == "Meteosat-11"
    assert ds.attrs["method"] == "cfm" and "laea" in ds.attrs["grid_crs"] and "SIMULATED" in ds.attrs["comment"]
    assert float(ds["ir_108"].min()) > 200 and float(ds["ir_108"].max()) < 300
    ds.close()


def test_estimate_grid_file_reproducible(ckpt: Path, tmp_path: Path, real_data) -> None:
    satip = real_data(SATIP)
    files = _frames(satip, ["1135", "1150", "1205", "1220", "1230"])
    grid = _grid_file(tmp_path / "grid.yaml", OPERA_CRS, -2.0, 54.0, (20, 28))
    opts = EstimateOptions(
        grid=str(grid), members=2, steps=1, tile=32, overlap=8, seed=5, valid_time="2023-12-20T12:20"
    )
    a = xr.open_dataset(estimate_files(ckpt, files, tmp_path / "a.nc", opts))
    b = xr.open_dataset(estimate_files(ckpt, files, tmp_path / "b.nc", opts))
    assert a["rain_rate"].shape == (2, 20, 28) and str(a["time"].values)[:16] == "2023-12-20T12:20"
    np.testing.assert_array_equal(a["rain_rate"].values, b["rain_rate"].values)
    assert not np.array_equal(a["rain_rate"].values[0], a["rain_rate"].values[1])  # members differ
    a.close()
    b.close()


def _fake_frame(
    path: Path, stamp: str, channels: list[str], platform: str = "Meteosat-11", cold_pixel: str | None = None
) -> str:
    """A small Satip-layout frame; counts 800 give plausible BT in every IR channel."""
    counts = np.full((30, 40, len(channels)), 800, np.int16)
    if cold_pixel:
        counts[5, 5, channels.index(cold_pixel)] = 0  # IR_120 count 0 = -17 K
    write_satip(path, counts, channels, np.datetime64(stamp))
    if platform != "Meteosat-11":  # rewrite the platform in every metadata member of the zip
        with zipfile.ZipFile(path) as zf:
            members = {n: zf.read(n) for n in zf.namelist()}
        with zipfile.ZipFile(path, "w") as zf:
            for name, blob in members.items():
                zf.writestr(name, blob.replace(b"Meteosat-11", platform.encode()) if "." in name else blob)
    return str(path)


def _bad_cases(satip: Path, tmp: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (satellite files, the file the error must name)."""
    four = _frames(satip, ["1145", "1200", "1215", "1230"])
    mixed = _fake_frame(tmp / "mixed.zarr.zip", "2023-12-20T12:30", FIVE, platform="Meteosat-10")
    cold = _fake_frame(tmp / "cold.zarr.zip", "2023-12-20T12:30", FIVE, cold_pixel="IR_120")
    lacking = _fake_frame(tmp / "lacking.zarr.zip", "2023-12-20T12:30", ["IR_108", "IR_120"])
    ten = _frames(satip, ["1140", "1150", "1200", "1210", "1220", "1230"])
    return {
        "missing slot": ([four[0], four[2], four[3]], four[3]),
        "wrong cadence": (ten, str(satip)),
        "missing channel": ([*four[:3], lacking], lacking),
        "mixed satellites": ([*four[:3], mixed], mixed),
        "BT out of range": ([*four[:3], cold], cold),
    }


@pytest.mark.parametrize(
    "case", ["missing slot", "wrong cadence", "missing channel", "mixed satellites", "BT out of range"]
)
def test_bad_satellite_input(case: str, ckpt: Path, tmp_path: Path, real_data, capsys) -> None:
    files, named = _bad_cases(real_data(SATIP), tmp_path)[case]
    out = tmp_path / "out" / "rain.nc"
    rc = main(
        [
            "estimate",
            "--checkpoint",
            str(ckpt),
            "--sat",
            *files,
            "--grid",
            "opera",
            "--bbox",
            "-4",
            "53",
            "-1",
            "55",
            "--members",
            "1",
            "--steps",
            "1",
            "-o",
            str(out),
        ]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("qpeflow: error: ") and "\n" not in err, err
    assert named in err, err
    words = {
        "missing slot": "missing slot",
        "wrong cadence": "min apart",
        "missing channel": "WV_062",
        "mixed satellites": "Meteosat-10",
        "BT out of range": "IR_120",
    }
    assert words[case] in err, err
    assert not out.exists() and not any(out.parent.glob("*")) if out.parent.exists() else True


def test_checkpoint_of_another_version(ckpt: Path, tmp_path: Path, real_data) -> None:
    payload = torch.load(ckpt, map_location="cpu", weights_only=True)
    payload["format_version"] = 999
    old = tmp_path / "future.pt"
    torch.save(payload, old)
    out = tmp_path / "rain.nc"
    with pytest.raises(QpeflowError, match="future.pt"):
        estimate_files(old, _frames(real_data(SATIP), ["1145", "1200", "1215", "1230"]), out)
    assert not out.exists() and not list(tmp_path.glob(".rain.nc*"))


def test_hrit_single_slot(ckpt: Path, tmp_path: Path, real_data) -> None:
    """HRIT segments (one slot, IR_108) with an IR_108-only, single-frame checkpoint; a T=4, C=5 one refuses."""
    pytest.importorskip("satpy")
    hrit = real_data(HRIT)
    one = _train(tmp_path / "t1", 1, 1)
    grid = _grid_file(tmp_path / "g.yaml", "+proj=laea +lat_0=0 +lon_0=10 +ellps=WGS84 +units=m", 10.0, 0.0, (24, 24))
    out = estimate_files(
        one,
        [str(p) for p in sorted(hrit.iterdir())],
        tmp_path / "hrit.nc",
        EstimateOptions(grid=str(grid), members=2, steps=2, tile=32, overlap=8),
    )
    ds = xr.open_dataset(out)
    assert ds["rain_rate"].shape == (2, 24, 24) and np.isfinite(ds["rain_rate"].values).all()
    assert ds.attrs["platform"] == "Meteosat-9" and str(ds["time"].values)[:13] == "2010-10-11T14"
    assert float(ds["ir_108"].min()) > 180 and float(ds["ir_108"].max()) < 320
    ds.close()
    # the T=4, C=5 checkpoint cannot use one slot of IR_108 only: a one-line error naming the folder
    with pytest.raises(QpeflowError, match="hrit-msg2-20101011: channel 'IR_120' not in file"):
        estimate_files(ckpt, [str(hrit)], tmp_path / "no.nc", EstimateOptions(grid=str(grid)))
    assert not (tmp_path / "no.nc").exists()


def test_tiled_real_unet_close_to_whole_field(ckpt: Path) -> None:
    """The trained U-Net (GroupNorm, so tile statistics differ a little) tiled vs on the whole field."""
    from qpeflow.inference.estimator import load_estimator
    from qpeflow.inference.tiling import estimate_tiled

    est = load_estimator(ckpt, "cpu")
    g = torch.Generator().manual_seed(0)
    cond = 3 * torch.nn.functional.avg_pool2d(torch.randn(20, 1, 192, 224, generator=g), 4, 2, 1)
    cond = cond[:, 0].reshape(4, 5, 96, 112)

    def fn(x: torch.Tensor) -> torch.Tensor:  # deterministic: the velocity at x = 0, t = 0.5
        return est.net(torch.zeros(x.shape[0], 1, *x.shape[-2:]), torch.full((x.shape[0],), 0.5), x)[None]

    with torch.no_grad():
        whole = fn(cond[None])[0, 0, 0].numpy()[8:-8, 8:-8]
    tiled = estimate_tiled(fn, cond, tile=64, overlap=16, progress=False)[0, 8:-8, 8:-8]
    assert np.corrcoef(tiled.ravel(), whole.ravel())[0, 1] > 0.98
    assert np.abs(tiled - whole).mean() < 0.1 * whole.std()
