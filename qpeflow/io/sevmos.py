"""The team's collocated SEVIRI + Meteo-France files ``sevmos_YYYY-MM-DD_HHMMSS.nc``.

Written by satpy's CF writer (the 7 channels WV_062 ... IR_134 in K, dims (y, x), a CF
grid-mapping variable named by each channel's ``grid_mapping``, x/y coordinates in m)
and then extended by the team's script (github.com/mmeignin/RainSat
``extraction/usefull_scripts/Viltard.py``) with:

* ``rain_rate`` dims (x, y), mm/hr: the mosaic written **transposed**; ``missing_value``
  -99 (ACRR > 65000) and -98 (QUALITY > 200) are both missing here (any negative value);
* ``rain_quality`` dims (x, y), 0-100, ``missing_value`` 255. The script writes ``QRR``
  without the transpose it gives the rain, so the array's content is (y, x) under (x, y)
  labels. The reader tells the two orders apart by where quality > 200 meets rain -98;
  when nothing is invalid it cannot, and takes the script's order.

The valid time is the mosaic time (``rain_rate``'s ``mosaic ref. time``, else the file
name): minutes 10/25/40/55, 15 min apart; the SEVIRI slot start is in ``attrs``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from qpeflow.errors import input_error
from qpeflow.io.cf_grid import cf_grid, open_netcdf
from qpeflow.io.field import RAIN_RATE, Field
from qpeflow.io.grid import Grid
from qpeflow.io.satellite_common import channel_field, missing_channel

SEVMOS_CHANNELS = ("WV_062", "WV_073", "IR_087", "IR_097", "IR_108", "IR_120", "IR_134")
_NAME = re.compile(r"sevmos_(\d{4})-(\d{2})-(\d{2})_(\d{2})(\d{2})(\d{2})\.nc$")
QUALITY_INVALID_ABOVE = 200


@dataclass(frozen=True)
class Sevmos:
    """One sevmos file, north-up on its grid.

    Attributes:
        time: mosaic (valid) time, datetime64[s].
        grid: the 1 km grid, shape (ny, nx).
        bt: channel -> (ny, nx) float32 K, NaN where the file has none.
        rain: (ny, nx) float32 mm/h, NaN missing (-99) or invalid (-98).
        quality: (ny, nx) float32 percent, NaN missing/invalid.
        attrs: platform, slot start/end, source files.
    """

    path: str
    time: np.datetime64
    grid: Grid
    bt: dict[str, np.ndarray]
    rain: np.ndarray
    quality: np.ndarray
    attrs: dict[str, str]


def sevmos_time(nc: Any, path: str | PathLike[str]) -> np.datetime64:
    """Mosaic time from ``rain_rate:mosaic ref. time`` or else the file name."""
    ref = str(getattr(nc.variables["rain_rate"], "mosaic ref. time", "")) if "rain_rate" in nc.variables else ""
    if ref:
        try:
            return np.datetime64(ref.replace(" ", "T")[:19], "s")
        except ValueError:
            raise input_error(path, f"rain_rate 'mosaic ref. time' {ref!r} is not a date") from None
    m = _NAME.search(Path(path).name)
    if m is None:
        raise input_error(
            path, "no mosaic time: neither rain_rate 'mosaic ref. time' nor a sevmos_YYYY-MM-DD_HHMMSS name"
        )
    y, mo, d, h, mi, s = m.groups()
    return np.datetime64(f"{y}-{mo}-{d}T{h}:{mi}:{s}", "s")


def _yx(var: Any, path: str | PathLike[str]) -> np.ndarray:
    """A 2-D variable as (y, x) by its dimension names (the team's (x, y) is transposed back)."""
    values = np.asarray(var[...])
    dims = tuple(var.dimensions)
    if values.ndim != 2 or set(dims) != {"x", "y"}:
        raise input_error(path, f"{var.name!r} has dims {dims}, expected (x, y) or (y, x)")
    return values.T if dims == ("x", "y") else values


def _quality_yx(var: Any, rain_codes: np.ndarray, path: str | PathLike[str]) -> np.ndarray:
    """``rain_quality`` in (y, x): by its labels, or as the script stored it (module docstring)."""
    raw = np.asarray(var[...])
    if raw.ndim != 2:
        raise input_error(path, f"'rain_quality' has {raw.ndim} dimensions, expected 2")
    labelled = _yx(var, path)
    candidates = [c for c in (raw, labelled) if c.shape == rain_codes.shape]
    if not candidates:
        raise input_error(path, f"'rain_quality' of shape {raw.shape} for rain_rate of shape {rain_codes.T.shape}")
    invalid = rain_codes == -98.0
    scores = [int(((c > QUALITY_INVALID_ABOVE) & (c != 255) == invalid).sum()) for c in candidates]
    return candidates[int(np.argmax(scores))]  # ties keep the first: the script's order


def _channel(nc: Any, name: str, path: str | PathLike[str]) -> np.ndarray:
    var = nc.variables[name]
    values = _yx(var, path).astype(np.float32)
    fill = getattr(var, "_FillValue", None)
    if fill is not None and np.isfinite(fill):
        values[values == fill] = np.nan
    return values


def _orient(a: np.ndarray, flip_rows: bool, flip_cols: bool) -> np.ndarray:
    """(y, x) as stored -> north first, west first."""
    if flip_rows:
        a = a[::-1]
    if flip_cols:
        a = a[:, ::-1]
    return np.ascontiguousarray(a)


def read_sevmos_file(path: str | PathLike[str], channels: Sequence[str] = SEVMOS_CHANNELS) -> Sevmos:
    """Read one sevmos file (see module docstring).

    Raises:
        QpeflowError: a channel asked for is missing, no rain/quality, fields of other shapes,
            no grid mapping or coordinates, no time.
    """
    nc = open_netcdf(path)
    try:
        available = [v for v in nc.variables if getattr(nc.variables[v], "grid_mapping", None)]
        for ch in channels:
            if ch not in available:
                raise missing_channel(path, ch, [a for a in available if a not in ("rain_rate", "rain_quality")])
        for name in ("rain_rate", "rain_quality"):
            if name not in nc.variables:
                raise input_error(path, f"no {name!r} variable (not a sevmos file?)")
        grid, flip_rows, flip_cols = cf_grid(nc, nc.variables[channels[0]].grid_mapping, "x", "y", path)
        bt = {ch: _orient(_channel(nc, ch, path), flip_rows, flip_cols) for ch in channels}
        codes = _yx(nc.variables["rain_rate"], path).astype(np.float32)
        quality = _quality_yx(nc.variables["rain_quality"], codes, path).astype(np.float32)
        first = nc.variables[channels[0]]
        attrs = {k: str(getattr(first, k, "")) for k in ("platform_name", "sensor", "start_time", "end_time")}
        attrs["mosaic_file"] = str(getattr(nc, "MFMosaicFile", ""))
        time = sevmos_time(nc, path)
    finally:
        nc.close()
    if codes.shape != grid.shape:
        raise input_error(path, f"rain_rate is {codes.shape} (y, x) but the channels are {grid.shape}")
    rain = np.where(codes < 0, np.nan, codes).astype(np.float32)
    quality = np.where((quality > QUALITY_INVALID_ABOVE) | (quality < 0), np.nan, quality).astype(np.float32)
    rain, quality = _orient(rain, flip_rows, flip_cols), _orient(quality, flip_rows, flip_cols)
    return Sevmos(str(path), time, grid, bt, rain, quality, attrs)


def read_sevmos(
    path: str | PathLike[str], channels: Sequence[str] = SEVMOS_CHANNELS, rain: bool = False
) -> list[Field]:
    """Registry entry: the channels as brightness-temperature Fields (and the rain Field last if ``rain``)."""
    s = read_sevmos_file(path, channels)
    meta = {"platform": s.attrs["platform_name"], "start_time": s.attrs["start_time"], "reader": "sevmos"}
    fields = [channel_field(s.bt[ch], ch, s.time, s.grid, s.path, dict(meta)) for ch in channels]
    if rain:
        fields.append(Field(s.rain, RAIN_RATE, "mm/h", s.time, s.grid, s.path, "rain_rate", {"quality": s.quality}))
    return fields
