"""A prepared store from a user's own archive of SEVIRI files and radar composites (``--source pairs``).

For every radar field (valid time t) the satellite slots ``t + time_in`` (e.g.
t-45, -30, -15, 0 min) are looked up among the satellite files, each within
``prepare.time_tolerance_minutes`` (default 5 min); a window with a missing slot
is dropped (the count is logged). Both go onto one target grid: by default a
Lambert azimuthal equal-area grid of ``prepare.resolution_km`` (4 km) over the
overlap of the radar domain and the satellite footprint (block mean for rain;
block mean or bilinear for brightness temperature). Radar ``nodata`` is masked
(mask False, target 0), ``undetect`` is 0 mm/h rain that counts (mask True);
negative rain (a corrupt or wrongly scaled radar file) is masked like ``nodata``
and counted in the log and in the store attribute ``radar_negative_pixels_masked``.
A file in the satellite folder that looks like a satellite file (``.zip``, ``.h5``,
``.nc`` ...) but cannot be read, or holds no valid pixel, is an error naming it.
Optionally the infrared is parallax corrected (:mod:`qpeflow.data.simulator.parallax`).
The grid is cut into ``prepare.patch`` x ``prepare.patch`` patches; patches
with less than half radar coverage or any missing infrared are skipped, all-dry
patches are kept with probability ``prepare.dry_keep_fraction``. Events are days
(UTC), split chronologically: the last days go to test, the ones before to val.
The store says ``infrared = "observed"``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from qpeflow.config import ExperimentConfig, PrepareConfig
from qpeflow.data.store import StoreArrays, StoreSummary, check_store_target, write_store
from qpeflow.errors import QpeflowError, input_error
from qpeflow.io import SATELLITE_FORMATS, detect_format, read
from qpeflow.io.field import ACCUMULATION, RAIN_RATE, REFLECTIVITY, Field
from qpeflow.io.grid import Grid
from qpeflow.io.quality import NEGATIVE_ATTR, apply_quality, mask_negative_rain
from qpeflow.io.regrid import regrid
from qpeflow.io.sat_sequence import check_platform, distinct_files, group_slots
from qpeflow.io.target_grid import bounds_in
from qpeflow.io.zr import dbz_to_rain

log = logging.getLogger(__name__)
MIN_RADAR_COVERAGE = 0.5  # fraction of a patch the radar must see


@dataclass(frozen=True)
class PairSample:
    """One training sample window: the radar field at t and the slot index of each input offset."""

    radar: Field
    slots: tuple[int, ...]


def _files(folder: str | Path) -> list[Path]:
    root = Path(folder)
    if not root.is_dir():
        raise QpeflowError(f"{root}: not a folder")
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def as_rain_rate(field: Field) -> Field:
    """A radar Field as rain rate (mm/h): accumulations divided by their duration, dBZ by Marshall-Palmer."""
    if field.quantity == RAIN_RATE:
        return field
    if field.quantity == ACCUMULATION and field.attrs.get("accumulation_minutes"):
        data = field.data * (60.0 / float(field.attrs["accumulation_minutes"]))
    elif field.quantity == REFLECTIVITY:
        data = dbz_to_rain(field.data, min_dbz=-32.0)
    else:
        raise QpeflowError(f"{field.source}: radar quantity {field.quantity!r} cannot be turned into rain rate")
    return Field(
        data.astype(np.float32), RAIN_RATE, "mm/h", field.valid_time, field.grid, field.source, field.name, field.attrs
    )


def read_radar(folder: str | Path, progress: bool = True, quality_threshold: float = 0.0) -> list[Field]:
    """Every rain field under ``folder`` as rain rate (negative rain and quality < threshold % masked), oldest first."""
    fields: list[Field] = []
    for path in tqdm(_files(folder), desc="radar", unit="file", leave=False, disable=not progress):
        kw = {"to_rain": True} if detect_format(path) == "odim" else {}
        fields.extend(apply_quality(mask_negative_rain(as_rain_rate(f)), quality_threshold) for f in read(path, **kw))
    if not fields:
        raise QpeflowError(f"{folder}: no radar files")
    total = sum(int(f.attrs[NEGATIVE_ATTR]) for f in fields)
    if total:
        bad = sum(int(f.attrs[NEGATIVE_ATTR]) > 0 for f in fields)
        log.warning("pairs: %d radar pixel(s) of negative rain in %d of %d field(s) masked", total, bad, len(fields))
    return sorted(fields, key=lambda f: f.valid_time)


#: names of files that must be satellite files when they sit in the --sat folder
SATELLITE_SUFFIXES = (".zip", ".h5", ".hdf5", ".hdf", ".nc", ".nat")


def satellite_files(folder: str | Path) -> list[Path]:
    """The SEVIRI files under ``folder`` (one per HRIT slot); other files (notes, ...) ignored.

    Raises:
        QpeflowError: no SEVIRI file, or a file named like one (``.zip``, ``.h5``,
            ``.nc``, ``.nat``) that is empty, truncated or corrupt.
    """
    files = [p for p in distinct_files(_files(folder)) if _is_satellite(p)]
    if not files:
        raise QpeflowError(f"{folder}: no SEVIRI files (native, HRIT, netCDF, Satip zarr zip, Weather4cast HDF5)")
    return files


def _is_satellite(path: Path) -> bool:
    try:
        return detect_format(path) in SATELLITE_FORMATS
    except QpeflowError:
        if path.name.lower().endswith(SATELLITE_SUFFIXES):
            raise  # a satellite file that cannot be read: never skipped in silence
        return False


def default_grid(radar: Grid, satellite: Field, resolution_km: float) -> Grid:
    """LAEA grid of ``resolution_km`` over the overlap of the radar domain and the satellite footprint."""
    lon, lat = radar.lonlat()
    lon_c, lat_c = float(np.nanmean(lon)), float(np.nanmean(lat))
    d = resolution_km * 1000.0
    crs = f"+proj=laea +lat_0={lat_c:.4f} +lon_0={lon_c:.4f} +x_0=0 +y_0=0 +ellps=WGS84 +units=m +no_defs"
    slon, slat = satellite.grid.lonlat()
    valid = np.isfinite(satellite.data)
    check_valid_pixels(satellite)
    b_rad = bounds_in(Grid(crs, 0.0, d, 0.0, -d, (1, 1)), lon, lat)
    b_sat = bounds_in(Grid(crs, 0.0, d, 0.0, -d, (1, 1)), np.where(valid, slon, np.nan), np.where(valid, slat, np.nan))
    if b_rad is None or b_sat is None:
        raise QpeflowError(f"{satellite.source}: the satellite data do not overlap the radar domain")
    xmin, ymin = max(b_rad[0], b_sat[0]), max(b_rad[1], b_sat[1])
    xmax, ymax = min(b_rad[2], b_sat[2]), min(b_rad[3], b_sat[3])
    nx, ny = int((xmax - xmin) // d), int((ymax - ymin) // d)
    if nx < 1 or ny < 1:
        raise QpeflowError(
            f"{satellite.source}: the satellite data do not overlap the radar domain "
            f"{radar.crs_name} grid of {radar.shape}"
        )
    x0, y0 = np.floor(xmin / d) * d, np.ceil(ymax / d) * d
    return Grid(crs, float(x0), d, float(y0), -d, (ny, nx))


def _regrid_bt(field: Field, grid: Grid) -> np.ndarray:
    method = "mean" if grid.dx >= field.grid.dx else "bilinear"
    return regrid(field, grid, method=method).data


def check_valid_pixels(field: Field) -> None:
    """Raise naming the file if a satellite field holds no finite pixel at all."""
    if not np.isfinite(field.data).any():
        raise input_error(field.source, f"{field.name or field.quantity} holds no valid pixel (all NaN): corrupt file?")


def satellite_slots(
    files: Sequence[Path], channels: Sequence[str], grid: Grid, parallax: bool, progress: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Read every slot's channels onto ``grid``: times (S,) datetime64[s] and BT (S, C, ny, nx) K."""
    fields: list[Field] = []
    for path in tqdm(files, desc="satellite", unit="file", leave=False, disable=not progress):
        fields.extend(read(path, channels=tuple(channels)))
    for field in fields:
        check_valid_pixels(field)
    check_platform(fields)
    frames = group_slots(fields)
    times = np.array([f.valid_time for f in frames], dtype="datetime64[s]")
    bt = np.stack([np.stack([_regrid_bt(f.fields[c], grid) for c in channels]) for f in frames]).astype(np.float32)
    if parallax:
        from qpeflow.data.simulator.parallax import correct_parallax, sub_satellite_longitude

        sub_lon = sub_satellite_longitude(frames[0].fields[channels[0]].grid.crs)
        ir = list(channels).index("IR_108") if "IR_108" in channels else 0
        bt = np.stack([correct_parallax(b, b[ir], grid, sub_lon) for b in bt]).astype(np.float32)
    return times, bt


