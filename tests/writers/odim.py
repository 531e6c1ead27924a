"""Write small, valid ODIM HDF5 composites for tests (and for helpers building fake archives).

Usage::

    from tests.writers.odim import write_odim   # tests/ is on sys.path under pytest's rootdir discovery
    write_odim(tmp_path / "comp.h5", rate_mmh, grid, np.datetime64("2020-01-01T12:00"))

The image is stored as uint16 codes with gain 0.01 (offset -32 for dBZ quantities):
``nodata`` = 65535 where the input is NaN, ``undetect`` = 0 where it is 0 (or below
the offset for dBZ). Corners LL/UL/UR/LR are the lon/lat of the grid's outer corners.
"""

from __future__ import annotations

from os import PathLike

import h5py
import numpy as np
import pyproj

from qpeflow.io.grid import Grid

NODATA = 65535
UNDETECT = 0
GAIN = 0.01


def _corners(grid: Grid) -> dict[str, float]:
    tr = pyproj.Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    xmin, ymin, xmax, ymax = grid.extent
    out: dict[str, float] = {}
    for name, (x, y) in {"LL": (xmin, ymin), "UL": (xmin, ymax), "UR": (xmax, ymax), "LR": (xmax, ymin)}.items():
        lon, lat = tr.transform(x, y)
        out[f"{name}_lon"], out[f"{name}_lat"] = float(lon), float(lat)
    return out


def encode(values: np.ndarray, quantity: str) -> tuple[np.ndarray, float]:
    """Physical values (NaN = nodata) -> (uint16 codes, offset)."""
    offset = -32.0 if quantity.upper().startswith("DBZ") or quantity.upper() == "TH" else 0.0
    codes = np.rint((np.nan_to_num(values, nan=0.0) - offset) / GAIN)
    codes = np.clip(codes, 1, NODATA - 1)
    codes = np.where(np.nan_to_num(values, nan=offset) <= offset, UNDETECT, codes)
    codes = np.where(np.isnan(values), NODATA, codes)
    return codes.astype(np.uint16), offset


def _where_attrs(grid: Grid) -> dict[str, object]:
    attrs: dict[str, object] = {"projdef": np.bytes_(grid.crs)}
    attrs["xsize"], attrs["ysize"] = np.uint64(grid.shape[1]), np.uint64(grid.shape[0])
    attrs["xscale"], attrs["yscale"] = float(grid.dx), float(-grid.dy)
    attrs.update(_corners(grid))
    return attrs


def write_odim(
    path: str | PathLike[str],
    rate_mmh: np.ndarray,
    grid: Grid,
    valid_time: np.datetime64,
    quantity: str = "RATE",
    with_quantity: bool = True,
    minutes: int = 5,
    where_at: str = "root",
    scaling_at: str = "dataset",
    with_gain: bool = True,
    qind: np.ndarray | None = None,
) -> None:
    """Write a one-dataset ODIM_H5 v2.0 composite of ``rate_mmh`` (ny, nx) on ``grid``.

    Args:
        rate_mmh: values in the units of ``quantity`` (mm/h for RATE, mm for ACRR, dBZ);
            NaN = no coverage; row 0 north.
        valid_time: nominal time (``/what/date``, ``/what/time`` and dataset end time).
        with_quantity: False writes no ``what/quantity`` (a broken file for bad-input tests).
        minutes: accumulation window (start = end - minutes).
        where_at: the level of the grid attributes: "root" (``/where``), "dataset"
            (``dataset1/where``) or "data" (``dataset1/data1/where``); all are valid ODIM.
        scaling_at: the level of quantity/gain/offset/nodata/undetect: "root", "dataset" or "data".
        with_gain: False omits gain and offset (the reader must then use 1 and 0: the
            codes are written as physical values in float32).
        qind: optional quality index (ny, nx) in 0-1, written as ``dataset1/data1/quality1``
            (uint8 codes, gain 1/250, quantity QIND).
    """
    values = np.asarray(rate_mmh, dtype=np.float64)
    assert values.shape == grid.shape, (values.shape, grid.shape)
    codes, offset = encode(values, quantity)
    if not with_gain:
        codes = np.where(codes == NODATA, NODATA, offset + GAIN * codes.astype(np.float64)).astype(np.float32)
        codes[values <= offset] = UNDETECT
    end = np.datetime64(valid_time, "s").astype(object)
    start = (np.datetime64(valid_time, "s") - np.timedelta64(minutes, "m")).astype(object)
    with h5py.File(path, "w") as fh:
        fh.attrs["Conventions"] = np.bytes_("ODIM_H5/V2_0")
        what = fh.create_group("what")
        for key, val in {
            "object": "COMP",
            "version": "H5rad 2.0",
            "date": end.strftime("%Y%m%d"),
            "time": end.strftime("%H%M%S"),
            "source": "ORG:999",
        }.items():
            what.attrs[key] = np.bytes_(val)
        levels = {"root": "", "dataset": "dataset1/", "data": "dataset1/data1/"}
        where = fh.create_group(f"{levels[where_at]}where")
        for key, val in _where_attrs(grid).items():
            where.attrs[key] = val
        dwhat = fh.create_group("dataset1/what")
        for key, val in {
            "product": "COMP",
            "startdate": start.strftime("%Y%m%d"),
            "starttime": start.strftime("%H%M%S"),
            "enddate": end.strftime("%Y%m%d"),
            "endtime": end.strftime("%H%M%S"),
        }.items():
            dwhat.attrs[key] = np.bytes_(val)
        swhat = fh.require_group(f"{levels[scaling_at]}what")
        if with_quantity:
            swhat.attrs["quantity"] = np.bytes_(quantity)
        if with_gain:
            swhat.attrs["gain"], swhat.attrs["offset"] = GAIN, offset
        swhat.attrs["nodata"], swhat.attrs["undetect"] = float(NODATA), float(UNDETECT)
        fh.create_dataset("dataset1/data1/data", data=codes, compression="gzip")
        if qind is not None:
            q = fh.create_group("dataset1/data1/quality1")
            q.create_dataset("data", data=np.rint(np.clip(qind, 0, 1) * 250).astype(np.uint8))
            qwhat = q.create_group("what")
            qwhat.attrs["quantity"], qwhat.attrs["gain"], qwhat.attrs["offset"] = np.bytes_("QIND"), 1 / 250, 0.0
