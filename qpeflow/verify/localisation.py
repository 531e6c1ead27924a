"""Localisation randomness: how much the members of an ensemble agree on where it rains.

- Member-to-member FSS (Roberts & Lean 2008 applied to pairs of members, e.g.
  Dey et al. 2014, Mon. Wea. Rev. 142, 4091-4107): for each pair (i, j), i < j, the FSS of member i
  against member j at ``threshold`` (5 mm/h) and ``scale`` (8 px), its sums
  accumulated over all fields; then the mean over pairs with any event. 1 when
  every member puts the rain in the same place. Windows and masks as
  :mod:`qpeflow.verify.spatial` (masked = non-event, left out of the sums).
- Centroid spread (px): rain objects are the 4-connected areas >= ``threshold``
  of one member in one field (``scipy.ndimage.label``); their centroids are the
  unweighted pixel means. For every object of member i and every other member j
  with at least one object in that field, the distance to the nearest object
  centroid of j; ``centroid_spread`` is the mean of these distances over all
  objects, members and fields. 0 when all members place identical objects;
  about the displacement when members are shifted copies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from qpeflow.verify.spatial import fss_from_sums, summed_area_table, window_fractions
from qpeflow.verify.value import ScoreValue, divide, ensemble_valid, undefined

#: 4-connectivity inside each (Y, X) slice, never across the stacked axis
_SLICE_CROSS = np.zeros((3, 3, 3), dtype=bool)
_SLICE_CROSS[1] = ndimage.generate_binary_structure(2, 1)


@dataclass
class LocalisationState:
    """Accumulator: (M, M) sums of S_i S_j over fields, and centroid-distance sums."""

    members: int
    threshold: float
    scale: int
    gram: np.ndarray
    sum_distance: float = 0.0
    n_distance: int = 0
    n_objects: int = 0
    n_fields: int = 0


@dataclass(frozen=True)
class LocalisationScores:
    """Localisation scores (see module docstring)."""

    threshold: float  # mm/h
    scale: int  # px
    member_fss: ScoreValue
    centroid_spread: ScoreValue  # px
    objects_per_member_field: ScoreValue  # mean number of objects in one member's field


def localisation_init(members: int, threshold: float = 5.0, scale: int = 8) -> LocalisationState:
    """Empty accumulator for ``members`` members, threshold (mm/h), FSS scale (px)."""
    return LocalisationState(members, float(threshold), int(scale), np.zeros((members, members)))


def _object_centroids(events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """events (S, Y, X) bool -> (slice index (K,), centroid (K, 2) in px) of every object."""
    labels, k = ndimage.label(events, structure=_SLICE_CROSS)
    if k == 0:
        return np.zeros(0, dtype=int), np.zeros((0, 2))
    on = np.flatnonzero(labels)
    lab = labels.ravel()[on]
    s_idx, y_idx, x_idx = np.unravel_index(on, labels.shape)
    count = np.bincount(lab, minlength=k + 1)[1:]
    cy = np.bincount(lab, weights=y_idx, minlength=k + 1)[1:] / count
    cx = np.bincount(lab, weights=x_idx, minlength=k + 1)[1:] / count
    first = np.zeros(k + 1, dtype=int)
    first[lab] = s_idx  # every pixel of an object is in the same slice
    return first[1:], np.stack([cy, cx], axis=1)


def _nearest_distances(member: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Distances from each object to the nearest object of each other member present (one field)."""
    out = []
    for j in np.unique(member):
        mine = member == j
        if mine.all():
            continue
        dist, _ = cKDTree(xy[mine]).query(xy[~mine])
        out.append(dist)
    return np.concatenate(out) if out else np.zeros(0)


def _accum_centroids(state: LocalisationState, events: np.ndarray) -> None:
    m, n = events.shape[:2]
    slice_idx, xy = _object_centroids(events.reshape((m * n,) + events.shape[2:]))
    state.n_objects += slice_idx.size
    state.n_fields += n
    member, fieldno = slice_idx // n, slice_idx % n
    order = np.argsort(fieldno, kind="stable")
    member, fieldno, xy = member[order], fieldno[order], xy[order]
    bounds = np.flatnonzero(np.diff(fieldno)) + 1
    for mem, pts in zip(np.split(member, bounds), np.split(xy, bounds)):
        d = _nearest_distances(mem, pts)
        state.sum_distance += float(d.sum())
        state.n_distance += d.size


def localisation_accum(state: LocalisationState, ens: np.ndarray, obs: np.ndarray) -> None:
    """Add ``ens`` (M, N, Y, X) or (M, Y, X) members, mm/h; ``obs`` (N, Y, X) / (Y, X) gives the mask only."""
    ens, obs = np.asarray(ens), np.asarray(obs)
    if ens.ndim == 3:
        ens, obs = ens[:, None], obs[None]
    valid = ensemble_valid(ens, obs)
    with np.errstate(invalid="ignore"):
        events = (ens >= state.threshold) & valid
    fractions = window_fractions(summed_area_table(events), state.scale)[:, valid]  # (M, P)
    state.gram += fractions @ fractions.T
    _accum_centroids(state, events)


def localisation_merge(a: LocalisationState, b: LocalisationState) -> LocalisationState:
    """Sum of two accumulators with equal settings (inputs unchanged)."""
    if (a.members, a.threshold, a.scale) != (b.members, b.threshold, b.scale):
        raise ValueError("cannot merge localisation accumulators with different settings")
    return LocalisationState(
        a.members,
        a.threshold,
        a.scale,
        a.gram + b.gram,
        a.sum_distance + b.sum_distance,
        a.n_distance + b.n_distance,
        a.n_objects + b.n_objects,
        a.n_fields + b.n_fields,
    )


def localisation_compute(state: LocalisationState) -> LocalisationScores:
    """Member-to-member FSS, centroid spread and objects per member-field (see module docstring)."""
    m, g = state.members, state.gram
    if m < 2:
        reason = "needs at least 2 members"
        return LocalisationScores(state.threshold, state.scale, undefined(reason), undefined(reason), undefined(reason))
    pairs = [fss_from_sums(g[i, i], g[i, j], g[j, j], "") for i in range(m) for j in range(i + 1, m)]
    defined = [p.value for p in pairs if p.defined]
    no_rain = f"no member has a pixel >= {state.threshold:g} mm/h"
    member_fss = ScoreValue(float(np.mean(defined))) if defined else undefined(no_rain)
    spread = divide(
        state.sum_distance, state.n_distance, f"never two members with objects >= {state.threshold:g} mm/h in one field"
    )
    per_field = divide(state.n_objects, m * state.n_fields, "no field accumulated")
    return LocalisationScores(state.threshold, state.scale, member_fss, spread, per_field)