def match_windows(
    radar: Sequence[Field], times: np.ndarray, time_in: Sequence[int], tolerance_minutes: float
) -> tuple[list[PairSample], int]:
    """Windows whose every slot t + offset has a satellite time within tolerance; and the number dropped."""
    windows, dropped = [], 0
    for field in radar:
        slots = []
        for offset in time_in:
            target = field.valid_time + np.timedelta64(int(offset * 60), "s")
            gap = np.abs((times - target) / np.timedelta64(1, "s")) / 60.0
            k = int(np.argmin(gap)) if len(gap) else -1
            if k < 0 or gap[k] > tolerance_minutes:
                break
            slots.append(k)
        if len(slots) == len(time_in):
            windows.append(PairSample(field, tuple(slots)))
        else:
            dropped += 1
    return windows, dropped


def split_by_day(days: Sequence[str], val_fraction: float, test_fraction: float) -> dict[str, str]:
    """Chronological split of distinct days: the last round(test_fraction n) days test, before them val.

    At least one day stays in train; with one or two days val/test may be empty.
    """
    ordered = sorted(set(days))
    n = len(ordered)
    n_test = min(int(round(test_fraction * n)), max(0, n - 1))
    n_val = min(int(round(val_fraction * n)), max(0, n - 1 - n_test))
    names = ["train"] * (n - n_val - n_test) + ["val"] * n_val + ["test"] * n_test
    return dict(zip(ordered, names))


