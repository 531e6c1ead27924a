"""Real radar rain sequences from ``data_root()/radar`` on the benchmark grid.

Families (literal registry :data:`RADAR_FAMILIES`): KNMI (5-min accumulations),
MeteoSwiss (5-min), FMI (5-min reflectivity, Marshall-Palmer in the reader), BoM
(10-min accumulations), OPERA 2018-08-24 (instantaneous rate every 15 min). Files
are read with :func:`qpeflow.io.read` (rain rate in mm/h).

**Time resampling.** Each file is taken as the mean rate over the interval that
ends at its time, ``(t - interval, t]`` (exact for accumulations; for instantaneous
products a representative value). Intervals are cut into 5-min bins; a model frame
at clock time ``tau`` (a multiple of the cadence) is the mean of the bins in
``(tau - cadence, tau]``: 5-min products -> the mean of three files; BoM 10-min ->
one full 10-min accumulation plus half of a neighbouring one (the bin-weighted
average); OPERA at 15 min -> the file itself. A frame with any bin missing is not
built (no interpolation across gaps); the frames are then split at gaps into
contiguous sequences, so a model window never spans a gap. Empty or all-NaN files
are skipped with a logged count.

**Space.** Each event is regridded ("mean", :func:`qpeflow.io.regrid.regrid`) to an
equal-area grid (:func:`qpeflow.io.regrid.equal_area_grid`) centred on the
composite, covering its extent at ``resolution_km``.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
from tqdm import tqdm

from qpeflow.config import PrepareConfig
from qpeflow.data.events import RainSequence
from qpeflow.errors import QpeflowError
from qpeflow.io import detect_format, read
from qpeflow.io.field import ACCUMULATION, RAIN_RATE, Field
from qpeflow.io.grid import Grid
from qpeflow.io.quality import mask_negative_rain
from qpeflow.io.regrid import equal_area_grid, regrid
from qpeflow.io.sample_data import data_root

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RadarFamily:
    """Where one radar family lives under ``data_root()/radar`` and what a file covers.

    Attributes:
        folder: relative folder.
        pattern: glob (recursive) of its files.
        interval_minutes: the interval each file represents, ending at its time.
    """

    folder: str
    pattern: str
    interval_minutes: int


RADAR_FAMILIES: dict[str, RadarFamily] = {
    "knmi": RadarFamily("KNMI", "**/RAD_NL25_RAP_5min_*.h5", 5),
    "mch": RadarFamily("mch", "**/AQC*.gif", 5),
    "fmi": RadarFamily("fmi", "**/*.pgm.gz", 5),
    "bom": RadarFamily("bom", "**/*.prcp-c10.nc", 10),
    "opera": RadarFamily("OPERA", "**/T_PAAH21_C_EUOC_*.hdf", 15),
}


def _rain_field(path: Path) -> Field | None:
    """The file's rain rate (mm/h), or None (logged) when empty/all-NaN."""
    kwargs = {"to_rain": True} if detect_format(path) == "odim" else {}
    fields = [f for f in read(path, **kwargs) if f.quantity in (RAIN_RATE, ACCUMULATION)]
    if not fields:
        raise QpeflowError(f"{path}: no rain-rate field in this file")
    f = fields[0]
    if f.quantity == ACCUMULATION:
        minutes = float(f.attrs.get("accumulation_minutes", 0) or 0)
        if minutes <= 0:
            raise QpeflowError(f"{path}: accumulation without a duration")
        f = Field(f.data * (60.0 / minutes), RAIN_RATE, "mm/h", f.valid_time, f.grid, f.source, f.name, f.attrs)
    f = mask_negative_rain(f)  # e.g. BoM accumulations of -1 quantum: unphysical, masked and logged
    if not np.isfinite(f.data).any():
        return None
    return f


def benchmark_grid(src: Grid, resolution_km: float) -> Grid:
    """Equal-area grid centred on ``src``, covering its extent at ``resolution_km``."""
    import pyproj

    tr = pyproj.Transformer.from_crs(pyproj.CRS.from_user_input(src.crs), "EPSG:4326", always_xy=True)
    xmin, ymin, xmax, ymax = src.extent
    lon, lat = tr.transform((xmin + xmax) / 2, (ymin + ymax) / 2)
    res_m = resolution_km * 1000.0
    shape = (int(np.ceil((ymax - ymin) / res_m)), int(np.ceil((xmax - xmin) / res_m)))
    return equal_area_grid(float(lon), float(lat), resolution_km, shape)


