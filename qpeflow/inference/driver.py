"""The one inference driver: members of an estimator over a batch of conditions, one seeding rule.

Seeding rule (the same for ``qpeflow predict`` over a store split and
``qpeflow estimate`` over a satellite scene): all the noise of member ``m`` of
sample ``key`` comes from one CPU ``torch.Generator`` seeded with

    member_seed(seed, m, key) = SeedSequence([seed, m, key]).generate_state(1)[0]

(numpy's ``SeedSequence`` hashes the triple, so neighbouring seeds, members and
samples give unrelated streams). ``key`` is the sample's index in its store for
``predict`` and 0 for a scene. Each row of a batch draws from its own generator
(:class:`qpeflow.methods.Noise`), so member m of sample i is the same whatever
the batch size, the thinning of the split, the device (generators stay on the
CPU) or the tiling (a tiled scene draws full-domain noise once per member).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from qpeflow.errors import QpeflowError
from qpeflow.inference.estimator import Estimator
from qpeflow.methods import Noise

SEEDING_RULE = "member m of sample k draws from torch.Generator().manual_seed(SeedSequence([seed, m, k]))"


def member_seed(seed: int, member: int, key: int) -> int:
    """The seed of member ``member`` of sample ``key`` (module docstring)."""
    return int(np.random.SeedSequence([int(seed), int(member), int(key)]).generate_state(1)[0])


def member_noise(seed: int, member: int, keys: Sequence[int], device: torch.device) -> Noise:
    """Noise for one member over a batch of samples ``keys``: row b from ``member_seed(seed, member, keys[b])``."""
    return Noise.seeded([member_seed(seed, member, k) for k in keys], device)


@dataclass(frozen=True)
class Members:
    """rain: (M, B, H, W) float32 mm/h; nfe: network evaluations per member; seconds: (M,) wall-clock per member."""

    rain: np.ndarray
    nfe: int
    seconds: tuple[float, ...]


def run_members(
    estimator: Estimator,
    cond: torch.Tensor,
    keys: Sequence[int],
    members: int,
    steps: int,
    seed: int,
    sampler: str = "",
) -> Members:
    """``members`` estimates of every row of ``cond`` (B, T, C, H, W), normalised with ``estimator.ir_norm``.

    ``keys`` (B,) name the samples for the seeding rule. Wall-clock is measured per member.
    """
    if members < 1 or steps < 1:
        raise QpeflowError(f"members and steps must be >= 1 (got {members} and {steps})")
    if len(keys) != cond.shape[0]:
        raise QpeflowError(f"driver: {len(keys)} sample keys for a batch of {cond.shape[0]}")
    out, seconds, nfe = [], [], 0
    for m in range(members):
        t0 = time.perf_counter()
        res = estimator.sample(cond, steps, member_noise(seed, m, keys, estimator.device), sampler)
        seconds.append(time.perf_counter() - t0)
        out.append(res.rain_mmh[:, 0])
        nfe = res.nfe
    return Members(np.stack(out).astype(np.float32), nfe, tuple(seconds))