@dataclass(frozen=True)
class Patches:
    """Samples of one window: BT (n, T, C, p, p) K, rain (n, p, p) mm/h, mask (n, p, p), origins (n,), (n,)."""

    bt: np.ndarray
    rain: np.ndarray
    mask: np.ndarray
    row0: np.ndarray
    col0: np.ndarray


def cut_patches(bt: np.ndarray, rain: np.ndarray, patch: int, dry_keep: float, rng: np.random.Generator) -> Patches:
    """Non-overlapping patches of a window: bt (T, C, ny, nx) K, rain (ny, nx) mm/h (NaN = radar nodata).

    Skips patches with radar coverage < MIN_RADAR_COVERAGE or any NaN infrared;
    keeps an all-dry patch (< 0.1 mm/h everywhere) with probability ``dry_keep``.
    """
    ny, nx = rain.shape
    keep: list[tuple[int, int]] = []
    for r in range(0, ny - patch + 1, patch):
        for c in range(0, nx - patch + 1, patch):
            sub = rain[r : r + patch, c : c + patch]
            seen = np.isfinite(sub)
            if seen.mean() < MIN_RADAR_COVERAGE or not np.isfinite(bt[..., r : r + patch, c : c + patch]).all():
                continue
            if not (sub[seen] >= 0.1).any() and rng.random() >= dry_keep:
                continue
            keep.append((r, c))
    sl = [(slice(r, r + patch), slice(c, c + patch)) for r, c in keep]
    empty = np.zeros((0, patch, patch), np.float32)
    return Patches(
        np.stack([bt[..., a, b] for a, b in sl]) if sl else np.zeros((0, *bt.shape[:2], patch, patch), np.float32),
        np.stack([rain[a, b] for a, b in sl]) if sl else empty,
        np.stack([np.isfinite(rain[a, b]) for a, b in sl]) if sl else empty.astype(bool),
        np.array([r for r, _ in keep], np.int64),
        np.array([c for _, c in keep], np.int64),
    )


def _prepare_config(cfg: ExperimentConfig | PrepareConfig) -> PrepareConfig:
    return cfg.prepare if isinstance(cfg, ExperimentConfig) else cfg