class _FrameBuilder:
    """Collects file fields into 5-min bins and emits complete model frames (regridded)."""

    def __init__(self, interval: int, cadence: int, resolution_km: float) -> None:
        self.unit = gcd(interval, cadence)
        self.interval, self.cadence, self.res = interval, cadence, resolution_km
        self.pending: dict[int, dict[int, np.ndarray]] = {}
        self.frames: dict[int, np.ndarray] = {}
        self.grid: Grid | None = None
        self.src_grid: Grid | None = None

    def add(self, f: Field) -> None:
        if self.src_grid is None:
            self.src_grid, self.grid = f.grid, benchmark_grid(f.grid, self.res)
        elif f.grid != self.src_grid:
            raise QpeflowError(f"{f.source}: grid differs from the other files of this event")
        end = int(f.valid_time.astype("datetime64[m]").astype(np.int64))
        for b in range(end - self.interval + self.unit, end + 1, self.unit):
            tau = -(-b // self.cadence) * self.cadence  # the frame whose window holds this bin
            self.pending.setdefault(tau, {})[b] = f.data
            if len(self.pending[tau]) == self.cadence // self.unit:
                self._emit(tau)

    def _emit(self, tau: int) -> None:
        assert self.src_grid is not None and self.grid is not None
        mean = np.mean(np.stack(list(self.pending.pop(tau).values())), axis=0).astype(np.float32)
        f = Field(mean, RAIN_RATE, "mm/h", np.datetime64(tau, "m").astype("datetime64[s]"), self.src_grid, "frame")
        self.frames[tau] = regrid(f, self.grid, "mean").data


def _split_contiguous(frames: dict[int, np.ndarray], cadence: int) -> list[list[int]]:
    """Frame times (minutes) grouped into runs spaced exactly by ``cadence``."""
    runs: list[list[int]] = []
    for tau in sorted(frames):
        if runs and tau - runs[-1][-1] == cadence:
            runs[-1].append(tau)
        else:
            runs.append([tau])
    return runs


def load_event(name: str, family: str, files: list[Path], cfg: PrepareConfig) -> list[RainSequence]:
    """Read one event's files -> contiguous sequences at ``cfg.cadence_minutes`` on the benchmark grid."""
    fam = RADAR_FAMILIES[family]
    if cfg.cadence_minutes % gcd(fam.interval_minutes, cfg.cadence_minutes):
        raise QpeflowError(f"{name}: cadence {cfg.cadence_minutes} min incompatible with {family}")
    builder = _FrameBuilder(fam.interval_minutes, cfg.cadence_minutes, cfg.resolution_km)
    empty = 0
    for path in tqdm(files, desc=name, leave=False, disable=None):
        f = _rain_field(path)
        if f is None:
            empty += 1
            continue
        builder.add(f)
    if empty:
        log.info("%s: skipped %d empty/all-NaN file(s)", name, empty)
    if builder.pending:
        log.info("%s: %d frame(s) incomplete (missing files), not built", name, len(builder.pending))
    runs = _split_contiguous(builder.frames, cfg.cadence_minutes)
    short = [r for r in runs if len(r) < cfg.time_steps]
    if short:
        log.info("%s: %d contiguous run(s) shorter than %d frames dropped", name, len(short), cfg.time_steps)
    source = "opera" if family == "opera" else f"radar:{family}"
    split = "test" if family == "opera" else ""
    return [
        RainSequence(
            name,
            source,
            builder.grid,
            np.stack([builder.frames[t] for t in run]),  # type: ignore[arg-type]
            np.array([np.datetime64(t, "m") for t in run]).astype("datetime64[s]"),
            split=split,
        )
        for run in runs
        if len(run) >= cfg.time_steps
    ]


def _day_of(path: Path) -> str:
    """The date that groups a family's files into events: an 8-digit folder name, else
    the first ``20YYMMDD`` in the file name, else the folder name."""
    for part in reversed(path.parent.parts):
        if len(part) == 8 and part.isdigit():
            return part
    m = re.search(r"(?<!\d)(20\d{6})", path.name)
    return m.group(1) if m else path.parent.name


def family_events(family: str, root: Path | None = None) -> dict[str, list[Path]]:
    """Event name (``family-date``) -> sorted files, for one family; {} if absent."""
    fam = RADAR_FAMILIES[family]
    base = (root or data_root() / "radar") / fam.folder
    events: dict[str, list[Path]] = {}
    for path in sorted(base.glob(fam.pattern)) if base.is_dir() else []:
        events.setdefault(f"{family}-{_day_of(path)}", []).append(path)
    return events


def _sequences(families: tuple[str, ...], cfg: PrepareConfig) -> list[RainSequence]:
    unknown = [f for f in families if f not in RADAR_FAMILIES]
    if unknown:
        raise QpeflowError(f"prepare: unknown radar famil(ies) {unknown}; known: {sorted(RADAR_FAMILIES)}")
    out: list[RainSequence] = []
    for family in families:
        events = family_events(family)
        if not events:
            log.warning("%s: no files under %s, family skipped", family, data_root() / "radar")
        for name, files in events.items():
            if _needed(name, cfg):
                out.extend(load_event(name, family, files, cfg))
    return out


def _needed(event: str, cfg: PrepareConfig) -> bool:
    """Whether an event must be read: always, unless its split is known by name (held-out events
    given explicitly) and ``only_splits`` leaves it out. Sparing the reading changes no sample."""
    if not cfg.only_splits or not (cfg.val_events or cfg.test_events):
        return True
    split = "test" if event in cfg.test_events else "val" if event in cfg.val_events else "train"
    return split in cfg.only_splits


def radar_sequences(cfg: PrepareConfig, rng: np.random.Generator) -> list[RainSequence]:
    """Source "radar": the national families of ``cfg.radar_families`` (rng unused: real data)."""
    seqs = _sequences(tuple(cfg.radar_families), cfg)
    if not seqs:
        raise QpeflowError(f"{data_root() / 'radar'}: no radar sequences found (set QPEFLOW_DATA)")
    return seqs


def opera_sequences(cfg: PrepareConfig, rng: np.random.Generator) -> list[RainSequence]:
    """Source "opera": the OPERA composite, split "test" (generalisation set).

    The one event is repeated ``cfg.opera_ir_draws`` times as events ``<name>-ir<k>``,
    so that its simulated infrared covers several independent simulator-parameter
    draws instead of hinging on one (a single continental event with one draw can be,
    say, warm-topped everywhere).
    """
    seqs = _sequences(("opera",), cfg)
    if not seqs:
        raise QpeflowError(f"{data_root() / 'radar' / 'OPERA'}: no OPERA files found (set QPEFLOW_DATA)")
    return [dataclasses.replace(s, event=f"{s.event}-ir{k}") for k in range(max(cfg.opera_ir_draws, 1)) for s in seqs]
