"""A time sequence of SEVIRI frames, checked against what a checkpoint was trained on.

Files of any format :func:`qpeflow.io.read` supports (satpy native / HRIT /
netCDF, Satip zarr zip, Weather4cast HDF5) are read into :class:`Field` s and
grouped by slot (fields less than ``SAME_SLOT_S`` apart belong to one slot). The
slots a model needs are ``t0 + time_in`` (e.g. t0-45, -30, -15, 0 min), t0 the
latest slot given: a 5-min rapid-scan sequence is thereby subsampled to a 15-min
model cadence. Every problem is one :class:`QpeflowError` naming a file: a
missing slot, a cadence that cannot give the model's, a channel the checkpoint
needs but a file lacks, two satellites mixed, an infrared brightness temperature
outside [150, 350] K, a channel without one valid pixel, a file without time
stamps (Weather4cast ``REFL-BT``), an empty folder, a negative tolerance.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qpeflow.errors import QpeflowError, input_error
from qpeflow.io.field import Field
from qpeflow.io.satellite_fci import slot_key

log = logging.getLogger(__name__)

#: physical range of an infrared brightness temperature (K); outside it the file is broken or not BT
IR_RANGE_K = (150.0, 350.0)
#: fields closer than this (s) belong to one repeat cycle (slot)
SAME_SLOT_S = 90
#: MSG mission names -> Meteosat names, so that satpy readers agree on the platform
_PLATFORM_ALIASES = {
    "MSG1": "Meteosat-8",
    "MSG2": "Meteosat-9",
    "MSG3": "Meteosat-10",
    "MSG4": "Meteosat-11",
    "MTI1": "Meteosat-12",
    "MTGI1": "Meteosat-12",
}
#: Meteosat names of the MTG imagers (FCI); Meteosat-8 .. -11 are MSG (SEVIRI)
_FCI_PLATFORMS = frozenset({"Meteosat-12", "Meteosat-13", "Meteosat-14", "Meteosat-15"})

#: reader(path, channels) -> fields of the channels at every time the file holds
Reader = Callable[[str, Sequence[str]], list[Field]]


@dataclass(frozen=True)
class Frame:
    """One slot: channel name -> Field, all at (about) ``valid_time``."""

    valid_time: np.datetime64
    fields: dict[str, Field]

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.source for f in self.fields.values()))

    @property
    def source(self) -> str:
        """The file to name in an error about this slot."""
        return self.files[0]


def platform_of(field: Field) -> str:
    """The satellite of a field (``attrs["platform_name"]`` or ``attrs["platform"]``), '' if unknown."""
    name = str(field.attrs.get("platform_name") or field.attrs.get("platform") or "")
    return _PLATFORM_ALIASES.get(name.upper().replace("-", "").replace("_", ""), name)


def _default_reader(path: str, channels: Sequence[str]) -> list[Field]:
    from qpeflow.io import READERS, SATELLITE_FORMATS, detect_format  # the format dispatcher

    fmt = detect_format(path)
    if fmt not in SATELLITE_FORMATS:
        raise input_error(
            path,
            f"not a SEVIRI file (it reads as {fmt!r}); give native, HRIT, netCDF, MTG FCI, Satip zarr or "
            "Weather4cast files",
        )
    return READERS[fmt](path, channels=tuple(channels))


def distinct_files(paths: Sequence[str | Path]) -> list[Path]:
    """Folders expanded to their files; one HRIT file per (folder, slot), since one reads the whole slot."""
    files: list[Path] = []
    for item in map(Path, paths):
        if item.is_dir():
            inside = sorted(q for q in item.iterdir() if q.is_file() and not q.name.startswith("."))
            if not inside:
                raise input_error(item, "empty folder: no satellite files in it")
            files.extend(inside)
        else:
            files.append(item)
    seen: set[tuple[Path, str]] = set()
    out = []
    for f in files:
        parts = f.name.split("-")
        fci = slot_key(f.name)  # FCI chunks: one reads its whole repeat cycle
        if fci is not None or (f.name.startswith("H-000-") and len(parts) >= 7):
            key = (f.parent, fci or parts[6])  # HRIT: H-000-MSG2__-MSG2________-IR_108___-000004___-201010111400-__
            if key in seen:
                continue
            seen.add(key)
        out.append(f)
    return out


def read_frames(paths: Sequence[str | Path], channels: Sequence[str], reader: Reader | None = None) -> list[Frame]:
    """Read the ``channels`` of satellite files and group their fields into slots, oldest first.

    Raises:
        QpeflowError: a file is unreadable or lacks a channel (from the reader),
            or two files hold different satellites.
    """
    if not paths:
        raise QpeflowError("no satellite files given (--sat FILES...)")
    read = reader or _default_reader
    fields: list[Field] = []
    for path in distinct_files(paths):
        if not path.exists():
            raise input_error(path, "satellite file not found")
        got = read(str(path), channels)
        if not got:
            raise input_error(path, "holds no satellite field")
        fields.extend(got)
    check_times(fields)
    check_platform(fields)
    return group_slots(fields)


def check_times(fields: Sequence[Field]) -> None:
    """Raise naming the file of the first field without a valid time (NaT)."""
    for f in fields:
        if np.isnat(np.datetime64(f.valid_time)):
            raise input_error(
                f.source,
                "holds no time stamps (a Weather4cast REFL-BT file has neither times nor a georeference), so "
                "its slots cannot be matched to the checkpoint's input sequence; give SEVIRI native, HRIT, "
                "netCDF or Satip zarr files",
            )


def group_slots(fields: Sequence[Field]) -> list[Frame]:
    """Fields -> slots (a new slot where consecutive times differ by more than SAME_SLOT_S), oldest first."""
    frames: list[Frame] = []
    for f in sorted(fields, key=lambda f: f.valid_time):
        if frames and abs(int((f.valid_time - frames[-1].valid_time) / np.timedelta64(1, "s"))) <= SAME_SLOT_S:
            frames[-1].fields.setdefault(f.name, f)  # the first file holding a channel wins
        else:
            frames.append(Frame(f.valid_time.astype("datetime64[s]"), {f.name: f}))
    return frames


def instrument_of(field: Field) -> str:
    """ "fci" (MTG), "seviri" (MSG) or '' if unknown: ``attrs["sensor"]``, else told by the platform."""
    sensor = str(field.attrs.get("sensor") or "").lower()
    if sensor in ("fci", "seviri"):
        return sensor
    platform = platform_of(field)
    if platform.startswith("MTG") or platform in _FCI_PLATFORMS:
        return "fci"
    return "seviri" if platform.startswith(("Meteosat", "MSG")) else ""


def check_instrument(fields: Sequence[Field]) -> None:
    """Raise naming the first file of another imager: an FCI (10-min) file among SEVIRI ones, or the reverse."""
    known = [(instrument_of(f), f) for f in fields if instrument_of(f)]
    for name, f in known[1:]:
        if name != known[0][0]:
            fci, seviri = (f, known[0][1]) if name == "fci" else (known[0][1], f)
            raise input_error(
                f.source,
                f"an MTG FCI file ({Path(fci.source).name}) mixed with SEVIRI files ({Path(seviri.source).name}) "
                "in one sequence; give the frames of one imager",
            )


def check_platform(fields: Sequence[Field]) -> None:
    """Raise if the fields come from more than one imager or satellite (unknown platforms are not compared)."""
    check_instrument(fields)
    known = [(platform_of(f), f) for f in fields if platform_of(f)]
    for name, f in known[1:]:
        if name != known[0][0]:
            raise input_error(
                f.source,
                f"satellite {name} mixed with {known[0][0]} of {known[0][1].source}; give files of one satellite",
            )


def _minutes(delta: np.timedelta64) -> float:
    return float(delta / np.timedelta64(1, "s")) / 60.0


def _hhmm(t: np.datetime64) -> str:
    return str(t.astype("datetime64[m]")).replace("T", " ")


def _spacing_minutes(frames: Sequence[Frame]) -> float | None:
    """Smallest spacing between consecutive slots (min), None for a single slot."""
    if len(frames) < 2:
        return None
    return min(_minutes(b.valid_time - a.valid_time) for a, b in zip(frames[:-1], frames[1:]))


def select_slots(
    frames: Sequence[Frame],
    time_in: Sequence[int],
    cadence_minutes: float,
    tolerance_minutes: float = 2.0,
    t0: np.datetime64 | None = None,
) -> list[Frame]:
    """The frames at ``t0 + time_in`` (t0 = the latest slot unless given), one per offset, oldest first.

    Args:
        frames: slots from :func:`read_frames`, oldest first.
        time_in: input offsets in minutes relative to the valid time, e.g. [-45, -30, -15, 0].
        cadence_minutes: the checkpoint's cadence (for the error message and the cadence check).
        tolerance_minutes: how far a slot may lie from its nominal time.
        t0: the valid time (default: the latest slot's time).

    Raises:
        QpeflowError: the files' cadence cannot give the model's, or a slot is missing.
    """
    if not frames:
        raise QpeflowError("no satellite slots to choose from")
    if not np.isfinite(tolerance_minutes) or tolerance_minutes < 0:
        raise QpeflowError(f"tolerance {tolerance_minutes:g} min: must be >= 0")
    t0 = frames[-1].valid_time if t0 is None else np.datetime64(t0, "s")
    chosen: list[Frame] = []
    need = ", ".join(f"{o:+d}" for o in time_in)
    for offset in time_in:
        target = t0 + np.timedelta64(int(round(offset * 60)), "s")
        best = min(frames, key=lambda f: abs(_minutes(f.valid_time - target)))
        if abs(_minutes(best.valid_time - target)) <= tolerance_minutes:
            chosen.append(best)
            continue
        spacing = _spacing_minutes(frames)
        off = spacing is not None and _off_cadence(spacing, cadence_minutes, tolerance_minutes)
        if spacing is not None and spacing > tolerance_minutes and off:
            fci = " (MTG FCI repeat cycles)" if all(instrument_of(f) == "fci" for f in best.fields.values()) else ""
            raise input_error(
                best.source,
                f"satellite files are {spacing:g} min apart{fci}, which cannot give the "
                f"checkpoint's {cadence_minutes:g}-min sequence (t0 {need} min): the slot for t0{offset:+d} min "
                f"({_hhmm(target)[-5:]}) is {abs(_minutes(best.valid_time - target)):g} min from the nearest file "
                f"({_hhmm(best.valid_time)[-5:]}), beyond the {tolerance_minutes:g}-min tolerance",
            )
        raise input_error(
            frames[-1].source,
            f"missing slot {_hhmm(target)} UTC (t0{offset:+d} min): the checkpoint "
            f"needs {len(time_in)} frame(s) at t0 {need} min "
            f"(t0 = {_hhmm(t0)}), the files give "
            f"{', '.join(_hhmm(f.valid_time)[-5:] for f in frames)}",
        )
    worst = max(abs(_minutes(f.valid_time - t0) - o) for f, o in zip(chosen, time_in))
    if worst > 0:
        log.warning(
            "satellite slots up to %g min from the checkpoint's offsets (tolerance %g)", worst, tolerance_minutes
        )
    skipped = len(frames) - len({id(f) for f in chosen})
    if skipped:
        log.info("using %d of %d satellite slots (cadence %g min)", len(time_in), len(frames), cadence_minutes)
    return chosen


def _off_cadence(spacing: float, cadence: float, tol: float) -> bool:
    """True if a regular sequence every ``spacing`` min cannot hit every multiple of ``cadence``."""
    remainder = cadence % spacing
    return min(remainder, spacing - remainder) > tol


def check_channels(frames: Sequence[Frame], channels: Sequence[str]) -> None:
    """Raise naming the file of the first slot that lacks a channel the checkpoint needs."""
    for frame in frames:
        missing = [c for c in channels if c not in frame.fields]
        if missing:
            raise input_error(
                frame.source,
                f"lacks channel(s) {', '.join(missing)} that the checkpoint needs "
                f"(it was trained on {', '.join(channels)}; this slot holds "
                f"{', '.join(sorted(frame.fields)) or 'none'})",
            )


def is_infrared(field: Field) -> bool:
    """A thermal channel in brightness temperature (IR_039 .. IR_134, WV_062, WV_073), not IR_016."""
    return field.units == "K" and field.name != "IR_016"


def check_brightness(field: Field, bounds: tuple[float, float] = IR_RANGE_K) -> None:
    """Raise if a channel holds no valid pixel, or a thermal one a brightness temperature outside ``bounds`` (K)."""
    finite = field.data[np.isfinite(field.data)]
    if finite.size == 0:
        raise input_error(field.source, f"{field.name} holds no valid pixel (all NaN): corrupt or empty file?")
    if not is_infrared(field):
        return
    lo, hi = float(finite.min()), float(finite.max())
    if lo < bounds[0] or hi > bounds[1]:
        raise input_error(
            field.source,
            f"{field.name} brightness temperature spans {lo:.1f}..{hi:.1f} K, "
            f"outside the physical range {bounds[0]:g}..{bounds[1]:g} K "
            "(not calibrated to brightness temperature, or corrupt)",
        )


def checked_sequence(
    frames: Sequence[Frame],
    channels: Sequence[str],
    time_in: Sequence[int],
    cadence_minutes: float,
    tolerance_minutes: float = 2.0,
    t0: np.datetime64 | None = None,
) -> list[Frame]:
    """:func:`select_slots`, then :func:`check_channels` and :func:`check_brightness` on what is used."""
    chosen = select_slots(frames, time_in, cadence_minutes, tolerance_minutes, t0)
    check_channels(chosen, channels)
    for frame in chosen:
        for c in channels:
            check_brightness(frame.fields[c])
    return chosen