def prepare_pairs(
    cfg: ExperimentConfig | PrepareConfig,
    sat_dir: str | Path,
    radar_dir: str | Path,
    out: str | Path,
    grid: Grid | None = None,
    progress: bool = True,
    overwrite: bool = False,
) -> StoreSummary:
    """Build the prepared store from a SEVIRI + radar archive (module docstring).

    Returns:
        :class:`~qpeflow.data.store.StoreSummary` (``.path``, ``.counts`` per split, ``.wet_fraction``)

    Args:
        cfg: the experiment (its ``prepare`` section) or a PrepareConfig: channels,
            time_steps, cadence_minutes, time_tolerance_minutes, resolution_km, patch,
            dry_keep_fraction, val/test_fraction, parallax_correction, seed.
        sat_dir, radar_dir: folders searched recursively for satellite / radar files.
        out: the zarr store to write.
        grid: the target grid (default :func:`default_grid`).
        progress: show progress bars.
        overwrite: replace ``out`` even if it is not a qpeflow store (checked before any work).

    Raises:
        QpeflowError: no files, no overlap, or no complete window/patch at all.
    """
    p = _prepare_config(cfg)
    check_store_target(out, overwrite)
    time_in = tuple(int(k * p.cadence_minutes) for k in range(-(p.time_steps - 1), 1))
    radar = read_radar(radar_dir, progress, p.quality_threshold)
    sat_files = satellite_files(sat_dir)
    if grid is None:
        first = read(sat_files[0], channels=(p.channels[0],))[0]
        grid = default_grid(radar[0].grid, first, p.resolution_km)
    times, bt = satellite_slots(sat_files, p.channels, grid, p.parallax_correction, progress)
    windows, dropped = match_windows(radar, times, time_in, p.time_tolerance_minutes)
    log.info(
        "pairs: %d radar windows complete, %d dropped for a missing satellite slot (tolerance %g min)",
        len(windows),
        dropped,
        p.time_tolerance_minutes,
    )
    if not windows:
        raise QpeflowError(
            f"{sat_dir}: no radar time of {radar_dir} has all {len(time_in)} satellite slots "
            f"({', '.join(map(str, time_in))} min, tolerance {p.time_tolerance_minutes:g} min)"
        )
    rng = np.random.default_rng(p.seed)
    parts: list[tuple[PairSample, Patches]] = []
    for w in tqdm(windows, desc="pairs", unit="window", disable=not progress):
        rain = regrid(w.radar, grid, method="mean").data
        parts.append((w, cut_patches(bt[list(w.slots)], rain, p.patch, p.dry_keep_fraction, rng)))
    parts = [(w, q) for w, q in parts if len(q.rain)]
    if not parts:
        raise QpeflowError(
            f"{radar_dir}: no {p.patch} x {p.patch} patch with enough radar coverage and "
            f"complete infrared on the {grid.shape} target grid"
        )
    negative = sum(int(f.attrs.get(NEGATIVE_ATTR, 0)) for f in radar)
    return _write(out, parts, grid, p, time_in, (dropped, negative), [str(f) for f in sat_files], overwrite)


def _write(
    out: str | Path,
    parts: list[tuple[PairSample, Patches]],
    grid: Grid,
    p: PrepareConfig,
    time_in: tuple[int, ...],
    counts: tuple[int, int],
    sat_files: list[str],
    overwrite: bool,
) -> StoreSummary:
    """Assemble StoreArrays (events = UTC days) and write with :func:`write_store`.

    counts: (radar windows dropped for a missing slot, radar pixels of negative rain masked).
    """
    day = [str(w.radar.valid_time.astype("datetime64[D]")) for w, q in parts for _ in range(len(q.rain))]
    split_of = split_by_day(day, p.val_fraction, p.test_fraction)
    arrays = StoreArrays(
        inputs=np.concatenate([q.bt for _, q in parts]).astype(np.float32),
        target=np.concatenate([q.rain for _, q in parts]).astype(np.float32),
        mask=np.concatenate([q.mask for _, q in parts]),
        valid_time=np.array([w.radar.valid_time for w, q in parts for _ in range(len(q.rain))], "datetime64[s]"),
        event=np.array(day),
        split=np.array([split_of[d] for d in day]),
        row0=np.concatenate([q.row0 for _, q in parts]),
        col0=np.concatenate([q.col0 for _, q in parts]),
        channels=tuple(p.channels),
        time_in=time_in,
    )
    radar_sources = sorted({w.radar.source for w, _ in parts})
    events = [{"event": d, "split": s} for d, s in sorted(split_of.items())]
    attrs = {
        "source": "pairs",
        "infrared": "observed",
        "simulator_version": "",
        "simulator_params": "{}",
        "cadence_minutes": p.cadence_minutes,
        "resolution_km": grid.dx / 1000.0,
        "events": json.dumps(events),
        "parallax_correction": int(p.parallax_correction),
        "time_tolerance_minutes": p.time_tolerance_minutes,
        "windows_dropped_missing_slot": counts[0],
        "radar_negative_pixels_masked": counts[1],
        "radar_files": json.dumps(radar_sources),
        "satellite_files": json.dumps(sat_files),
        **grid.to_attrs(),
    }
    summary = write_store(out, arrays, attrs, overwrite)
    log.info(
        "pairs: wrote %s (%s samples, wet fraction %.3f)",
        summary.path,
        ", ".join(f"{k} {v}" for k, v in summary.counts.items()),
        summary.wet_fraction,
    )
    return summary
