"""Satip SEVIRI zarr stores (one zipped zarr v2 store per time, as in Open Climate Fix's Satip).

Layout: variable ``data`` int16 (time, y_geostationary, x_geostationary, variable)
holding 10-bit counts; value = min + count / 1023 * (max - min) with the fixed
per-channel bounds of :data:`SATIP_BOUNDS` (K for IR/WV, % for IR_016/VIS).
The stored image is as scanned: ``x_geostationary`` runs east -> west and
``y_geostationary`` south -> north; both are flipped here so row 0 is north and
column 0 west. The geostationary CRS comes from the ``<channel>_area`` YAML
attribute (satpy area definition); pixel centres from the coordinate vectors.
"""

from __future__ import annotations

import zipfile
from os import PathLike
from typing import Any

import numpy as np

from qpeflow.errors import input_error
from qpeflow.io.field import Field
from qpeflow.io.satellite_common import channel_field, grid_from_centres, missing_channel, orient_north_up

#: (min, max) of the count scaling per channel (shared/data/README.md, from Satip).
SATIP_BOUNDS: dict[str, tuple[float, float]] = {
    "IR_016": (-2.5118103, 69.60857),
    "IR_039": (-64.83977, 339.15588),
    "IR_087": (63.404694, 340.26526),
    "IR_097": (2.844452, 317.86752),
    "IR_108": (199.10002, 313.2767),
    "IR_120": (-17.254883, 315.99194),
    "IR_134": (-26.29155, 274.82297),
    "VIS006": (-1.1009827, 93.786545),
    "VIS008": (-2.4184198, 101.34922),
    "WV_062": (199.57048, 249.91806),
    "WV_073": (198.95093, 286.96323),
}
COUNT_MAX = 1023


def decode_counts(counts: np.ndarray, channel: str) -> np.ndarray:
    """Counts 0..1023 -> physical value, float32; negative counts (fill) -> NaN."""
    lo, hi = SATIP_BOUNDS[channel]
    counts = np.asarray(counts, dtype=np.float32)
    values = lo + np.clip(counts, 0, COUNT_MAX) / COUNT_MAX * (hi - lo)
    return np.where(counts < 0, np.nan, values).astype(np.float32)


def _open(path: str | PathLike[str]) -> Any:
    import xarray as xr
    import zarr

    if not zipfile.is_zipfile(path):
        raise input_error(path, "not a zip file (corrupt or truncated Satip zarr zip?)")
    try:
        return xr.open_zarr(zarr.storage.ZipStore(str(path), mode="r"), consolidated=None)
    except Exception as exc:  # zarr/xarray raise many kinds for a broken store
        raise input_error(path, f"cannot open as a zarr store: {type(exc).__name__}: {exc}") from exc


def satip_crs(attrs: dict[str, Any], channel: str, path: str | PathLike[str]) -> str:
    """PROJ string of the ``<channel>_area`` (or ``area``) YAML attribute."""
    import yaml

    text = attrs.get(f"{channel}_area", attrs.get("area"))
    if text is None:
        raise input_error(path, f"no {channel}_area attribute: cannot georeference")
    try:
        area = yaml.safe_load(text)
        proj = next(iter(area.values()))["projection"]
    except Exception as exc:
        raise input_error(path, f"unreadable {channel}_area attribute: {exc}") from exc
    parts = [f"+{k}={v}" if v is not None else f"+{k}" for k, v in proj.items() if k != "type"]
    return " ".join(parts) + ("" if "units" in proj else " +units=m")


def read_satip(path: str | PathLike[str], channels: tuple[str, ...] | list[str] | None = None) -> list[Field]:
    """Read a Satip zarr zip: one Field per (time, channel); BT in K, reflectance in %.

    Args:
        channels: channels to return (default: all in the store, in store order).
    """
    ds = _open(path)
    if "data" not in ds:
        raise input_error(path, "no 'data' variable (not a Satip store)")
    da = ds["data"]
    available = [str(v) for v in ds["variable"].values]
    wanted = list(channels) if channels else available
    for ch in wanted:
        if ch not in available or ch not in SATIP_BOUNDS:
            raise missing_channel(path, ch, available)
    x = np.asarray(ds["x_geostationary"].values, dtype=np.float64)
    y = np.asarray(ds["y_geostationary"].values, dtype=np.float64)
    try:
        counts = np.asarray(da.transpose("time", "variable", "y_geostationary", "x_geostationary").values)
    except Exception as exc:
        raise input_error(path, f"cannot read 'data' (corrupt chunks?): {type(exc).__name__}: {exc}") from exc
    counts, xs, ys = orient_north_up(counts, x, y)
    fields = []
    for it, t in enumerate(np.asarray(ds["time"].values)):
        for ch in wanted:
            grid = grid_from_centres(satip_crs(da.attrs, ch, path), xs, ys)
            data = decode_counts(counts[it, available.index(ch)], ch)
            fields.append(
                channel_field(
                    data,
                    ch,
                    np.datetime64(t, "s"),
                    grid,
                    str(path),
                    {"platform": str(da.attrs.get("platform_name", "")), "reader": "satip"},
                )
            )
    return fields
