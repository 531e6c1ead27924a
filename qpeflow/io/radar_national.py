"""National radar composites of the pysteps example data: KNMI, MeteoSwiss, FMI, BoM.

Each ``read_*`` takes one file and returns ``[Field]`` with ``quantity="rain_rate"``
in mm/h, row 0 north, NaN outside coverage:

- KNMI HDF5 (``RAD_NL25_RAP_5min_*.h5``): 5-min accumulation (mm) x 12 -> mm/h;
  decoded by ``pysteps.io.importers.import_knmi_hdf5``; polar stereographic grid
  in km in the file, converted to metres here.
- MeteoSwiss GIF (``AQC*.gif``): colour-table coded rain; decoded by
  ``pysteps.io.importers.import_mch_gif`` directly in mm/h; Swiss oblique Mercator.
- FMI PGM (``*.pgm.gz``): lowest-CAPPI reflectivity in dBZ, decoded by
  ``pysteps.io.importers.import_fmi_pgm``, converted with Marshall-Palmer
  Z = 200 R^1.6 (values at the product's -32 dBZ floor -> 0 mm/h).
- BoM netCDF (``*.prcp-c10.nc``): 10-min accumulation (kg m-2 = mm) x 6 -> mm/h,
  read directly (CF grid mapping of the Albers projection; x/y in km).
"""

from __future__ import annotations

import gzip
import re
from datetime import datetime, timedelta
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from qpeflow.errors import QpeflowError, input_error
from qpeflow.io.field import RAIN_RATE, Field
from qpeflow.io.grid import Grid
from qpeflow.io.hdf5 import attr_str, open_hdf5
from qpeflow.io.pysteps_shim import import_pysteps
from qpeflow.io.zr import dbz_to_rain


def _importers() -> Any:
    import_pysteps()
    from pysteps.io import importers

    return importers


