"""``qpeflow inspect``: one line per field, quick-look PNGs, bad input -> one line and exit 2."""

from __future__ import annotations

import re

import numpy as np
import pytest

from qpeflow.cli import main
from qpeflow.io.grid import OPERA_CRS, Grid
from tests.writers.odim import write_odim
from tests.writers.satip import write_satip

GRID = Grid(OPERA_CRS, 0.0, 2000.0, 0.0, -2000.0, (20, 24))
TIME = np.datetime64("2021-07-14T15:00", "s")


def test_inspect_odim_line_and_png(tmp_path, capsys):
    rain = np.zeros(GRID.shape, np.float32)
    rain[5:10, 5:10] = 4.0
    rain[:, :6] = np.nan  # a quarter has no coverage
    path = tmp_path / "comp.h5"
    write_odim(path, rain, GRID, TIME)
    png = tmp_path / "look.png"
    assert main(["inspect", str(path), "--png", str(png)]) == 0
    out = capsys.readouterr().out.splitlines()
    line = out[0]
    assert "format=odim" in line and "rain_rate [mm/h]" in line and "time=2021-07-14T15:00:00" in line
    assert "grid=20x24 @ 2x2km" in line and "crs=laea" in line and "coverage=75.0%" in line
    assert "min/mean/max=0/" in line and "/4  " in line
    assert f"rain>0.1={100 * 20 / (20 * 18):.2f}%" in line
    assert png.exists() and png.read_bytes()[:4] == b"\x89PNG"


def test_inspect_satip_two_channels_two_pngs(tmp_path, capsys):
    path = tmp_path / "202312201200.zarr.zip"
    write_satip(path, np.full((6, 7, 2), 600, np.int16), ["IR_108", "WV_062"], TIME)
    assert main(["inspect", str(path), "--channel", "IR_108", "--png", str(tmp_path / "sat.png")]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if "format=" in ln]
    assert len(lines) == 1 and "IR_108  brightness_temperature [K]" in lines[0] and "rain>" not in lines[0]
    assert main(["inspect", str(path), "--png", str(tmp_path / "both.png")]) == 0
    assert sorted(p.name for p in tmp_path.glob("both_*.png")) == ["both_00_IR_108.png", "both_01_WV_062.png"]


def test_inspect_bad_file_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "junk.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    assert main(["inspect", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("qpeflow: error: ") and str(bad) in err[0]


REAL = [
    ("radar/OPERA/20180824/T_PAAH21_C_EUOC_20180824180000.hdf", r"format=odim .*grid=2200x1900 @ 2x2km  crs=laea"),
    ("radar/KNMI/2010/08/RAD_NL25_RAP_5min_201008260600.h5", r"format=knmi .*grid=765x700 @ 1x1km  crs=stere"),
    ("radar/mch/20160711/AQC161932225V_00005.801.gif", r"format=mch_gif .*grid=640x710 @ 1x1km  crs=somerc"),
    ("radar/fmi/pgm/20160928/201609281625_fmi.radar.composite.lowest_FIN_SUOMI1.pgm.gz", r"format=fmi_pgm .*crs=stere"),
    ("radar/bom/prcp-c10/66/2020/10/31/66_20201031_120000.prcp-c10.nc", r"format=bom_nc .*grid=512x512 @ 0.5x0.5km"),
    ("seviri/satip-uk-20231220/202312201200.zarr.zip", r"format=satip_zarr .*IR_108 .*grid=229x574 @ 3x3km  crs=geos"),
    ("seviri/hrit-msg2-20101011", r"format=seviri_hrit .*IR_108 .*crs=geos"),
]


@pytest.mark.parametrize("relative, pattern", REAL, ids=[r[1].split()[0] for r in REAL])
def test_inspect_every_real_family(real_data, capsys, relative, pattern):
    path = real_data(relative)
    assert main(["inspect", str(path), "--channel", "IR_108"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and re.search(pattern, lines[0]), lines
    if "rain_rate" in lines[0]:
        coverage = float(re.search(r"coverage=([\d.]+)%", lines[0]).group(1))
        assert 20 <= coverage <= 100
    if "format=odim" in lines[0]:  # OPERA 2018-08-24 18:00: ~50 % no coverage, ~1200 mm/h spike
        assert "coverage=50.1%" in lines[0] and "/1205  " in lines[0]
