"""Learning-rate schedules as pure functions of the step (nothing to save for resume).

- ``cosine``: linear warm-up over ``warmup`` steps to ``lr``, then half a cosine down
  to 0 at ``total`` (Loshchilov & Hutter 2017, SGDR without restarts).
- ``constant``: the same warm-up, then ``lr``.

Registry :data:`SCHEDULES`: name -> ``f(step, lr, warmup, total) -> float``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from qpeflow.errors import QpeflowError


def _warmup(step: int, lr: float, warmup: int) -> float | None:
    return lr * (step + 1) / warmup if step < warmup else None


def constant(step: int, lr: float, warmup: int, total: int) -> float:
    """Warm-up, then ``lr``."""
    w = _warmup(step, lr, warmup)
    return lr if w is None else w


def cosine(step: int, lr: float, warmup: int, total: int) -> float:
    """Warm-up, then ``lr * (1 + cos(pi * progress)) / 2`` with progress 0 -> 1 over the rest."""
    w = _warmup(step, lr, warmup)
    if w is not None:
        return w
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return lr * 0.5 * (1.0 + math.cos(math.pi * progress))


SCHEDULES: dict[str, Callable[[int, float, int, int], float]] = {"cosine": cosine, "constant": constant}


def learning_rate(kind: str, step: int, lr: float, warmup: int, total: int) -> float:
    """The learning rate at 0-based ``step``."""
    if kind not in SCHEDULES:
        raise QpeflowError(f"train.lr_schedule {kind!r}: expected one of {sorted(SCHEDULES)}")
    return SCHEDULES[kind](step, lr, warmup, total)