def _call_importer(func: Any, path: str | PathLike[str], **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """Run a pysteps importer; any failure becomes a QpeflowError naming the file."""
    try:
        data, _quality, meta = func(str(path), **kwargs)
    except QpeflowError:
        raise
    except Exception as exc:  # pysteps raises many kinds on a corrupt file
        raise input_error(path, f"cannot decode with pysteps {func.__name__}: {type(exc).__name__}: {exc}") from exc
    return np.asarray(data, dtype=np.float64), meta


def _km_proj_to_m(proj: str) -> str:
    """Rescale a PROJ string written for km coordinates (+a/+b/+x_0/+y_0 in km) to metres."""

    def scale(match: re.Match[str]) -> str:
        return f"+{match.group(1)}={float(match.group(2)) * 1000.0:g}"

    out = re.sub(r"\+(a|b|x_0|y_0)=([-+0-9.eE]+)", scale, proj)
    return out if "+units" in out else out + " +units=m"


def grid_from_pysteps(meta: dict[str, Any], shape: tuple[int, int]) -> Grid:
    """Grid from pysteps importer metadata (x1, y1, x2, y2 outer edges; yorigin 'upper')."""
    factor = 1000.0 if meta.get("cartesian_unit") == "km" else 1.0
    crs = _km_proj_to_m(meta["projection"]) if factor != 1.0 else meta["projection"]
    extent = tuple(float(meta[k]) * factor for k in ("x1", "y1", "x2", "y2"))
    return Grid.from_extent(crs, extent, shape)  # type: ignore[arg-type]


def _north_up(data: np.ndarray, meta: dict[str, Any]) -> np.ndarray:
    return data if meta.get("yorigin", "upper") == "upper" else data[::-1]


def read_knmi(path: str | PathLike[str]) -> list[Field]:
    """KNMI 5-min accumulation composite -> rain rate (mm/h) = accumulation (mm) * 60 / 5."""
    data, meta = _call_importer(_importers().import_knmi_hdf5, path, qty="ACRR", accutime=5.0)
    with open_hdf5(path) as fh:
        try:
            end = attr_str(fh["overview"].attrs["product_datetime_end"])
        except KeyError as exc:
            raise input_error(path, "KNMI file lacks overview/product_datetime_end") from exc
    time = np.datetime64(datetime.strptime(end.split(".")[0], "%d-%b-%Y;%H:%M:%S"), "s")
    rate = (_north_up(data, meta) * (60.0 / float(meta["accutime"]))).astype(np.float32)
    grid = grid_from_pysteps(meta, rate.shape)
    return [
        Field(
            rate,
            RAIN_RATE,
            "mm/h",
            time,
            grid,
            str(path),
            "ACRR",
            {"accumulation_minutes": float(meta["accutime"]), "institution": meta.get("institution", "")},
        )
    ]


def _mch_time(path: str | PathLike[str]) -> np.datetime64:
    """``AQCyyjjjhhmm?_*.gif``: year, day of year, hour, minute (end of the 5-min window)."""
    m = re.match(r"[A-Z]{3}(\d{2})(\d{3})(\d{2})(\d{2})", Path(path).name)
    if m is None:
        raise input_error(path, "MeteoSwiss file name does not follow AQCyyjjjhhmm...: cannot tell its time")
    yy, doy, hh, mm = (int(g) for g in m.groups())
    t = datetime(2000 + yy, 1, 1) + timedelta(days=doy - 1, hours=hh, minutes=mm)
    return np.datetime64(t, "s")


def read_mch(path: str | PathLike[str]) -> list[Field]:
    """MeteoSwiss AQC GIF composite, rain rate in mm/h on the Swiss 1 km grid."""
    time = _mch_time(path)
    data, meta = _call_importer(_importers().import_mch_gif, path, product="AQC", unit="mm/h", accutime=5.0)
    rate = _north_up(data, meta).astype(np.float32)
    return [
        Field(
            rate,
            RAIN_RATE,
            "mm/h",
            time,
            grid_from_pysteps(meta, rate.shape),
            str(path),
            "AQC",
            {"institution": "MeteoSwiss"},
        )
    ]


def _fmi_header(path: str | PathLike[str]) -> dict[str, str]:
    """The ``# key value`` lines of an FMI PGM header."""
    opener = gzip.open if str(path).endswith(".gz") else open
    header: dict[str, str] = {}
    try:
        with opener(path, "rb") as fh:  # type: ignore[operator]
            if fh.readline().strip() != b"P5":
                raise input_error(path, "not a binary PGM (P5) file")
            for raw in fh:
                if not raw.startswith(b"#"):
                    break
                parts = raw[1:].decode("ascii", errors="replace").split(None, 1)
                if len(parts) == 2:
                    header.setdefault(parts[0], parts[1].strip())
    except (OSError, EOFError) as exc:
        raise input_error(path, f"cannot read PGM header (corrupt or truncated gzip?): {exc}") from exc
    return header


def read_fmi(path: str | PathLike[str]) -> list[Field]:
    """FMI lowest-CAPPI reflectivity (dBZ) -> rain rate (mm/h) with Marshall-Palmer."""
    header = _fmi_header(path)
    if "obstime" not in header:
        raise input_error(path, "FMI PGM header lacks 'obstime'")
    time = np.datetime64(datetime.strptime(header["obstime"][:12], "%Y%m%d%H%M"), "s")
    dbz, meta = _call_importer(_importers().import_fmi_pgm, path, gzipped=str(path).endswith(".gz"))
    floor = float(meta.get("zerovalue", -32.0))
    rate = dbz_to_rain(_north_up(dbz, meta), min_dbz=floor)
    return [
        Field(
            rate,
            RAIN_RATE,
            "mm/h",
            time,
            grid_from_pysteps(meta, rate.shape),
            str(path),
            header.get("productname", "LOWEST"),
            {"zr": "Marshall-Palmer Z=200R^1.6", "institution": "FMI"},
        )
    ]


#: attributes of the BoM ``proj`` grid-mapping variable that define the Albers projection
BOM_PROJ_ATTRS = (
    "standard_parallel",
    "latitude_of_projection_origin",
    "longitude_of_central_meridian",
    "semi_major_axis",
    "semi_minor_axis",
)


def _bom_crs(proj: Any, path: str | PathLike[str]) -> str:
    """PROJ string of the BoM CF ``albers_conical_equal_area`` grid mapping."""
    missing = [a for a in BOM_PROJ_ATTRS if a not in proj.ncattrs()]
    if missing:
        raise input_error(path, f"BoM netCDF variable 'proj' lacks the grid-mapping attribute(s) {missing}")
    if np.atleast_1d(proj.standard_parallel).size < 2:
        raise input_error(path, "BoM netCDF 'proj' standard_parallel needs two latitudes")
    lat1, lat2 = (float(v) for v in np.atleast_1d(proj.standard_parallel)[:2])
    return (
        f"+proj=aea +lat_1={lat1} +lat_2={lat2} +lat_0={float(proj.latitude_of_projection_origin)} "
        f"+lon_0={float(proj.longitude_of_central_meridian)} +x_0=0 +y_0=0 "
        f"+a={float(proj.semi_major_axis)} +b={float(proj.semi_minor_axis)} +units=m +no_defs"
    )


def read_bom(path: str | PathLike[str]) -> list[Field]:
    """BoM Rainfields 10-min accumulation (mm) -> rain rate (mm/h) = accumulation * 60 / minutes."""
    import netCDF4

    try:
        ds = netCDF4.Dataset(path)
    except OSError as exc:
        raise input_error(path, f"not a readable netCDF file (truncated or corrupt?): {exc}") from exc
    try:
        for name in ("precipitation", "x", "y", "valid_time", "start_time", "proj"):
            if name not in ds.variables:
                raise input_error(path, f"BoM netCDF lacks variable {name!r}")
        acc = np.ma.filled(ds["precipitation"][...].astype(np.float64), np.nan)
        x, y = np.asarray(ds["x"][:], float) * 1000.0, np.asarray(ds["y"][:], float) * 1000.0
        end, start = int(ds["valid_time"][...]), int(ds["start_time"][...])
        crs = _bom_crs(ds["proj"], path)
    finally:
        ds.close()
    minutes = (end - start) / 60.0
    if minutes <= 0:
        raise input_error(path, f"BoM accumulation window of {minutes} min")
    if y[0] < y[-1]:
        acc, y = acc[::-1], y[::-1]
    if x[0] > x[-1]:
        acc, x = acc[:, ::-1], x[::-1]
    dx, dy = float(x[1] - x[0]), float(y[0] - y[1])
    grid = Grid(crs, float(x[0] - dx / 2), dx, float(y[0] + dy / 2), -dy, acc.shape)
    rate = (acc * (60.0 / minutes)).astype(np.float32)
    time = np.datetime64(end, "s")
    return [
        Field(
            rate,
            RAIN_RATE,
            "mm/h",
            time,
            grid,
            str(path),
            "precipitation",
            {"accumulation_minutes": minutes, "institution": "BoM"},
        )
    ]
