"""Write the team's collocated ``sevmos_YYYY-MM-DD_HHMMSS.nc`` files, exactly as their script does.

Procedure (github.com/mmeignin/RainSat ``extraction/usefull_scripts/Viltard.py``): the 7 SEVIRI
channels resampled onto the Meteo-France 1 km grid are saved by satpy's CF writer
(``save_datasets(writer="cf", exclude_attrs=["raw_metadata"])``), then the file is reopened with
netCDF4 and two variables are appended:

* ``rain_rate`` ``'f'`` dims ``('x', 'y')``: the mosaic rain rate **transposed** (``LRRFull =
  np.transpose(LRR)``), mm/hr, ``missing_value`` -99 (ACRR > 65000), -98 where QUALITY > 200,
  ``valid_range`` = (min, max) of the field, ``long_name`` and ``mosaic ref. time``;
* ``rain_quality`` ``'i4'`` dims ``('x', 'y')``: ``QRR`` = ``QUALITY[0]`` **not** transposed (the
  script writes it as read), 0-100, ``missing_value`` 255.

Here the channels are written by the same satpy writer from a fake resampled Scene (DataArrays
with the area, x/y coordinates and the attributes ``seviri_l1b_native`` gives).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import numpy as np

from qpeflow.io.grid import Grid

SEVMOS_CHANNELS = ("WV_062", "WV_073", "IR_087", "IR_097", "IR_108", "IR_120", "IR_134")


def sevmos_name(time: np.datetime64) -> str:
    t = np.datetime64(time, "s").astype(dt.datetime)
    return f"sevmos_{t:%Y-%m-%d}_{t:%H%M%S}.nc"


def _scene(bt: dict[str, np.ndarray], grid: Grid, slot: dt.datetime, platform: str):  # type: ignore[no-untyped-def]
    import xarray as xr
    from satpy import Scene

    area = grid.to_area_definition("mf_france")
    x, y = area.get_proj_vectors()
    scn = Scene()
    for ch, values in bt.items():
        scn[ch] = xr.DataArray(
            np.asarray(values, np.float32),
            dims=("y", "x"),
            coords={"x": ("x", x, {"units": "m"}), "y": ("y", y, {"units": "m"})},
            attrs={
                "area": area,
                "name": ch,
                "units": "K",
                "standard_name": "toa_brightness_temperature",
                "platform_name": platform,
                "sensor": "seviri",
                "start_time": slot,
                "end_time": slot + dt.timedelta(minutes=12, seconds=43),
                "calibration": "brightness_temperature",
            },
        )
    return scn


def write_sevmos(
    folder: str | PathLike[str],
    time: np.datetime64,
    bt: dict[str, np.ndarray],
    rain_mmh: np.ndarray,
    quality: np.ndarray,
    grid: Grid,
    *,
    platform: str = "Meteosat-11",
    name: str | None = None,
) -> Path:
    """Write one sevmos file: ``bt`` channel -> (ny, nx) K, ``rain_mmh`` (ny, nx) mm/h with NaN missing,
    ``quality`` (ny, nx) int 0-100 (> 200 invalid: rain written -98), all row 0 north, on ``grid``.

    ``time`` is the mosaic time (minutes 10/25/40/55); the SEVIRI slot is the nearest quarter hour before.
    """
    import netCDF4

    path = Path(folder) / (name or sevmos_name(time))
    mosaic = np.datetime64(time, "s").astype(dt.datetime)
    slot = mosaic - dt.timedelta(minutes=mosaic.minute % 15)
    _scene(bt, grid, slot, platform).save_datasets(
        writer="cf", filename=str(path), exclude_attrs=["raw_metadata"], datasets=list(bt)
    )
    lrr = np.where(np.isnan(rain_mmh), -99.0, rain_mmh)
    lrr = np.where(np.asarray(quality) > 200, -98.0, lrr)
    full = np.transpose(lrr).astype(np.float32)
    with netCDF4.Dataset(path, "a") as nc:
        nc.MSGFile = f"MSG4-SEVI-MSG15-0100-NA-{slot:%Y%m%d%H%M}.nat"
        nc.MFMosaicFile = f"cumul_france_1536-1km-5min_{mosaic:%Y%m%d%H%M}.nc"
        nc.history = f"Created {dt.datetime(2024, 1, 1)}"
        nc.version = "v0.1"
        var = nc.createVariable("rain_rate", "f", ("x", "y"))
        var.setncatts(
            {
                "long_name": "MF mosaic 5' rain accumulation converted to rain rate",
                "mosaic ref. time": str(mosaic),
                "units": "mm/hr",
                "valid_range": (float(full.min()), float(full.max())),
                "missing_value": -99.0,
            }
        )
        var[:, :] = full
        qvar = nc.createVariable("rain_quality", "i4", ("x", "y"))
        qvar.setncatts(
            {
                "long_name": "Quality: 100= good, 0 = bad",
                "units": "percent",
                "valid_range": (0, 100),
                "missing_value": 255,
            }
        )
        qvar[:, :] = np.asarray(quality, np.int32)  # QRR as read: not transposed (the script's own order)
    return path


def default_bt(rain_mmh: np.ndarray, channels: Sequence[str] = SEVMOS_CHANNELS) -> dict[str, np.ndarray]:
    """Plausible BT (K) per channel: colder where it rains (a few K apart per channel)."""
    cold = 60.0 * np.tanh(np.nan_to_num(rain_mmh) / 5.0)
    return {ch: (285.0 - 8.0 * i - cold).astype(np.float32) for i, ch in enumerate(channels)}
