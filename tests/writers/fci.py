"""Write MTG FCI level-1c FDHSI chunk files in the layout satpy's ``fci_l1c_nc`` reader reads.

The layout follows EUMETSAT's FCI L1c product user guide as satpy reads it (satpy
``readers/fci_l1c_nc.py`` and ``etc/readers/fci_l1c_nc.yaml``): one netCDF-4 file per chunk
(``count_in_repeat_cycle``) of a repeat cycle (``repeat_cycle_in_day``, 10 min), named
``W_XX-EUMETSAT-Darmstadt,IMG+SAT,MTI1+FCI-1C-RRAD-FDHSI-FD--CHK-BODY--DIS-NC4E_C_EUMT_<proc>_IDPFI_OPE_
<start>_<end>_N_JLS_C_<rc:04d>_<chunk:04d>.nc``, with

* global attribute ``platform`` ("MTI1");
* per channel a group ``data/<ch>/measured`` with ``effective_radiance`` (y, x) uint16 counts
  (``scale_factor``, ``add_offset``, ``_FillValue`` 65535, ``valid_range`` 0-4095,
  ``warm_scale_factor``/``warm_add_offset``, ``ancillary_variables = "pixel_quality"``), ``x``/``y``
  uint16 scan-angle indices packed with ``scale_factor``/``add_offset`` (radians; x positive to the
  west, the grid origin south-west, 2 km = 5.58871526031607e-05 rad), the chunk's
  ``start/end_position_row/column``, the Planck coefficients ``radiance_to_bt_conversion_*``,
  ``radiance_unit_conversion_coefficient``, ``pixel_quality`` and ``index_map``;
* ``data/mtg_geos_projection`` (a scalar with the geostationary projection as attributes);
* ``index`` and the per-index state vectors ``state/platform/*``, ``state/celestial/*``.

Values are packed with netCDF4's automatic scaling off: the file holds raw counts, as the real one.
Brightness temperatures are turned into radiances by the inverse of the reader's Planck formula.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from os import PathLike
from pathlib import Path

import numpy as np

#: 2 km grid (IR channels of FDHSI): scan-angle step and offset (rad), full disc 5568 x 5568
STEP_2KM = 5.58871526031607e-05
OFFSET_2KM = 1.55617776423501e-01
H = 35786400.0
C1 = 1.19104e-05  # 2 h c^2, mW m-2 sr-1 (cm-1)-4
C2 = 1.43877  # h c / k, K cm
#: the 16 FCI channels: every FDHSI file holds a group for each (the 8 solar ones at 1 km)
SOLAR = ("vis_04", "vis_05", "vis_06", "vis_08", "vis_09", "nir_13", "nir_16", "nir_22")
#: central wavenumbers (cm-1) of the FCI thermal channels (nominal, PUG)
WAVENUMBER = {
    "ir_38": 2569.0,
    "wv_63": 1595.0,
    "wv_73": 1360.0,
    "ir_87": 1148.0,
    "ir_97": 1034.0,
    "ir_105": 930.0,
    "ir_123": 810.0,
    "ir_133": 752.0,
}


def fci_name(start: dt.datetime, repeat_cycle: int, chunk: int, platform: str = "MTI1") -> str:
    """The file name of one FDHSI chunk of the repeat cycle starting at ``start``."""
    end = start + dt.timedelta(minutes=10)
    proc = end + dt.timedelta(minutes=2)
    return (
        f"W_XX-EUMETSAT-Darmstadt,IMG+SAT,{platform}+FCI-1C-RRAD-FDHSI-FD--CHK-BODY--DIS-NC4E_C_EUMT_"
        f"{proc:%Y%m%d%H%M%S}_IDPFI_OPE_{start:%Y%m%d%H%M%S}_{end:%Y%m%d%H%M%S}_N_JLS_C_"
        f"{repeat_cycle:04d}_{chunk:04d}.nc"
    )


def _radiance(bt_k: np.ndarray, vc: float) -> np.ndarray:
    """Inverse of satpy's ``calibrate_rad_to_bt`` with a = 1, b = 0 (mW m-2 sr-1 (cm-1)-1)."""
    return C1 * vc**3 / np.expm1(C2 * vc / bt_k)


def _scalar(group, name: str, value: float, dtype: str = "f4") -> None:  # type: ignore[no-untyped-def]
    var = group.createVariable(name, dtype)
    var[...] = value


