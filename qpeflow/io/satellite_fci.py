"""MTG FCI level-1c (SEVIRI's successor, operational since 2024) through satpy ``fci_l1c_nc``.

An FCI repeat cycle (every 10 min, ``repeat_cycle_in_day`` 1-144) is disseminated as 40
netCDF-4 chunk files (FDHSI: 2 km thermal channels), named
``W_XX-EUMETSAT-Darmstadt,IMG+SAT,MTI1+FCI-1C-RRAD-FDHSI-FD--CHK-BODY--...-<rc>_<chunk>.nc``.
One chunk file read here reads every chunk of its repeat cycle lying beside it (as one HRIT
segment reads its slot), unpadded: only the rows the files hold.

A checkpoint asks for SEVIRI channels; each is read from the nearest FCI channel
(:data:`SEVIRI_TO_FCI`, by central wavelength: IR_108 <- ir_105, IR_120 <- ir_123, IR_087 <- ir_87,
IR_097 <- ir_97, IR_134 <- ir_133, WV_062 <- wv_63, WV_073 <- wv_73, IR_039 <- ir_38). The
Field keeps the SEVIRI name, the FCI one in ``attrs["fci_channel"]``, ``attrs["sensor"] = "fci"``
and the platform (satpy: MTI1 -> "Meteosat-12") so that provenance says what was applied.
``valid_time`` is the nominal end of the repeat cycle (satpy ``end_time``), as for SEVIRI.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from qpeflow.errors import input_error
from qpeflow.io.field import Field

#: SEVIRI channel a checkpoint asks for -> the FCI channel that stands in for it
SEVIRI_TO_FCI: dict[str, str] = {
    "IR_039": "ir_38",
    "WV_062": "wv_63",
    "WV_073": "wv_73",
    "IR_087": "ir_87",
    "IR_097": "ir_97",
    "IR_108": "ir_105",
    "IR_120": "ir_123",
    "IR_134": "ir_133",
}
FCI_TO_SEVIRI: dict[str, str] = {v: k for k, v in SEVIRI_TO_FCI.items()}
#: FCI repeat cycle (min)
FCI_CADENCE_MINUTES = 10
#: ..._<start %Y%m%d%H%M%S>_<end>_<processing mode>_<compression>_<disposition>_<rc:04d>_<chunk:04d>.nc
_TAIL = re.compile(r"_(\d{14})_(\d{14})_[^_]*_[^_]*_[^_]*_(\d{4})_(\d{4})\.nc$")


def is_fci_name(name: str) -> bool:
    """True for an FCI level-1c file name (``W_XX-EUMETSAT-...,MTI<n>+FCI-1C-RRAD-...nc``)."""
    base = Path(name).name
    return base.startswith("W_XX-EUMETSAT") and "+FCI-1C-RRAD-" in base and base.endswith(".nc")


def slot_key(name: str) -> str | None:
    """The repeat cycle an FCI chunk belongs to ("YYYYMMDD/rc"), None for another name."""
    m = _TAIL.search(Path(name).name) if is_fci_name(name) else None
    return None if m is None else f"{m.group(1)[:8]}/{m.group(3)}"


def fci_channel(channel: str) -> str:
    """The FCI channel for a SEVIRI one (an FCI name is returned as is)."""
    if channel in FCI_TO_SEVIRI:
        return channel
    if channel not in SEVIRI_TO_FCI:
        known = ", ".join(sorted(SEVIRI_TO_FCI))
        raise ValueError(f"SEVIRI channel {channel!r} has no FCI counterpart (FCI stands in for {known})")
    return SEVIRI_TO_FCI[channel]


def slot_files(path: str | PathLike[str]) -> list[Path]:
    """Every chunk file of ``path``'s repeat cycle in its folder (at least ``path`` itself)."""
    p = Path(path)
    key = slot_key(p.name)
    if key is None or not p.parent.is_dir():
        return [p]
    return sorted({p, *(q for q in p.parent.iterdir() if q.is_file() and slot_key(q.name) == key)})


def _check_groups(files: Sequence[Path], names: Sequence[str]) -> None:
    """Each chunk must hold ``data/<ch>/measured/effective_radiance`` (satpy would fail far from the file)."""
    import netCDF4

    for f in files:
        try:
            with netCDF4.Dataset(f) as nc:
                have = set(nc["data"].groups) if "data" in nc.groups else set()
                for ch in names:
                    if ch not in have or "effective_radiance" not in nc[f"data/{ch}/measured"].variables:
                        seviri = FCI_TO_SEVIRI.get(ch, ch)
                        raise input_error(
                            f, f"FCI file lacks channel {ch} (asked for as {seviri}); groups: {', '.join(sorted(have))}"
                        )
        except OSError as exc:
            raise input_error(f, f"corrupt or truncated FCI netCDF file: {exc}") from exc


def _scene(files: list[Path], label: str) -> Any:
    os.environ.setdefault("SATPY_DOWNLOAD_AUX", "False")
    from satpy import Scene

    try:
        return Scene(reader="fci_l1c_nc", filenames=[str(f) for f in files])
    except Exception as exc:  # satpy raises IndexError/KeyError/ValueError for files not in the FCI layout
        raise input_error(label, f"satpy fci_l1c_nc cannot open this FCI file: {type(exc).__name__}: {exc}") from exc


def read_fci(paths: Sequence[str | PathLike[str]], channels: Sequence[str] = ("IR_108",)) -> list[Field]:
    """Read the FCI stand-ins of SEVIRI ``channels`` from the chunk files of one repeat cycle.

    Returns one Field per channel in ``channels`` order, brightness temperature in K, north up,
    named by the SEVIRI channel asked for.

    Raises:
        QpeflowError: a channel without FCI counterpart, a file lacking a channel, or a file satpy refuses.
    """
    from qpeflow.io.satellite_satpy import _quiet_satpy, _to_field

    files = [Path(p) for p in paths]
    label = str(files[0])
    try:
        names = [fci_channel(c) for c in channels]
    except ValueError as exc:
        raise input_error(label, str(exc)) from None
    _check_groups(files, names)
    with _quiet_satpy():
        scn = _scene(files, label)
        try:
            scn.load(names, pad_data=False, calibration="brightness_temperature")
        except Exception as exc:
            raise input_error(label, f"satpy failed to load {names}: {type(exc).__name__}: {exc}") from exc
        fields = []
        for asked, name in zip(channels, names):
            field = _to_field(scn[name], FCI_TO_SEVIRI.get(asked, asked), label, crop=True)
            field.attrs.update(fci_channel=name, sensor="fci")
            fields.append(field)
    return fields


def read_fci_file(path: str | PathLike[str], channels: Sequence[str] = ("IR_108",)) -> list[Field]:
    """Registry entry: one FCI chunk file, read with the other chunks of its repeat cycle beside it."""
    p = Path(path)
    if not p.exists():
        raise input_error(path, "file not found")
    return read_fci(slot_files(p), channels)
