"""ODIM HDF5 composites (OPERA, Meteo-France, RMI, ...), read directly with h5py.

Layout (EUMETNET OPERA, "ODIM_H5 v2" specification): ``/what`` (object, date,
time), ``/where`` (projdef, xsize, ysize, xscale, yscale and the lon/lat of the
*outer* corners LL/UL/UR/LR), and ``/datasetN/dataM/data`` images whose
``what`` (at data or dataset level) gives quantity, gain, offset, nodata,
undetect, startdate/time, enddate/time. Physical value = offset + gain * code.
Rows are stored north first.

Quantities: RATE (mm/h), ACRR (mm accumulated between start and end time),
DBZH / DBZ / TH (dBZ). With ``to_rain=True`` every one becomes ``rain_rate`` in
mm/h (ACRR divided by its duration; dBZ through Marshall-Palmer Z = 200 R^1.6).
``nodata`` -> NaN (outside coverage), ``undetect`` -> 0 rain (or the dBZ floor).

Attributes are inherited as the specification defines (ODIM_H5 2.x, sec. 3): ``what``,
``where`` and ``how`` of ``datasetN/dataM`` override those of ``datasetN``, which override
the root ones; a missing ``gain``/``offset`` means 1/0. So a composite whose grid sits in
``dataset1/where`` reads like one whose grid sits in ``/where``. A quality index ``QIND``
(a ``qualityK`` group or a sibling ``dataM``) is kept as ``attrs["quality"]`` in percent.
Every defect (missing key, malformed date, xsize 0, no ``data`` dataset, non-numeric data)
is one QpeflowError naming the file and the key.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from os import PathLike
from typing import Any

import numpy as np

from qpeflow.errors import input_error
from qpeflow.io.field import ACCUMULATION, RAIN_RATE, REFLECTIVITY, Field
from qpeflow.io.grid import Grid
from qpeflow.io.hdf5 import attr_float, attr_str, open_hdf5
from qpeflow.io.zr import dbz_to_rain

RAIN_QUANTITIES = ("RATE", "ACRR", "DBZH", "DBZ", "TH")
QUALITY_QUANTITIES = ("QIND",)  # OPERA quality index, 0-1
DBZ_FLOOR = -32.0  # dBZ given to "undetect" pixels of reflectivity products
_GRID_KEYS = ("projdef", "xsize", "ysize", "LL_lon", "LL_lat", "UR_lon", "UR_lat")


@dataclass(frozen=True)
class OdimImage:
    """One decoded ODIM image: values in the file's quantity, NaN = nodata.

    ``what``/``where``/``how``: the attributes in force for this image (root, then
    ``datasetN``, then ``datasetN/dataM`` level, the deeper one winning, ODIM_H5 2.x sec. 3).
    """

    values: np.ndarray  # (ny, nx) float32
    quantity: str
    what: dict[str, Any]
    where: dict[str, Any]
    how: dict[str, Any]
    group: str = ""
    quality: np.ndarray | None = None  # (ny, nx) percent, NaN unknown


def _parse_time(date: str, time: str, path: str | PathLike[str] = "", key: str = "date/time") -> np.datetime64:
    """ODIM ``YYYYMMDD`` + ``HHmmss`` -> datetime64[s]; a malformed value raises naming ``key``."""
    if not (re.fullmatch(r"\d{8}", date) and re.fullmatch(r"\d{4}(\d{2})?", time)):
        raise input_error(path, f"ODIM {key} {date!r} {time!r} is not YYYYMMDD HHmmss")
    try:
        return np.datetime64(f"{date[:4]}-{date[4:6]}-{date[6:8]}T{time[:2]}:{time[2:4]}:{time[4:6] or '00'}", "s")
    except ValueError:
        raise input_error(path, f"ODIM {key} {date!r} {time!r} is not a valid date") from None


def inherited(groups: list[Any], name: str) -> dict[str, Any]:
    """The ``name`` ("what"/"where"/"how") attributes of ``groups`` (outermost first), deeper ones winning."""
    merged: dict[str, Any] = {}
    for group in groups:
        if name in group:
            merged.update(dict(group[name].attrs))
    return merged


def odim_grid(where: Any, path: str | PathLike[str], level: str = "/where") -> Grid:
    """Grid from ODIM ``where`` attributes: projdef + LL and UR outer-corner lon/lat, xsize/ysize.

    Args:
        where: a mapping of attributes (or an h5py group, whose ``.attrs`` are used).
        level: where the attributes were looked up, for the message.
    """
    import pyproj

    attrs = dict(where.attrs) if hasattr(where, "attrs") else dict(where)
    missing = [k for k in _GRID_KEYS if k not in attrs]
    if missing:
        raise input_error(path, f"ODIM {level} lacks {', '.join(missing)}: cannot georeference")
    try:
        projdef = attr_str(attrs["projdef"])
        nx, ny = int(attr_float(attrs["xsize"])), int(attr_float(attrs["ysize"]))
        ll = (attr_float(attrs["LL_lon"]), attr_float(attrs["LL_lat"]))
        ur = (attr_float(attrs["UR_lon"]), attr_float(attrs["UR_lat"]))
    except (ValueError, TypeError, IndexError):
        raise input_error(path, f"ODIM {level} has a non-numeric xsize/ysize/corner attribute") from None
    if nx < 1 or ny < 1:
        raise input_error(path, f"ODIM {level} xsize={nx}, ysize={ny}: an image needs at least one pixel")
    try:
        proj = pyproj.Proj(projdef)
    except pyproj.exceptions.CRSError as exc:
        raise input_error(path, f"ODIM where/projdef {projdef!r} is not a valid projection") from exc
    xmin, ymin = proj(*ll)
    xmax, ymax = proj(*ur)
    if not (np.isfinite([xmin, ymin, xmax, ymax]).all() and xmax > xmin and ymax > ymin):
        raise input_error(path, "ODIM corner coordinates LL/UR are inconsistent with where/projdef")
    # corners round-trip through lon/lat to within mm: snap to cm, and take the
    # pixel size from xscale/yscale when they agree with the corners
    x0, y0 = round(float(xmin), 2) + 0.0, round(float(ymax), 2) + 0.0
    dx, dy = (float(xmax) - float(xmin)) / nx, (float(ymax) - float(ymin)) / ny
    if "xscale" in attrs and "yscale" in attrs:
        xs, ys = attr_float(attrs["xscale"]), attr_float(attrs["yscale"])
        if abs(xs - dx) < 1e-3 * xs and abs(ys - dy) < 1e-3 * ys:
            dx, dy = xs, ys
    return Grid(projdef, x0, dx, y0, -dy, (ny, nx))


def _raw(group: Any, name: str, path: str | PathLike[str]) -> np.ndarray:
    """The ``data`` array of an ODIM data/quality group, checked numeric and 2-D."""
    if "data" not in group:
        raise input_error(path, f"ODIM {name} has no 'data' dataset")
    try:
        raw = np.asarray(group["data"][...])
    except (OSError, TypeError, ValueError) as exc:
        raise input_error(path, f"ODIM {name}/data cannot be read: {type(exc).__name__}") from exc
    if not (np.issubdtype(raw.dtype, np.integer) or np.issubdtype(raw.dtype, np.floating)):
        raise input_error(path, f"ODIM {name}/data holds {raw.dtype} values, expected numbers")
    if raw.ndim != 2:
        raise input_error(path, f"ODIM {name}/data has {raw.ndim} dimensions, expected 2")
    return raw


def _scale(raw: np.ndarray, what: dict[str, Any], floor: float) -> np.ndarray:
    """code -> physical value with gain/offset (missing: 1 / 0); nodata -> NaN; undetect -> ``floor``."""
    gain = attr_float(what.get("gain", 1.0))
    offset = attr_float(what.get("offset", 0.0))
    values = (offset + gain * raw.astype(np.float64)).astype(np.float32)
    if "nodata" in what:
        values[raw == attr_float(what["nodata"])] = np.nan
    if "undetect" in what:
        values[raw == attr_float(what["undetect"])] = floor
    return values


def _decode(groups: list[Any], name: str, quantity: str, path: str | PathLike[str]) -> OdimImage:
    what, where, how = (inherited(groups, k) for k in ("what", "where", "how"))
    floor = DBZ_FLOOR if quantity in ("DBZH", "DBZ", "TH") else 0.0
    return OdimImage(_scale(_raw(groups[-1], name, path), what, floor), quantity, what, where, how, name)


def _quantity(groups: list[Any], name: str, path: str | PathLike[str]) -> str:
    what = inherited(groups, "what")
    if "quantity" not in what:
        raise input_error(path, f"ODIM {name} has no what/quantity attribute")
    return attr_str(what["quantity"]).upper()


def _numbered(group: Any, prefix: str) -> list[str]:
    names = [k for k in group if k.startswith(prefix) and k[len(prefix) :].isdigit()]
    return sorted(names, key=lambda k: int(k[len(prefix) :]))


def _quality_of(fh: Any, ds_name: str, d_name: str, path: str | PathLike[str]) -> np.ndarray | None:
    """QIND in percent for ``ds_name/d_name``: a ``qualityK`` under the data or the dataset, or a sibling data.

    A ``qualityK`` group is scaled by its own ``what`` only (the data's gain does not apply to it).
    """
    dataset = fh[ds_name]
    data = dataset[d_name]
    chains = [([data[q]], f"{ds_name}/{d_name}/{q}") for q in _numbered(data, "quality")]
    chains += [([dataset[q]], f"{ds_name}/{q}") for q in _numbered(dataset, "quality")]
    chains += [([fh, dataset, dataset[d]], f"{ds_name}/{d}") for d in _numbered(dataset, "data") if d != d_name]
    for groups, name in chains:
        what = inherited(groups, "what")
        if attr_str(what.get("quantity", "")).upper() in QUALITY_QUANTITIES:
            qind = _scale(_raw(groups[-1], name, path), what, np.nan)
            return (qind * 100.0 if np.nanmax(qind, initial=0.0) <= 1.0 else qind).astype(np.float32)
    return None


def _images(fh: Any, path: str | PathLike[str], quantity: str | None) -> list[OdimImage]:
    """All images of the wanted quantity (first of RAIN_QUANTITIES present if None), with their QIND."""
    found: list[OdimImage] = []
    names_seen: set[str] = set()
    datasets = _numbered(fh, "dataset")
    wanted = quantity.upper() if quantity else None
    for ds_name in datasets:
        dataset = fh[ds_name]
        for d_name in _numbered(dataset, "data"):
            groups, name = [fh, dataset, dataset[d_name]], f"{ds_name}/{d_name}"
            q = _quantity(groups, name, path)
            names_seen.add(q)
            if (wanted and q == wanted) or (not wanted and q in RAIN_QUANTITIES):
                im = _decode(groups, name, q, path)
                quality = _quality_of(fh, ds_name, d_name, path) if q not in QUALITY_QUANTITIES else None
                found.append(dataclasses.replace(im, quality=quality))
    if not datasets:
        raise input_error(path, "ODIM file has no /datasetN group")
    if not found:
        raise input_error(
            path,
            f"ODIM file has no {quantity or '/'.join(RAIN_QUANTITIES)} data (quantities present: {sorted(names_seen)})",
        )
    if quantity is None:  # a file with several rain quantities: keep the first kind only
        found = [im for im in found if im.quantity == found[0].quantity]
    return found


def _times(fh: Any, images: list[OdimImage], path: str | PathLike[str]) -> list[np.datetime64]:
    """Nominal /what date+time; per-image end times when a file holds several times."""
    ends = [
        _parse_time(attr_str(im.what["enddate"]), attr_str(im.what["endtime"]), path, f"{im.group} enddate/endtime")
        if "enddate" in im.what and "endtime" in im.what
        else None
        for im in images
    ]
    top = fh["what"].attrs if "what" in fh else {}
    if len({e for e in ends if e is not None}) > 1:
        return [e if e is not None else ends[0] for e in ends]  # type: ignore[misc]
    if "date" in top and "time" in top:
        return [_parse_time(attr_str(top["date"]), attr_str(top["time"]), path, "/what date/time")] * len(images)
    if ends[0] is not None:
        return [ends[0]] * len(images)
    raise input_error(path, "ODIM file has neither what/date+time nor dataset enddate/endtime")


def _accumulation_minutes(what: dict[str, Any], path: str | PathLike[str] = "") -> float | None:
    keys = ("startdate", "starttime", "enddate", "endtime")
    if not all(k in what for k in keys):
        return None
    start = _parse_time(attr_str(what["startdate"]), attr_str(what["starttime"]), path, "startdate/starttime")
    end = _parse_time(attr_str(what["enddate"]), attr_str(what["endtime"]), path, "enddate/endtime")
    return float((end - start) / np.timedelta64(1, "m"))


def _to_field(
    im: OdimImage, time: np.datetime64, grid: Grid, path: str, to_rain: bool, accumulation_minutes: float | None
) -> Field:
    attrs: dict[str, Any] = {"odim_quantity": im.quantity, "product": attr_str(im.what.get("product", ""))}
    q = im.quantity
    if q == "RATE":
        return Field(im.values, RAIN_RATE, "mm/h", time, grid, path, q, attrs)
    if q == "ACRR":
        minutes = accumulation_minutes or _accumulation_minutes(im.what, path)
        attrs["accumulation_minutes"] = minutes
        if not to_rain:
            return Field(im.values, ACCUMULATION, "mm", time, grid, path, q, attrs)
        if not minutes or minutes <= 0:
            raise input_error(path, "ACRR without start/end time: pass accumulation_minutes=")
        return Field((im.values * (60.0 / minutes)).astype(np.float32), RAIN_RATE, "mm/h", time, grid, path, q, attrs)
    if q in ("DBZH", "DBZ", "TH"):
        if not to_rain:
            return Field(im.values, REFLECTIVITY, "dBZ", time, grid, path, q, attrs)
        attrs["zr"] = "Marshall-Palmer Z=200R^1.6"
        return Field(dbz_to_rain(im.values, min_dbz=DBZ_FLOOR), RAIN_RATE, "mm/h", time, grid, path, q, attrs)
    return Field(im.values, q.lower(), attr_str(im.what.get("units", "")), time, grid, path, q, attrs)


def read_odim(
    path: str | PathLike[str],
    quantity: str | None = None,
    to_rain: bool = False,
    accumulation_minutes: float | None = None,
) -> list[Field]:
    """Read an ODIM HDF5 composite: one Field per image of ``quantity``.

    Args:
        path: the ``.h5``/``.hdf`` file.
        quantity: ODIM quantity to read ("RATE", "ACRR", "DBZH", "QIND", ...); None
            takes the first of RATE/ACRR/DBZH/DBZ/TH present.
        to_rain: convert ACRR and dBZ to rain rate in mm/h (see module docstring).
        accumulation_minutes: ACRR duration when the file lacks start/end times.

    Returns:
        Fields of shape (ysize, xsize), row 0 north, NaN where ``nodata``.
    """
    with open_hdf5(path) as fh:
        images = _images(fh, path, quantity)
        times = _times(fh, images, path)
    fields = []
    for im, t in zip(images, times):
        level = f"/where, {im.group.split('/')[0]}/where or {im.group}/where"
        grid = odim_grid(im.where, path, level)
        if im.values.shape != grid.shape:
            raise input_error(path, f"ODIM {im.group} image shape {im.values.shape} != where ysize/xsize {grid.shape}")
        field = _to_field(im, t, grid, str(path), to_rain, accumulation_minutes)
        if im.quality is not None:
            if im.quality.shape != grid.shape:
                raise input_error(path, f"ODIM QIND of shape {im.quality.shape} for {im.group} of shape {grid.shape}")
            field.attrs["quality"] = im.quality
        fields.append(field)
    return fields


def read_w4c_rates(
    path: str | PathLike[str],
    grid: Grid | None = None,
    start_time: np.datetime64 | None = None,
    cadence_minutes: int = 15,
    time_index: slice | None = None,
) -> list[Field]:
    """Weather4cast OPERA crops ``*.rates.crop.h5``: dataset ``rates.crop`` (T, 1, H, W) mm/h.

    The file carries no georeference and no times: pass the region's ``grid`` and the
    ``start_time`` of slot 0 (else a unit pixel grid flagged ``attrs["georeferenced"]
    = False`` and NaT times). Negative values (the challenge's missing flag) -> NaN.
    """
    with open_hdf5(path) as fh:
        if "rates.crop" not in fh:
            raise input_error(path, "no 'rates.crop' dataset (not a Weather4cast OPERA file)")
        dset = fh["rates.crop"]
        if dset.ndim != 4 or dset.shape[1] != 1:
            raise input_error(path, f"'rates.crop' has shape {dset.shape}, expected (T, 1, H, W)")
        block = np.asarray(dset[time_index or slice(None), 0], dtype=np.float32)
    start = 0 if time_index is None else (time_index.start or 0)
    georef = grid is not None
    grid = grid or Grid("+proj=eqc +units=m", 0.0, 1.0, 0.0, -1.0, block.shape[1:])
    fields = []
    for i, frame in enumerate(block):
        frame = np.where(frame < 0, np.nan, frame).astype(np.float32)
        t = (
            start_time + np.timedelta64((start + i) * cadence_minutes, "m")
            if start_time is not None
            else np.datetime64("NaT", "s")
        )
        fields.append(
            Field(
                frame,
                RAIN_RATE,
                "mm/h",
                np.datetime64(t, "s"),
                grid,
                str(path),
                "rates.crop",
                {"georeferenced": georef, "time_slot": start + i},
            )
        )
    return fields
