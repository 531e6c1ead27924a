"""Target grids of `qpeflow estimate`: OPERA crop to a footprint, coarsening, YAML grid files, lon/lat boxes."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from qpeflow.errors import QpeflowError
from qpeflow.io.grid import OPERA_CRS, Grid
from qpeflow.io.target_grid import OPERA_GRID, coarsen, grid_from_file, target_grid

SOURCE = Grid("+proj=laea +lat_0=52 +lon_0=5 +ellps=WGS84 +units=m", -100e3, 3000.0, 100e3, -3000.0, (60, 70))


def test_opera_grid_matches_odim_corners() -> None:
    assert OPERA_GRID.shape == (2200, 1900) and OPERA_GRID.extent == (0.0, -4.4e6, 3.8e6, 0.0)
    lon, lat = OPERA_GRID.crop(0, 0, 1, 1).lonlat()
    assert abs(lon[0, 0] + 39.5) < 0.1 and abs(lat[0, 0] - 67.0) < 0.1  # ODIM UL corner about (-39.54, 67.02)


def test_opera_crop_covers_footprint_and_is_coarsened() -> None:
    grid = target_grid("opera", SOURCE, resolution_km=4.0)
    assert grid.dx == 4000.0 and grid.crs == OPERA_CRS
    assert (grid.x0 / 2000.0).is_integer() and (grid.y0 / 2000.0).is_integer()  # aligned with OPERA pixels
    lon, lat = SOURCE.lonlat()
    lon_t, lat_t = grid.lonlat()
    assert lon_t.min() <= lon.min() + 0.1 and lon_t.max() >= lon.max() - 0.1
    assert lat_t.min() <= lat.min() + 0.1 and lat_t.max() >= lat.max() - 0.1
    assert target_grid("native", SOURCE, resolution_km=4.0) == SOURCE  # round(4 / 3) = 1


def test_grid_file_extent_or_corner(tmp_path) -> None:
    a = tmp_path / "a.yaml"
    a.write_text(yaml.safe_dump({"crs": OPERA_CRS, "extent": [0, -40000, 80000, 0], "shape": [10, 20]}))
    b = tmp_path / "b.yaml"
    b.write_text(yaml.safe_dump(Grid(OPERA_CRS, 0.0, 4000.0, 0.0, -4000.0, (10, 20)).to_attrs()))
    assert grid_from_file(a) == grid_from_file(b) == Grid(OPERA_CRS, 0.0, 4000.0, 0.0, -4000.0, (10, 20))
    bad = tmp_path / "bad.yaml"
    bad.write_text("crs: x\n")
    with pytest.raises(QpeflowError, match="bad.yaml: grid file needs"):
        grid_from_file(bad)
    with pytest.raises(QpeflowError, match="expected opera, native or an existing YAML grid file"):
        target_grid(str(tmp_path / "absent.yaml"), SOURCE)


def test_bbox_and_no_overlap() -> None:
    grid = target_grid("opera", SOURCE, resolution_km=4.0, bbox=(4.0, 51.5, 6.0, 52.5))
    lon, lat = grid.lonlat()
    assert lon.min() > 3.5 and lon.max() < 6.5 and lat.min() > 51.0 and lat.max() < 53.0
    far = Grid("+proj=laea +lat_0=-30 +lon_0=140 +ellps=WGS84 +units=m", 0, 1000.0, 0, -1000.0, (5, 5))
    with pytest.raises(QpeflowError, match="do not cover any part of the target grid"):
        target_grid("opera", far, where="sat.nat")


def test_coarsen_drops_incomplete_blocks() -> None:
    g = coarsen(Grid(OPERA_CRS, 0.0, 2000.0, 0.0, -2000.0, (5, 7)), 2)
    assert g.shape == (2, 3) and g.dx == 4000.0 and np.allclose(g.extent, (0.0, -8000.0, 12000.0, 0.0))
