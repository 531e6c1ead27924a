"""All scores of one ensemble prediction set, accumulated together over batches of fields.

``suite_init -> suite_accum(state, ens (M, N, Y, X), obs (N, Y, X))* -> suite_merge
-> suite_compute`` returns a :class:`SuiteScores` with the results of every
module; :mod:`qpeflow.verify.summary` turns them into named scalars and curves.
Deterministic scores are computed on member 1 and on the ensemble mean; the
distribution of values pools all members; the spectrum is that of member 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qpeflow.verify.categorical import (
    CategoricalScores,
    ContingencyState,
    categorical_accum,
    categorical_compute,
    categorical_init,
    categorical_merge,
)
from qpeflow.verify.classes import (
    ClassScores,
    ClassState,
    check_edges,
    classes_accum,
    classes_compute,
    classes_init,
    classes_merge,
)
from qpeflow.verify.continuous import (
    ContinuousScores,
    ContinuousState,
    continuous_accum,
    continuous_compute,
    continuous_init,
    continuous_merge,
)
from qpeflow.verify.distribution import (
    DistributionResult,
    DistributionState,
    distribution_accum,
    distribution_compute,
    distribution_init,
    distribution_merge,
)
from qpeflow.verify.ensemble import (
    EnsembleScores,
    EnsembleState,
    ensemble_accum,
    ensemble_compute,
    ensemble_init,
    ensemble_merge,
)
from qpeflow.verify.localisation import (
    LocalisationScores,
    LocalisationState,
    localisation_accum,
    localisation_compute,
    localisation_init,
    localisation_merge,
)
from qpeflow.verify.spatial import FSSScores, FSSState, fss_accum, fss_compute, fss_init, fss_merge
from qpeflow.verify.spectral import RAPSDResult, RAPSDState, rapsd_accum, rapsd_compute, rapsd_init, rapsd_merge

#: deterministic views of the ensemble scored separately
VIEWS = ("member1", "ensemble_mean")


@dataclass(frozen=True)
class SuiteSettings:
    """Thresholds (mm/h) and scales (px) of the suite (DESIGN.md, 'Evaluation')."""

    thresholds: tuple[float, ...] = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0)
    fss_thresholds: tuple[float, ...] = (1.0, 5.0, 10.0)
    fss_scales: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    brier_thresholds: tuple[float, ...] = (1.0, 5.0)
    class_edges: tuple[float, ...] = (0.1, 2.5, 10.0, 50.0)  # intensity classes, qpeflow.verify.classes
    localisation_threshold: float = 5.0
    localisation_scale: int = 8
    small_scale_px: float = 16.0
    spearman_capacity: int = 1_000_000
    seed: int = 0


@dataclass
class SuiteState:
    """Accumulators of every score; ``categorical`` etc. are keyed by view ("member1", "ensemble_mean")."""

    categorical: dict[str, ContingencyState]
    classes: dict[str, ClassState]
    continuous: dict[str, ContinuousState]
    fss: dict[str, FSSState]
    rapsd: RAPSDState
    distribution: DistributionState
    ensemble: EnsembleState
    localisation: LocalisationState
    settings: SuiteSettings
    n_fields: int = 0


@dataclass(frozen=True)
class SuiteScores:
    """Results of every module for one prediction set."""

    members: int
    n_fields: int
    categorical: dict[str, CategoricalScores]
    classes: dict[str, ClassScores]  # {} when the settings have no class edges
    continuous: dict[str, ContinuousScores]
    fss: dict[str, FSSScores]
    rapsd: RAPSDResult
    distribution: DistributionResult
    ensemble: EnsembleScores
    localisation: LocalisationScores


def suite_init(members: int, shape: tuple[int, int], settings: SuiteSettings = SuiteSettings()) -> SuiteState:
    """Empty accumulators for ``members`` members of fields of ``shape`` (Y, X).

    Raises ValueError when the class edges are not increasing or their first edge (the
    rain/no-rain threshold) is missing from ``thresholds``.
    """
    s = settings
    check_edges(s.class_edges, s.thresholds)
    return SuiteState(
        categorical={v: categorical_init(s.thresholds) for v in VIEWS},
        classes={v: classes_init(s.class_edges) for v in VIEWS} if s.class_edges else {},
        continuous={v: continuous_init(s.spearman_capacity, s.seed) for v in VIEWS},
        fss={v: fss_init(s.fss_thresholds, s.fss_scales) for v in VIEWS},
        rapsd=rapsd_init(shape),
        distribution=distribution_init(),
        ensemble=ensemble_init(members, s.brier_thresholds, s.seed),
        localisation=localisation_init(members, s.localisation_threshold, s.localisation_scale),
        settings=s,
    )


def suite_accum(state: SuiteState, ens: np.ndarray, obs: np.ndarray) -> None:
    """Add ``ens`` (M, N, Y, X) members and ``obs`` (N, Y, X) truth, mm/h, NaN = masked."""
    ens, obs = np.asarray(ens, dtype=np.float64), np.asarray(obs, dtype=np.float64)
    if ens.ndim != 4 or ens.shape[1:] != obs.shape:
        raise ValueError(f"expected members (M, N, Y, X) and truth (N, Y, X), got {ens.shape} and {obs.shape}")
    views = {"member1": ens[0], "ensemble_mean": ens.mean(axis=0)}
    for v, pred in views.items():
        categorical_accum(state.categorical[v], pred, obs)
        if v in state.classes:
            classes_accum(state.classes[v], pred, obs)
        continuous_accum(state.continuous[v], pred, obs)
        fss_accum(state.fss[v], pred, obs)
    rapsd_accum(state.rapsd, ens[0], obs)
    distribution_accum(state.distribution, ens, obs)
    ensemble_accum(state.ensemble, ens, obs)
    localisation_accum(state.localisation, ens, obs)
    state.n_fields += obs.shape[0]


def suite_merge(a: SuiteState, b: SuiteState) -> SuiteState:
    """Combination of two accumulators (inputs unchanged)."""
    return SuiteState(
        categorical={v: categorical_merge(a.categorical[v], b.categorical[v]) for v in VIEWS},
        classes={v: classes_merge(a.classes[v], b.classes[v]) for v in a.classes},
        continuous={v: continuous_merge(a.continuous[v], b.continuous[v]) for v in VIEWS},
        fss={v: fss_merge(a.fss[v], b.fss[v]) for v in VIEWS},
        rapsd=rapsd_merge(a.rapsd, b.rapsd),
        distribution=distribution_merge(a.distribution, b.distribution),
        ensemble=ensemble_merge(a.ensemble, b.ensemble),
        localisation=localisation_merge(a.localisation, b.localisation),
        settings=a.settings,
        n_fields=a.n_fields + b.n_fields,
    )


def suite_compute(state: SuiteState) -> SuiteScores:
    """Every score of everything accumulated."""
    return SuiteScores(
        members=state.ensemble.members,
        n_fields=state.n_fields,
        categorical={v: categorical_compute(state.categorical[v]) for v in VIEWS},
        classes={v: classes_compute(c) for v, c in state.classes.items()},
        continuous={v: continuous_compute(state.continuous[v]) for v in VIEWS},
        fss={v: fss_compute(state.fss[v]) for v in VIEWS},
        rapsd=rapsd_compute(state.rapsd, state.settings.small_scale_px),
        distribution=distribution_compute(state.distribution),
        ensemble=ensemble_compute(state.ensemble),
        localisation=localisation_compute(state.localisation),
    )
