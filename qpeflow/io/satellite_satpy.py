"""SEVIRI level-1.5 files through satpy: native (.nat), HRIT segments, EUMETSAT netCDF.

satpy readers: ``seviri_l1b_native``, ``seviri_l1b_hrit`` (a folder or a list
of segment files plus PRO and EPI), ``seviri_l1b_nc``. Thermal channels are
calibrated to brightness temperature (K). Set ``SATPY_DOWNLOAD_AUX=False``
(done here) so satpy never tries the network.

Time: the Field's ``valid_time`` is the end of the repeat cycle (satpy
``end_time``), the time closest to when Europe is scanned and the convention of
the Satip stores; the start is kept in ``attrs["start_time"]``.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from qpeflow.errors import QpeflowError, input_error
from qpeflow.io.field import Field
from qpeflow.io.grid import Grid
from qpeflow.io.satellite_common import channel_field, grid_from_centres, missing_channel, orient_north_up
from qpeflow.io.satellite_fci import is_fci_name

PathsLike = str | PathLike[str] | Sequence[str | PathLike[str]]


def satpy_reader_for(name: str) -> str | None:
    """The satpy reader name for a SEVIRI (or MTG FCI) file name, or None.

    EUMETSAT's netCDF names all start ``W_XX-EUMETSAT``: ``...,MTI1+FCI-1C-RRAD-...nc`` is FCI
    level 1c (``fci_l1c_nc``), ``...,VIS+IR+HRV+IMAGERY,MSG4+SEVIRI_C_EUMG_...nc`` SEVIRI.
    """
    base = Path(name).name
    if base.upper().endswith(".NAT"):
        return "seviri_l1b_native"
    if base.startswith("H-000-MSG"):
        return "seviri_l1b_hrit"
    if is_fci_name(base):
        return "fci_l1c_nc"
    if base.startswith("W_XX-EUMETSAT") and base.endswith(".nc"):
        return "seviri_l1b_nc"
    return None


@contextmanager
def _quiet_satpy() -> Iterator[None]:
    """Hide satpy's informational log lines (e.g. "No IMPF configuration field") and the
    UserWarnings its readers and pyresample raise (e.g. HRIT without a PRO file) for one read:
    what qpeflow needs from the files it checks itself, with one-line errors."""
    # hrit_msg, native_msg: the loggers of satpy's HRIT and native readers ("Unable to find orbit coefficients")
    loggers = [logging.getLogger(name) for name in ("satpy", "hrit_msg", "native_msg")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            for module in ("satpy", "pyresample", "pyproj", "dask"):
                warnings.filterwarnings("ignore", category=UserWarning, module=module)
            warnings.filterwarnings("ignore", category=RuntimeWarning, module="satpy")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _expand(paths: PathsLike) -> list[Path]:
    items = [paths] if isinstance(paths, (str, PathLike)) else list(paths)
    files: list[Path] = []
    for item in items:
        p = Path(item)
        files.extend(sorted(q for q in p.iterdir() if q.is_file()) if p.is_dir() else [p])
    return files


def _scene(files: list[Path], label: str) -> Any:
    os.environ.setdefault("SATPY_DOWNLOAD_AUX", "False")
    readers = {satpy_reader_for(str(f)) for f in files} - {None}
    if len(readers) != 1:
        raise input_error(label, f"cannot tell one SEVIRI format from the file names (readers {sorted(readers)})")
    reader = readers.pop()
    if reader == "seviri_l1b_hrit":
        _check_hrit_parts(files, label)
    from satpy import Scene

    try:
        return Scene(reader=reader, filenames=[str(f) for f in files])
    except Exception as exc:  # satpy raises ValueError/OSError/KeyError for unusable files
        raise input_error(label, f"satpy cannot open these SEVIRI files: {type(exc).__name__}: {exc}") from exc


def _check_hrit_parts(files: list[Path], label: str) -> None:
    """An HRIT slot needs its prologue and epilogue beside the segments (satpy only warns, then fails)."""
    names = [f.name for f in files]
    for part, what in (("-PRO", "prologue"), ("-EPI", "epilogue")):
        if not any(part in n for n in names):
            raise input_error(
                label, f"HRIT slot without its {what} file (H-000-...{part}______-...); copy it beside the segments"
            )


def _crop_to_data(data: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smallest row/column window holding every finite pixel (HRIT with a few segments)."""
    finite = np.isfinite(data)
    rows, cols = np.flatnonzero(finite.any(axis=1)), np.flatnonzero(finite.any(axis=0))
    if rows.size == 0:
        return data, x, y
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    return data[r0:r1, c0:c1], x[c0:c1], y[r0:r1]


