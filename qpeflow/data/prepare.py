"""Build a prepared store: rain sequences + simulated infrared -> patches -> zarr.

Sources, a literal registry with the shared signature
``source(cfg: PrepareConfig, rng: np.random.Generator) -> list[RainSequence]``:

* ``"synthetic"``: the embedded stochastic rain generator (no files);
* ``"radar"``: the national radar sequences under ``data_root()/radar`` (KNMI,
  MeteoSwiss, FMI, BoM);
* ``"opera"``: the OPERA composite of 2018-08-24, all samples in the ``test``
  split (the generalisation set).

(The real SEVIRI + radar archive, ``pairs``, lives in :mod:`qpeflow.data.pairs` and
writes through the same :func:`qpeflow.data.store.write_store`.)

For each sequence: draw the event's :class:`SimulatorParams`, simulate the IR over
the whole sequence (so leads and lags exist), then for every valid time cut
``patches_per_frame`` random ``patch x patch`` crops of the ``time_steps`` frames
ending there. Crops with less than ``min_coverage`` radar coverage are dropped;
all-dry crops (no pixel >= 0.1 mm/h) are kept with probability
``dry_keep_fraction``. The split is assigned by event.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from qpeflow.config import PrepareConfig
from qpeflow.data.events import RainSequence, synthetic_sequences
from qpeflow.data.radar_sequences import opera_sequences, radar_sequences
from qpeflow.data.simulator.forward import SIMULATOR_VERSION, SimulatorParams, simulate_ir
from qpeflow.data.store import StoreArrays, StoreSummary, write_store
from qpeflow.errors import QpeflowError

log = logging.getLogger(__name__)

DRY_MMH = 0.1  # a patch is "dry" when no masked-in pixel reaches this rain rate

#: source name -> function(cfg, rng) -> list[RainSequence]
SOURCES: dict[str, Callable[[PrepareConfig, np.random.Generator], list[RainSequence]]] = {
    "synthetic": synthetic_sequences,
    "radar": radar_sequences,
    "opera": opera_sequences,
}


@dataclass
class _Samples:
    """Growing per-sample lists (converted once to StoreArrays)."""

    inputs: list[np.ndarray] = field(default_factory=list)
    target: list[np.ndarray] = field(default_factory=list)
    mask: list[np.ndarray] = field(default_factory=list)
    meta: list[tuple[np.datetime64, str, int, int]] = field(default_factory=list)


def assign_splits(events: list[str], cfg: PrepareConfig, rng: np.random.Generator) -> dict[str, str]:
    """Event name -> "train"/"val"/"test": shuffled, at least one val and one test event
    when there are three or more events, otherwise everything is train."""
    names = sorted(set(events))
    order = [names[i] for i in rng.permutation(len(names))]
    n = len(order)
    n_test = max(1, round(cfg.test_fraction * n)) if n >= 3 and cfg.test_fraction > 0 else 0
    n_val = max(1, round(cfg.val_fraction * n)) if n >= 3 and cfg.val_fraction > 0 else 0
    split = {e: "test" for e in order[:n_test]}
    split.update({e: "val" for e in order[n_test : n_test + n_val]})
    split.update({e: "train" for e in order[n_test + n_val :]})
    return split


def _event_rng(cfg: PrepareConfig, event: str, stream: int) -> np.random.Generator:
    """Generator fixed by (seed, event name, stream): stable whatever the event order."""
    return np.random.default_rng([cfg.seed, zlib.crc32(event.encode()), stream])


def _sample_params(cfg: PrepareConfig, seq: RainSequence) -> SimulatorParams:
    """The event's forward-operator parameters, with a climatological surface temperature
    for its central latitude and first time."""
    _, lat = seq.grid.lonlat()
    centre = float(lat[lat.shape[0] // 2, lat.shape[1] // 2])
    return SimulatorParams.sample(_event_rng(cfg, seq.event, 0), centre, seq.times[0])


def _window_ok(times: np.ndarray, t: int, cfg: PrepareConfig) -> bool:
    """True if frames t-T+1..t exist and are spaced exactly by the cadence (never a gap)."""
    if t - cfg.time_steps + 1 < 0:
        return False
    dt = np.diff(times[t - cfg.time_steps + 1 : t + 1].astype("datetime64[s]").astype(np.int64))
    return bool(np.all(dt == cfg.cadence_minutes * 60))


def cut_patches(seq: RainSequence, ir: np.ndarray, cfg: PrepareConfig, rng: np.random.Generator, out: _Samples) -> int:
    """Append the patches of one sequence to ``out``; returns the number added.

    Args:
        ir: (T, C, H, W) K, simulated over the whole sequence.
    """
    p, (ny, nx) = cfg.patch, seq.grid.shape
    if ny < p or nx < p:
        log.warning("%s: grid %s smaller than the patch %d, skipped", seq.event, seq.grid.shape, p)
        return 0
    added = 0
    for t in seq.valid_range:
        if not _window_ok(seq.times, t, cfg):
            continue
        n_pos = (ny - p + 1) * (nx - p + 1)  # distinct origins: never the same crop twice
        picks = rng.choice(n_pos, size=min(cfg.patches_per_frame, n_pos), replace=False)
        for r, c in zip(*np.divmod(picks, nx - p + 1)):
            rain = seq.rain[t, r : r + p, c : c + p]
            seen = np.isfinite(rain)
            if seen.mean() < cfg.min_coverage:
                continue
            if np.nanmax(np.where(seen, rain, 0.0)) < DRY_MMH and rng.random() >= cfg.dry_keep_fraction:
                continue
            out.inputs.append(ir[t - cfg.time_steps + 1 : t + 1, :, r : r + p, c : c + p])
            out.target.append(np.where(seen, rain, 0.0).astype(np.float32))
            out.mask.append(seen)
            out.meta.append((seq.times[t], seq.event, int(r), int(c)))
            added += 1
    return added


def _arrays(s: _Samples, split: dict[str, str], cfg: PrepareConfig) -> StoreArrays:
    times, events, rows, cols = zip(*s.meta) if s.meta else ((), (), (), ())
    ev = np.asarray(events, dtype=str)
    return StoreArrays(
        inputs=np.stack(s.inputs) if s.inputs else np.zeros((0,), np.float32),
        target=np.stack(s.target) if s.target else np.zeros((0,)),
        mask=np.stack(s.mask) if s.mask else np.zeros((0,), bool),
        valid_time=np.asarray(times, dtype="datetime64[ns]"),
        event=ev,
        split=np.asarray([split[e] for e in ev], dtype=str),
        row0=np.asarray(rows, np.int64),
        col0=np.asarray(cols, np.int64),
        channels=tuple(cfg.channels),
        time_in=tuple(int(-cfg.cadence_minutes * k) for k in range(cfg.time_steps - 1, -1, -1)),
    )


def _store_attrs(cfg: PrepareConfig, seqs: list[RainSequence], params: dict[str, SimulatorParams]) -> dict:
    sources = sorted({s.source for s in seqs})
    grids = {s.grid for s in seqs}
    attrs: dict = {
        "source": cfg.source if cfg.source != "radar" else "radar:" + ",".join(s.split(":")[-1] for s in sources),
        "infrared": "simulated",
        "simulator_version": SIMULATOR_VERSION,
        "simulator_params": json.dumps({e: json.loads(p.to_json()) for e, p in params.items()}),
        "cadence_minutes": cfg.cadence_minutes,
        "resolution_km": cfg.resolution_km,
        "patch": cfg.patch,
        "seed": cfg.seed,
        "dry_keep_fraction": cfg.dry_keep_fraction,
        "events": json.dumps(sorted({s.event for s in seqs})),
    }
    if len(grids) == 1:
        attrs.update(next(iter(grids)).to_attrs())
    return attrs


def prepare(cfg: PrepareConfig, out: str | Path, progress: bool = True) -> StoreSummary:
    """Build the store ``out`` from ``cfg.source`` (see module docstring).

    Deterministic for ``cfg.seed``. Raises QpeflowError for an unknown source or
    when no sample results.
    """
    if cfg.source not in SOURCES:
        raise QpeflowError(
            f"prepare: unknown source {cfg.source!r}; choose from {sorted(SOURCES)} (or 'pairs' through the CLI)"
        )
    seqs = SOURCES[cfg.source](cfg, np.random.default_rng(cfg.seed))
    if not seqs:
        raise QpeflowError(f"prepare: source {cfg.source!r} produced no rain sequence")
    split = assign_splits([s.event for s in seqs if not s.split], cfg, np.random.default_rng([cfg.seed, 1]))
    split.update({s.event: s.split for s in seqs if s.split})
    params = {s.event: _sample_params(cfg, s) for s in reversed(seqs)}  # first sequence of an event wins
    samples = _Samples()
    for i, seq in enumerate(tqdm(seqs, desc=f"prepare {cfg.source}", disable=not progress)):
        rng = _event_rng(cfg, seq.event, 1 + i)
        ir = simulate_ir(seq.rain, seq.grid, seq.times, params[seq.event], rng, tuple(cfg.channels))
        cut_patches(seq, ir, cfg, rng, samples)
    return write_store(out, _arrays(samples, split, cfg), _store_attrs(cfg, seqs, params))
