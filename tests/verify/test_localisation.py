"""Localisation randomness: member-to-member FSS and rain-object centroid spread."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import ndimage

from qpeflow.verify.localisation import localisation_accum, localisation_compute, localisation_init, localisation_merge
from qpeflow.verify.spatial import fss_accum, fss_compute, fss_init


def blobs(seed: int, members=3, shape=(4, 32, 32)):
    rng = np.random.default_rng(seed)
    base = 20 * np.maximum(ndimage.gaussian_filter(rng.standard_normal(shape), (0, 2, 2)) * 3 - 0.2, 0)
    ens = np.stack([np.roll(base, tuple(rng.integers(-3, 4, 2)), axis=(1, 2)) for _ in range(members)])
    return ens, base


def compute(ens, obs, threshold=5.0, scale=8):
    state = localisation_init(ens.shape[0], threshold, scale)
    localisation_accum(state, ens, obs)
    return localisation_compute(state)


def test_member_fss_is_mean_of_pairwise_fss():
    ens, obs = blobs(0, members=4)
    obs[:, :, :3] = np.nan
    s = compute(ens, obs)
    pairs = []
    for i, j in itertools.combinations(range(4), 2):
        st = fss_init((5.0,), (8,))
        fss_accum(st, np.where(np.isnan(obs), np.nan, ens[i]), np.where(np.isnan(obs), np.nan, ens[j]))
        pairs.append(fss_compute(st).fss[0][0].value)
    assert s.member_fss.value == pytest.approx(np.mean(pairs), rel=1e-12)


def centroids_brute_force(field, thr):
    labels, n = ndimage.label(field >= thr)
    return [np.array(c) for c in ndimage.center_of_mass(np.ones_like(field), labels, range(1, n + 1))]


def test_centroid_spread_against_brute_force():
    ens, obs = blobs(1, members=3, shape=(3, 32, 32))
    s = compute(ens, obs)
    dists = []
    for t in range(3):
        cents = [centroids_brute_force(ens[m, t], 5.0) for m in range(3)]
        for i, j in itertools.permutations(range(3), 2):
            if cents[j]:
                dists += [min(np.linalg.norm(c - d) for d in cents[j]) for c in cents[i]]
    assert s.centroid_spread.value == pytest.approx(np.mean(dists), rel=1e-12)


def test_identical_members_agree_and_shifted_members_do_not():
    _, obs = blobs(2)
    same = compute(np.repeat(obs[None], 3, axis=0), obs)
    assert same.member_fss.value == pytest.approx(1.0)
    assert same.centroid_spread.value == 0.0
    shifted = np.stack([np.roll(obs, (0, 6 * m), axis=(1, 2)) for m in range(3)])
    moved = compute(shifted, obs)
    assert moved.member_fss.value < 0.9
    assert moved.centroid_spread.value > 3.0


def test_batches_and_merge_equal_all_at_once():
    ens, obs = blobs(3)
    whole = compute(ens, obs)
    a, b = localisation_init(3), localisation_init(3)
    localisation_accum(a, ens[:, :1], obs[:1])
    localisation_accum(b, ens[:, 1], obs[1])
    localisation_accum(b, ens[:, 2:], obs[2:])
    merged = localisation_compute(localisation_merge(a, b))
    assert merged.member_fss.value == pytest.approx(whole.member_fss.value, rel=1e-12)
    assert merged.centroid_spread.value == pytest.approx(whole.centroid_spread.value, rel=1e-12)
    assert merged.objects_per_member_field == whole.objects_per_member_field


@pytest.mark.filterwarnings("error")
def test_no_rain_and_one_member_give_reasons():
    dry = compute(np.zeros((3, 2, 16, 16)), np.zeros((2, 16, 16)))
    assert np.isnan(dry.member_fss.value) and "no member" in dry.member_fss.reason
    assert np.isnan(dry.centroid_spread.value) and dry.centroid_spread.reason
    one = compute(np.ones((1, 2, 16, 16)) * 10, np.zeros((2, 16, 16)))
    assert np.isnan(one.member_fss.value) and "2 members" in one.member_fss.reason
