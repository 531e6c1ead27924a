"""Rain sequences, the unit the prepared store is cut from, and the synthetic source.

A :class:`RainSequence` is a contiguous (gap-free) run of rain fields at the model
cadence on one grid. Several sequences may share an ``event`` name (one radar day
cut at its gaps); the train/val/test split is assigned per event name, so
sequences of one weather event never land in two splits.

Every source in :data:`qpeflow.data.prepare.SOURCES` has the signature

    source(cfg: PrepareConfig, rng: np.random.Generator) -> list[RainSequence]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qpeflow.config import PrepareConfig
from qpeflow.data.simulator.rain_generator import simulate_rain
from qpeflow.io.grid import Grid
from qpeflow.io.regrid import equal_area_grid

#: synthetic sequences: frames before the first valid time (anvil/cloud spin-up) and after
#: the last (so the lead of cooling sees future rain), and valid times per event
SYNTHETIC_SPINUP, SYNTHETIC_TAIL, SYNTHETIC_VALID = 4, 2, 16


@dataclass(frozen=True)
class RainSequence:
    """A contiguous rain sequence.

    Attributes:
        event: event id (the split unit), e.g. "knmi-20100826", "synthetic-0003".
        source: "synthetic", "radar:knmi", "opera" ...
        grid: grid of ``rain``.
        rain: (T, H, W) float32 mm/h, NaN outside radar coverage.
        times: (T,) datetime64[s], equally spaced at the model cadence.
        first_valid: first frame index that may be a window's valid time (spin-up before).
        last_valid: last such index (frames after it only feed the lead of cooling).
        split: fixed split ("test" for a generalisation set) or "" to assign by event.
    """

    event: str
    source: str
    grid: Grid
    rain: np.ndarray
    times: np.ndarray
    first_valid: int = 0
    last_valid: int = -1
    split: str = ""

    @property
    def valid_range(self) -> range:
        """Frame indices usable as valid times (whole windows inside the sequence)."""
        last = self.last_valid if self.last_valid >= 0 else self.rain.shape[0] - 1
        return range(self.first_valid, last + 1)


def synthetic_sequence(index: int, cfg: PrepareConfig, rng: np.random.Generator) -> RainSequence:
    """One synthetic event: a random European location and time, rain from
    :func:`qpeflow.data.simulator.rain_generator.simulate_rain` on a (2 patch) x (2 patch) grid."""
    size = 2 * cfg.patch
    grid = equal_area_grid(float(rng.uniform(-5, 20)), float(rng.uniform(42, 60)), cfg.resolution_km, (size, size))
    day = np.datetime64("2020-01-01T00:00:00") + np.timedelta64(int(rng.integers(0, 366)), "D")
    start = day + np.timedelta64(int(rng.integers(0, 24 * 60 // cfg.cadence_minutes)) * cfg.cadence_minutes, "m")
    n = SYNTHETIC_SPINUP + cfg.time_steps - 1 + SYNTHETIC_VALID + SYNTHETIC_TAIL
    times = start + np.arange(n) * np.timedelta64(cfg.cadence_minutes, "m")
    rain = simulate_rain(n, (size, size), cfg.cadence_minutes, cfg.resolution_km, rng)
    first = SYNTHETIC_SPINUP + cfg.time_steps - 1
    return RainSequence(
        f"synthetic-{index:04d}", "synthetic", grid, rain, times.astype("datetime64[s]"), first, n - 1 - SYNTHETIC_TAIL
    )


def synthetic_sequences(cfg: PrepareConfig, rng: np.random.Generator) -> list[RainSequence]:
    """``cfg.n_events`` synthetic events (each from its own child generator, so event i
    does not depend on how many events are drawn)."""
    seeds = rng.bit_generator.seed_seq.spawn(cfg.n_events)  # type: ignore[attr-defined]
    return [synthetic_sequence(i, cfg, np.random.default_rng(s)) for i, s in enumerate(seeds)]
