"""The one seeding rule: member m of sample k is a function of (seed, m, k) only."""

from __future__ import annotations

import torch

from qpeflow.inference.driver import member_noise, member_seed


def test_member_seed_separates_seed_member_and_sample() -> None:
    seeds = {member_seed(s, m, k) for s in range(3) for m in range(3) for k in range(3)}
    assert len(seeds) == 27  # no two (seed, member, sample) triples share a stream
    assert member_seed(0, 1, 2) == member_seed(0, 1, 2)
    assert member_seed(0, 1, 2) != member_seed(0, 2, 1)


def test_member_noise_rows_follow_their_sample_not_their_position() -> None:
    batch = member_noise(7, 1, [30, 10, 20], torch.device("cpu")).randn((3, 1, 4, 4))
    alone = member_noise(7, 1, [10], torch.device("cpu")).randn((1, 1, 4, 4))
    torch.testing.assert_close(batch[1:2], alone, rtol=0, atol=0)
    assert not torch.equal(batch[0], batch[1])