def _channel(nc, ch: str, bt: np.ndarray, row0: int, col0: int) -> None:  # type: ignore[no-untyped-def]
    """One ``data/<ch>/measured`` group; ``bt`` all NaN writes fill counts only (a channel not asked for)."""
    ny, nx = bt.shape
    g = nc["data"].createGroup(ch).createGroup("measured")
    g.createDimension("y", ny)
    g.createDimension("x", nx)
    vc = WAVENUMBER.get(ch, 10000.0 / 0.6)
    rad = _radiance(np.asarray(bt, np.float64), vc)
    scale = float(np.nanmax(rad)) * 1.05 / 4000.0 if np.isfinite(rad).any() else 1.0
    counts = np.where(np.isfinite(rad), np.round(rad / scale), 65535).astype(np.uint16)
    er = g.createVariable("effective_radiance", "u2", ("y", "x"), zlib=True, fill_value=65535)
    er.set_auto_maskandscale(False)
    er.setncatts(
        {
            "scale_factor": np.float32(scale),
            "add_offset": np.float32(0.0),
            "valid_range": np.array([0, 4095], np.uint16),
            "warm_scale_factor": np.float32(1.0),
            "warm_add_offset": np.float32(0.0),
            "long_name": "Effective Radiance",
            "units": "mW.m-2.sr-1.(cm-1)-1",
            "ancillary_variables": "pixel_quality",
        }
    )
    er[...] = counts[::-1]  # stored south first (row 0 = south), bt is given north first
    for axis, n, first, sign in (("x", nx, col0, -1.0), ("y", ny, row0, 1.0)):
        v = g.createVariable(axis, "u2", (axis,))
        v.set_auto_maskandscale(False)
        v.setncatts({"scale_factor": sign * STEP_2KM, "add_offset": -sign * OFFSET_2KM, "units": "radian"})
        v[:] = np.arange(first, first + n, dtype=np.uint16)
    for name, value in (
        ("start_position_row", row0),
        ("end_position_row", row0 + ny - 1),
        ("start_position_column", col0),
        ("end_position_column", col0 + nx - 1),
    ):
        _scalar(g, name, value, "i4")
    for name, value in (
        ("radiance_to_bt_conversion_coefficient_wavenumber", vc),
        ("radiance_to_bt_conversion_coefficient_a", 1.0),
        ("radiance_to_bt_conversion_coefficient_b", 0.0),
        ("radiance_to_bt_conversion_constant_c1", C1),
        ("radiance_to_bt_conversion_constant_c2", C2),
        ("radiance_unit_conversion_coefficient", 1.0),
        ("channel_effective_solar_irradiance", 50.0),
    ):
        _scalar(g, name, value)
    for name, value in (("pixel_quality", 0), ("index_map", 1)):
        v = g.createVariable(name, "u2", ("y", "x"), zlib=True)
        v[...] = np.full((ny, nx), value, np.uint16)


def _state(nc, platform_lon: float) -> None:  # type: ignore[no-untyped-def]
    nc.createDimension("index", 2)
    for name, values in (("index", [1, 2]), ("time", [0.0, 1.0])):
        v = nc.createVariable(name, "u2" if name == "index" else "f8", ("index",))
        v[:] = np.array(values)
    for name in ("swath_direction", "swath_number"):
        v = nc["data"].createVariable(name, "u2", ("index",))
        v[:] = np.array([0, 1], np.uint16)
    state = nc.createGroup("state")
    for group, values in (
        ("platform", {"subsatellite_latitude": 0.0, "subsatellite_longitude": platform_lon, "platform_altitude": H}),
        (
            "celestial",
            {"earth_sun_distance": 1.496e8, "subsolar_latitude": 0.0, "subsolar_longitude": 0.0}
            | {"sun_satellite_distance": 1.496e8},
        ),
    ):
        g = state.createGroup(group)
        for name, value in values.items():
            v = g.createVariable(name, "f8", ("index",))
            v[:] = np.full(2, value)
    proj = nc["data"].createVariable("mtg_geos_projection", "i4")
    proj.setncatts(
        {
            "sweep_angle_axis": "y",
            "perspective_point_height": str(H),
            "semi_major_axis": "6378137.0",
            "inverse_flattening": "298.257223563",
            "longitude_of_projection_origin": str(platform_lon),
            "units": "m",
        }
    )


def write_fci(
    folder: str | PathLike[str],
    start: dt.datetime,
    bt: Mapping[str, np.ndarray],
    *,
    row0: int = 4950,
    col0: int = 2860,
    chunk: int = 33,
    platform: str = "MTI1",
    omit: tuple[str, ...] = (),
) -> Path:
    """Write one FDHSI chunk holding ``bt``: FCI channel ("ir_105", ...) -> (ny, nx) K, row 0 north.

    Every one of the 16 channel groups is written (as in a real file); channels not in ``bt`` hold
    fill counts, on a 1 km grid (twice the rows and columns) for the solar ones. ``omit`` leaves
    channel groups out (a broken file). ``row0``/``col0`` are the 1-based full-disc indices (2 km)
    of the chunk's south-west pixel (the defaults put it over France); ``start`` is the repeat
    cycle's start (minutes 00, 10, ...).
    """
    import netCDF4

    rc = (start.hour * 60 + start.minute) // 10 + 1
    path = Path(folder) / fci_name(start, rc, chunk, platform)
    with netCDF4.Dataset(path, "w", format="NETCDF4") as nc:
        nc.setncattr("platform", platform)
        nc.createGroup("data")
        shape = np.asarray(next(iter(bt.values()))).shape
        for ch in (*SOLAR, *WAVENUMBER):
            if ch in omit:
                continue
            k = 2 if ch in SOLAR else 1
            values = bt.get(ch, np.full((shape[0] * k, shape[1] * k), np.nan))
            _channel(nc, ch, np.asarray(values, np.float32), row0 * k, col0 * k)
        _state(nc, 0.0)
    return path