def _to_field(arr: Any, channel: str, label: str, crop: bool) -> Field:
    area = arr.attrs.get("area")
    if area is None or not hasattr(area, "crs"):
        raise input_error(label, f"satpy read {channel} without a georeference (no area: corrupt header?)")
    with warnings.catch_warnings():  # to_proj4 warns that a PROJ string is lossy; geos is not
        warnings.simplefilter("ignore", UserWarning)
        crs = area.crs.to_proj4()
    try:
        data = np.asarray(arr.values, dtype=np.float32)
    except Exception as exc:
        raise input_error(label, f"cannot decode {channel}: {type(exc).__name__}: {exc}") from exc
    data, x, y = orient_north_up(data, np.asarray(arr["x"].values, float), np.asarray(arr["y"].values, float))
    if crop:
        data, x, y = _crop_to_data(data, x, y)
    end, start = arr.attrs.get("end_time"), arr.attrs.get("start_time")
    time = np.datetime64(end or start, "s")
    attrs = {
        "platform": str(arr.attrs.get("platform_name", "")),
        "start_time": str(start),
        "reader": str(arr.attrs.get("reader", "")),
    }
    return channel_field(data, channel, time, grid_from_centres(crs, x, y), label, attrs)


def read_seviri(
    paths: PathsLike, channels: Sequence[str] = ("IR_108",), area: Grid | None = None, crop_to_data: bool = True
) -> list[Field]:
    """Read SEVIRI channels with satpy; one Field per channel, in ``channels`` order.

    Args:
        paths: a .nat file, a netCDF file, an HRIT folder, or a list of HRIT segment/PRO/EPI files.
        channels: SEVIRI channel names ("IR_108", "WV_062", ...).
        area: optional target Grid; each channel is then regridded bilinearly onto it.
        crop_to_data: drop all-NaN border rows/columns (space, missing HRIT segments).
    """
    files = _expand(paths)
    if not files:
        raise input_error(str(paths), "no files")
    readers = {satpy_reader_for(f.name) for f in files}
    if readers == {"fci_l1c_nc"}:
        from qpeflow.io.satellite_fci import read_fci

        fields = read_fci(files, channels)
        return fields if area is None else _regridded(fields, area)
    if len(files) > 1 and "seviri_l1b_hrit" not in readers:
        # one scene per .nat / netCDF file, so that an error names the bad file, never its folder
        return [f for one in files for f in read_seviri([one], channels, area, crop_to_data)]
    # name the file itself when there is one (a .nat, a netCDF), the folder for HRIT segments
    label = str(files[0] if len(files) == 1 else paths if isinstance(paths, (str, PathLike)) else files[0].parent)
    with _quiet_satpy():
        scn = _scene(files, label)
        available = list(scn.available_dataset_names())
        for ch in channels:
            if ch not in available:
                raise missing_channel(label, ch, available)
        try:
            scn.load(list(channels))
        except Exception as exc:
            raise input_error(label, f"satpy failed to load {list(channels)}: {type(exc).__name__}: {exc}") from exc
        fields = [_to_field(scn[ch], ch, label, crop_to_data) for ch in channels]
    return fields if area is None else _regridded(fields, area)


def _regridded(fields: list[Field], area: Grid) -> list[Field]:
    from qpeflow.io.regrid import regrid

    return [regrid(f, area, "bilinear") for f in fields]


def read_seviri_file(path: str | PathLike[str], channels: Sequence[str] = ("IR_108",)) -> list[Field]:
    """Registry entry: one SEVIRI file (an HRIT segment reads its whole folder of the same slot)."""
    p = Path(path)
    if satpy_reader_for(p.name) == "seviri_l1b_hrit":
        slot = p.name.split("-")[6] if p.name.count("-") >= 7 else ""
        siblings = [q for q in p.parent.iterdir() if q.name.startswith("H-000-") and slot in q.name]
        return read_seviri(sorted(siblings), channels)
    if not p.exists():
        raise QpeflowError(f"{path}: file not found")
    return read_seviri([p], channels)
