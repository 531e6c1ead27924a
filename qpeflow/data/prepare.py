"""Build a prepared store: rain sequences + simulated infrared -> patches -> zarr.

Sources, a literal registry with the shared signature
``source(cfg: PrepareConfig, rng: np.random.Generator) -> list[RainSequence]``:

* ``"synthetic"``: the embedded stochastic rain generator (no files);
* ``"radar"``: the national radar sequences under ``data_root()/radar`` (KNMI,
  MeteoSwiss, FMI, BoM);
* ``"opera"``: the OPERA composite of 2018-08-24, all samples in the ``test``
  split (the generalisation set).

(The real SEVIRI + radar archive, ``pairs``, lives in :mod:`qpeflow.data.pairs`, the team's
collocated ``sevmos`` files in :mod:`qpeflow.data.sevmos_prepare`; all
write through the same :func:`qpeflow.data.store.write_store`.)

**K infrared draws per event.** The split is assigned by event first. Each event then
gets ``draws_train`` (train) or ``draws_eval`` (val/test) independent infrared draws:
draw d has its own :class:`SimulatorParams` (from the generator seeded by (seed, event,
1000 + d)) and its own cloud fields and noise; the IR is simulated over the whole
sequence (so leads and lags exist). The draws are separate samples sharing the rain
target, with a ``draw`` coordinate; the store attribute ``split_contents`` lists which
events and draws each split holds. Scores on val/test are meant as the mean over draws
with the spread across them (a test verdict never rests on one random draw).

**Patches.** For every valid time and draw, ``n`` crops of ``patch x patch`` of the
``time_steps`` frames ending there, with ``n = patches_per_frame x A / (4 patch^2)``
rounded stochastically and A the number of pixels the radar sees in that frame (more
patches where the radar covers more), times the event's weight: with ``balance_events``
(default) every event of a split gets the same expected number of crops
(:func:`event_weights`), else every radar pixel-time weighs the same. (Without it, one
Australian day of 140 frames held a third of the train crops and two thirds of the train
rain >= 1 mm/h; a learner calibrated on it under-forecast the stratiform test day, frequency
bias 0.36 at 1 mm/h, issue 10.) The crops are the same for every draw of an event (their
generator does not depend on the draw), so draws differ by their infrared alone. In the
splits of ``rain_weighted_splits`` (default: train only) the crop origins are drawn with
probability ``0.25 / n_origins + 0.75 w / sum(w)``, w the number of wet pixels (>= 0.1
mm/h) in the crop, instead of uniformly (without replacement either way). **Bias**: the
store over-represents rain relative to the radar domain (the wet fraction of the store is
about 1.5-2x that of the domain) and dry-scene false alarms are under-sampled. Val and
test crops are uniform by default, so that their scores estimate the radar domain (a
rain-centred test set inflates CSI: on fmi-20160928 it raised the wet fraction from 0.34
to 0.61, where forecasting rain everywhere already scores CSI 0.61). Crops with less
than ``min_coverage`` radar coverage are dropped; all-dry crops (no pixel >= 0.1 mm/h)
are kept with probability ``dry_keep_fraction``.
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
from qpeflow.data.simulator.channels import CHANNELS
from qpeflow.data.simulator.forward import SIMULATOR_VERSION, SimulatorParams, simulate_ir
from qpeflow.data.store import StoreArrays, StoreSummary, check_store_target, write_store
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
    draw: list[int] = field(default_factory=list)


def assign_splits(events: list[str], cfg: PrepareConfig, rng: np.random.Generator) -> dict[str, str]:
    """Event name -> "train"/"val"/"test".

    With ``cfg.val_events`` / ``cfg.test_events`` given, those events are held out and
    every other event trains (a benchmark chooses its held-out weather on purpose, e.g. so
    that each kind of rain is seen in training). Otherwise the events are shuffled, with at
    least one val and one test event when there are three or more, else everything trains.
    """
    names = sorted(set(events))
    if cfg.val_events or cfg.test_events:
        wanted = {"val": cfg.val_events, "test": cfg.test_events}
        asked = {e for s, es in wanted.items() if not cfg.only_splits or s in cfg.only_splits for e in es}
        unknown = sorted(asked - set(names))  # events of a split not built are not read (radar_sequences)
        if unknown:
            raise QpeflowError(f"prepare.val_events/test_events: unknown event(s) {unknown}; the source has {names}")
        if set(cfg.val_events) & set(cfg.test_events):
            raise QpeflowError("prepare.val_events and prepare.test_events share an event")
        held = {**dict.fromkeys(cfg.val_events, "val"), **dict.fromkeys(cfg.test_events, "test")}
        return {e: held.get(e, "train") for e in names}
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


def _sample_params(cfg: PrepareConfig, seq: RainSequence, draw: int = 0) -> SimulatorParams:
    """Forward-operator parameters of one infrared draw of the event, with a climatological
    surface temperature for its central latitude and first time."""
    _, lat = seq.grid.lonlat()
    centre = float(lat[lat.shape[0] // 2, lat.shape[1] // 2])
    return SimulatorParams.sample(_event_rng(cfg, seq.event, 1000 + draw), centre, seq.times[0])


def check_request(cfg: PrepareConfig) -> None:
    """Refuse, before anything is read or written, unknown channels, K < 1 and a simulator
    version other than the installed one, unknown splits in ``only_splits`` (QpeflowError, one line).

    ``only_splits`` builds a subset of the splits with exactly the samples (and, for the
    draws kept, exactly the infrared) the full store holds: splits, parameters and
    random streams do not depend on which splits are built."""
    unknown = [c for c in cfg.channels if c not in CHANNELS]
    if unknown:
        raise QpeflowError(f"prepare: unknown channel(s) {unknown}; the simulator knows {list(CHANNELS)}")
    if cfg.draws_train < 1 or cfg.draws_eval < 1:
        raise QpeflowError(
            f"prepare: draws_train={cfg.draws_train}, draws_eval={cfg.draws_eval}: need at least 1 infrared draw"
        )
    for name in ("only_splits", "rain_weighted_splits"):
        odd = [s for s in getattr(cfg, name) if s not in ("train", "val", "test")]
        if odd:
            raise QpeflowError(f"prepare.{name}: unknown split(s) {odd}; choose among train, val, test")
    if cfg.simulator_version and cfg.simulator_version != SIMULATOR_VERSION:
        raise QpeflowError(
            f"prepare: simulator version {cfg.simulator_version!r} asked for, but this qpeflow has {SIMULATOR_VERSION!r}"
        )


def n_draws(cfg: PrepareConfig, split: str) -> int:
    """K infrared draws for an event of ``split``."""
    return cfg.draws_train if split == "train" else cfg.draws_eval


def _window_ok(times: np.ndarray, t: int, cfg: PrepareConfig) -> bool:
    """True if frames t-T+1..t exist and are spaced exactly by the cadence (never a gap)."""
    if t - cfg.time_steps + 1 < 0:
        return False
    dt = np.diff(times[t - cfg.time_steps + 1 : t + 1].astype("datetime64[s]").astype(np.int64))
    return bool(np.all(dt == cfg.cadence_minutes * 60))


def window_ends(seq: RainSequence, cfg: PrepareConfig) -> list[int]:
    """The frames of ``seq`` that end a complete, gap-free model window (:func:`_window_ok`)."""
    return [t for t in seq.valid_range if _window_ok(seq.times, t, cfg)]


def patch_origins(rain: np.ndarray, p: int, n: int, weighted: bool, rng: np.random.Generator) -> np.ndarray:
    """``n`` distinct crop origins (flat indices over the ``(ny-p+1) x (nx-p+1)`` origins).

    Args:
        rain: (ny, nx) mm/h, NaN = unseen.
        weighted: draw with probability ``0.25 / n_origins + 0.75 w / sum(w)``, w the wet
            (>= 0.1 mm/h) pixel count of the crop (module docstring: its bias); else uniform.
    """
    ny, nx = rain.shape
    n_pos = (ny - p + 1) * (nx - p + 1)
    n = min(n, n_pos)
    if not weighted:
        return rng.choice(n_pos, size=n, replace=False)
    wet = np.pad(np.nan_to_num(rain) >= DRY_MMH, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    count = (wet[p:, p:] - wet[:-p, p:] - wet[p:, :-p] + wet[:-p, :-p]).ravel().astype(np.float64)
    prob = np.full(n_pos, 1.0 / n_pos)
    if count.sum() > 0:
        prob = 0.25 * prob + 0.75 * count / count.sum()
    return rng.choice(n_pos, size=n, replace=False, p=prob / prob.sum())


def frame_patches(cfg: PrepareConfig, seen_px: int, rng: np.random.Generator, weight: float = 1.0) -> int:
    """Crops per frame and draw: ``n = weight x patches_per_frame x seen_px / (4 patch^2)``,
    rounded stochastically (floor, plus one with the probability of the remainder), so that
    crops follow the radar's seen area: a 64 x 64 px radar with 95 frames no longer
    outweighs a 300 x 200 px one with 13 (with ``max(1, round(n))`` one Australian event held
    55 % of the train samples and 80 % of its rain >= 1 mm/h). ``weight``: the event's
    (:func:`event_weights`)."""
    n = weight * cfg.patches_per_frame * seen_px / (4 * cfg.patch**2)
    return int(n) + int(rng.random() < n - int(n))


def event_weights(seqs: list[RainSequence], split: dict[str, str], cfg: PrepareConfig) -> dict[str, float]:
    """event -> crop weight giving every event of a split the same expected number of crops.

    An event's crops are proportional to its seen pixel-time S (the radar pixels seen, summed
    over the frames that end a complete window); its weight is ``mean(S over the events of its
    split) / S``. Events are the independent weather situations of the benchmark; how many
    frames or how large a radar one has is an accident of the archive.
    """
    seen: dict[str, float] = {}
    for seq in seqs:
        frames = window_ends(seq, cfg)
        seen[seq.event] = seen.get(seq.event, 0.0) + float(sum(np.isfinite(seq.rain[t]).sum() for t in frames))
    out = {}
    for e, s in seen.items():
        peers = [v for k, v in seen.items() if split[k] == split[e] and v > 0]
        out[e] = float(np.mean(peers)) / s if s > 0 else 1.0
    return out


def cut_patches(
    seq: RainSequence,
    ir: np.ndarray,
    cfg: PrepareConfig,
    rng: np.random.Generator,
    out: _Samples,
    draw: int = 0,
    weighted: bool = False,
    weight: float = 1.0,
) -> int:
    """Append the patches of one sequence (one infrared draw) to ``out``; returns the number added.

    Args:
        ir: (T, C, H, W) K, simulated over the whole sequence.
        draw: the infrared draw index stored with every sample.
        weighted: rain-weighted crop origins (:func:`patch_origins`), else uniform.
        weight: the event's crop weight (:func:`frame_patches`).
    """
    p, (ny, nx) = cfg.patch, seq.grid.shape
    if ny < p or nx < p:
        log.warning("%s: grid %s smaller than the patch %d, skipped", seq.event, seq.grid.shape, p)
        return 0
    added = 0
    for t in window_ends(seq, cfg):
        frame = seq.rain[t]
        n = frame_patches(cfg, int(np.isfinite(frame).sum()), rng, weight)
        picks = patch_origins(frame, p, n, weighted, rng)
        for r, c in zip(*np.divmod(picks, nx - p + 1)):
            rain = frame[r : r + p, c : c + p]
            seen = np.isfinite(rain)
            if seen.mean() < cfg.min_coverage:
                continue
            if np.nanmax(np.where(seen, rain, 0.0)) < DRY_MMH and rng.random() >= cfg.dry_keep_fraction:
                continue
            out.inputs.append(ir[t - cfg.time_steps + 1 : t + 1, :, r : r + p, c : c + p])
            out.target.append(np.where(seen, rain, 0.0).astype(np.float32))
            out.mask.append(seen)
            out.meta.append((seq.times[t], seq.event, int(r), int(c)))
            out.draw.append(draw)
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
        draw=np.asarray(s.draw, np.int64),
    )


def split_contents(s: _Samples, split: dict[str, str]) -> dict[str, dict[str, list[int]]]:
    """split -> event -> sorted draws present in the samples (the store's ``split_contents``)."""
    out: dict[str, dict[str, set[int]]] = {}
    for (_, event, _, _), d in zip(s.meta, s.draw):
        out.setdefault(split[event], {}).setdefault(event, set()).add(int(d))
    return {sp: {e: sorted(v) for e, v in sorted(evs.items())} for sp, evs in sorted(out.items())}


def _store_attrs(cfg: PrepareConfig, seqs: list[RainSequence], params: dict[str, list[SimulatorParams]]) -> dict:
    sources = sorted({s.source for s in seqs})
    grids = {s.grid for s in seqs}
    attrs: dict = {
        "source": cfg.source if cfg.source != "radar" else "radar:" + ",".join(s.split(":")[-1] for s in sources),
        "infrared": "simulated",
        "simulator_version": SIMULATOR_VERSION,
        "simulator_params": json.dumps({e: [json.loads(p.to_json()) for p in ps] for e, ps in params.items()}),
        "draws_train": cfg.draws_train,
        "draws_eval": cfg.draws_eval,
        "rain_weighted_splits": json.dumps(list(cfg.rain_weighted_splits)),
        "balance_events": int(cfg.balance_events),
        "patches_per_frame": cfg.patches_per_frame,
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


def prepare(cfg: PrepareConfig, out: str | Path, progress: bool = True, overwrite: bool = False) -> StoreSummary:
    """Build the store ``out`` from ``cfg.source`` (see module docstring).

    Deterministic for ``cfg.seed``. Raises QpeflowError for an unknown source,
    when no sample results, or (before any work) when ``out`` exists and is no
    qpeflow store unless ``overwrite`` (:func:`qpeflow.data.store.check_store_target`).
    """
    check_store_target(out, overwrite)
    if cfg.source not in SOURCES:
        raise QpeflowError(
            f"prepare: unknown source {cfg.source!r}; choose from {sorted(SOURCES)} (or 'pairs' / 'sevmos' through the CLI)"
        )
    check_request(cfg)
    seqs = SOURCES[cfg.source](cfg, np.random.default_rng(cfg.seed))
    if not seqs:
        raise QpeflowError(f"prepare: source {cfg.source!r} produced no rain sequence")
    split = assign_splits([s.event for s in seqs if not s.split], cfg, np.random.default_rng([cfg.seed, 1]))
    split.update({s.event: s.split for s in seqs if s.split})
    first = {s.event: s for s in reversed(seqs)}  # the first sequence of an event fixes its parameters
    params = {e: [_sample_params(cfg, q, d) for d in range(n_draws(cfg, split[e]))] for e, q in first.items()}
    weights = event_weights(seqs, split, cfg) if cfg.balance_events else {}
    samples = _Samples()
    keep = set(cfg.only_splits) or {"train", "val", "test"}
    jobs = [
        (i, seq, d) for i, seq in enumerate(seqs) if split[seq.event] in keep for d in range(len(params[seq.event]))
    ]
    for i, seq, d in tqdm(jobs, desc=f"prepare {cfg.source}", disable=not progress):
        key = [cfg.seed, zlib.crc32(seq.event.encode()), 1 + i]
        ir = simulate_ir(
            seq.rain, seq.grid, seq.times, params[seq.event][d], np.random.default_rng(key + [d]), tuple(cfg.channels)
        )
        # the same crops for every draw (a generator without the draw): the draws of an event
        # share their rain targets, so their spread is the infrared's alone (issue 10)
        crops = np.random.default_rng(key)
        cut_patches(
            seq, ir, cfg, crops, samples, d, split[seq.event] in cfg.rain_weighted_splits, weights.get(seq.event, 1.0)
        )
    attrs = _store_attrs(cfg, seqs, params)
    attrs["split_contents"] = json.dumps(split_contents(samples, split))
    return write_store(out, _arrays(samples, split, cfg), attrs, overwrite)
