"""Raw files -> :class:`~qpeflow.io.field.Field`: format detection and the reader registry.

Every reader in :data:`READERS` has the signature

    reader(path: str | PathLike, **kwargs) -> list[Field]

returning one Field per (time, channel) in the file (a multi-time file gives all
its times; an FCI chunk or an HRIT segment reads its whole repeat cycle). Rain readers give ``rain_rate`` in mm/h (ODIM: as stored unless
``to_rain=True``), satellite readers brightness temperature in K (``channels=``
selects). Any unreadable or unknown input raises :class:`qpeflow.errors.QpeflowError`
naming the file. This package imports nothing else from qpeflow but errors.
"""

from __future__ import annotations

import gzip
import zipfile
from collections.abc import Callable
from os import PathLike
from pathlib import Path
from typing import Any

from qpeflow.errors import input_error
from qpeflow.io.field import Field
from qpeflow.io.grid import Grid
from qpeflow.io.hdf5 import open_hdf5
from qpeflow.io.radar_meteofrance import read_meteofrance, read_meteofrance_grid
from qpeflow.io.radar_national import read_bom, read_fmi, read_knmi, read_mch
from qpeflow.io.radar_odim import read_odim, read_w4c_rates
from qpeflow.io.satellite_fci import read_fci_file
from qpeflow.io.satellite_satip import read_satip
from qpeflow.io.satellite_satpy import read_seviri, read_seviri_file, satpy_reader_for
from qpeflow.io.satellite_w4c import read_w4c_hrit
from qpeflow.io.sevmos import read_sevmos

__all__ = ["READERS", "SATELLITE_FORMATS", "Field", "Grid", "detect_format", "read", "read_seviri"]

#: format name -> reader(path, **kwargs) -> list[Field]
READERS: dict[str, Callable[..., list[Field]]] = {
    "odim": read_odim,
    "knmi": read_knmi,
    "mch_gif": read_mch,
    "fmi_pgm": read_fmi,
    "bom_nc": read_bom,
    "w4c_rates": read_w4c_rates,
    "seviri_native": read_seviri_file,
    "seviri_hrit": read_seviri_file,
    "seviri_nc": read_seviri_file,
    "fci_nc": read_fci_file,
    "satip_zarr": read_satip,
    "w4c_hrit": read_w4c_hrit,
    "meteofrance": read_meteofrance,
    "meteofrance_grid": read_meteofrance_grid,
    "sevmos": read_sevmos,
}
SATELLITE_FORMATS = frozenset(
    {"seviri_native", "seviri_hrit", "seviri_nc", "fci_nc", "satip_zarr", "w4c_hrit", "sevmos"}
)

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_SATPY_FORMATS = {
    "seviri_l1b_native": "seviri_native",
    "seviri_l1b_hrit": "seviri_hrit",
    "seviri_l1b_nc": "seviri_nc",
    "fci_l1c_nc": "fci_nc",
}


def _hdf5_format(path: Path) -> str | None:
    """Tell ODIM / KNMI / Weather4cast / BoM netCDF-4 apart by their groups and variables."""
    with open_hdf5(path) as fh:
        keys = set(fh.keys())
        if ("what" in keys and "object" in fh["what"].attrs) or "dataset1" in keys:
            return "odim"
        if "image1" in keys and "image_data" in fh["image1"]:
            return "knmi"
        if "rates.crop" in keys:
            return "w4c_rates"
        if "REFL-BT" in keys:
            return "w4c_hrit"
        if "precipitation" in keys and "proj" in keys:
            return "bom_nc"
        if "ACRR" in keys and "QUALITY" in keys:
            return "meteofrance"
        if "rain_rate" in keys and "rain_quality" in keys:
            return "sevmos"
        if {"grid_mapping", "X", "Y", "latitude", "longitude"} <= keys:
            return "meteofrance_grid"
    return None


def _zip_format(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise input_error(path, f"corrupt or truncated zip file: {exc}") from exc
    if any(n.endswith((".zgroup", ".zarray", "zarr.json")) for n in names) and any(
        n.startswith("data/") for n in names
    ):
        return "satip_zarr"
    return None


def _gzip_format(path: Path) -> str | None:
    try:
        with gzip.open(path, "rb") as fh:
            head = fh.read(2)
    except (OSError, EOFError) as exc:
        raise input_error(path, f"corrupt or truncated gzip file: {exc}") from exc
    return "fmi_pgm" if head == b"P5" else None


def _by_content(path: Path, head: bytes) -> str | None:
    if head.startswith(_HDF5_MAGIC):
        return _hdf5_format(path)
    if head.startswith(b"PK"):
        return _zip_format(path)
    if head.startswith(b"\x1f\x8b"):
        return _gzip_format(path)
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "mch_gif"
    if head.startswith(b"P5"):
        return "fmi_pgm"
    return None


def detect_format(path: str | PathLike[str]) -> str:
    """The :data:`READERS` key for a file (or an HRIT folder), from its content and name.

    Raises:
        QpeflowError: missing file, corrupt container, or a format no reader knows.
    """
    p = Path(path)
    if p.is_dir():
        if any(q.name.startswith("H-000-MSG") for q in p.iterdir()):
            return "seviri_hrit"
        raise input_error(path, "a folder that holds no HRIT segments (H-000-MSG*)")
    if not p.exists():
        raise input_error(path, "file not found")
    if p.is_file() and p.stat().st_size == 0:
        raise input_error(path, "empty file (0 bytes)")
    by_name = satpy_reader_for(p.name)
    if by_name is not None:
        return _SATPY_FORMATS[by_name]
    with open(p, "rb") as fh:
        head = fh.read(8)
    fmt = _by_content(p, head)
    if fmt is None:
        raise input_error(
            path,
            "unknown file format (expected ODIM/KNMI/Weather4cast HDF5, MeteoSwiss GIF, "
            "FMI PGM, BoM netCDF, Meteo-France mosaic, sevmos netCDF, SEVIRI native/HRIT/netCDF, MTG FCI L1c "
            "netCDF or a Satip zarr zip)",
        )
    return fmt


def read(path: str | PathLike[str], **kwargs: Any) -> list[Field]:
    """Detect the format of ``path`` and read it: one Field per time and channel."""
    fmt = detect_format(path)
    return READERS[fmt](path, **kwargs)
