"""Deterministic training data order: a pure function of (seed, step, rank).

Global sample position ``p = (step * world_size + rank) * batch_size + k`` walks
through epochs; epoch ``e = p // N`` is a permutation of the N items drawn from a
generator seeded by (seed, e), and every item carries its own crop seed derived
from (seed, p). Nothing has to be saved to resume: restarting at ``step``
reproduces the same batches, in any number of DataLoader workers. Each rank sees
a disjoint slice of every global batch (what ``DistributedSampler`` does per epoch).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Sampler

_PERM_TAG, _CROP_TAG, _STEP_TAG = 1, 2, 3


def derived_seed(*words: int) -> int:
    """A 63-bit seed from integers, through numpy's SeedSequence hashing."""
    lo, hi = np.random.SeedSequence([int(w) for w in words]).generate_state(2)
    return int(lo) | (int(hi) & 0x7FFFFFFF) << 32


def step_seed(seed: int, rank: int, step: int) -> int:
    """Seed of the global torch RNG for one training step on one rank (noise, t, dropout)."""
    return derived_seed(seed, _STEP_TAG, rank, step)


class StepSampler(Sampler[list[tuple[int, int]]]):
    """Yields, for each step in ``[start, stop)``, this rank's ``batch_size`` keys ``(item, crop_seed)``."""

    def __init__(
        self, n_items: int, batch_size: int, seed: int, start: int, stop: int, rank: int = 0, world_size: int = 1
    ) -> None:
        self.n, self.batch_size, self.seed = n_items, batch_size, seed
        self.start, self.stop, self.rank, self.world_size = start, stop, rank, world_size
        self._perm: tuple[int, torch.Tensor] | None = None

    def _permutation(self, epoch: int) -> torch.Tensor:
        if self._perm is None or self._perm[0] != epoch:
            g = torch.Generator().manual_seed(derived_seed(self.seed, _PERM_TAG, epoch))
            self._perm = (epoch, torch.randperm(self.n, generator=g))
        return self._perm[1]

    def keys(self, step: int) -> list[tuple[int, int]]:
        """This rank's keys for ``step``."""
        first = (step * self.world_size + self.rank) * self.batch_size
        out = []
        for p in range(first, first + self.batch_size):
            item = int(self._permutation(p // self.n)[p % self.n])
            out.append((item, derived_seed(self.seed, _CROP_TAG, p) & 0xFFFFFFFF))
        return out

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        for step in range(self.start, self.stop):
            yield self.keys(step)

    def __len__(self) -> int:
        return max(0, self.stop - self.start)
