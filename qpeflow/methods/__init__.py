"""Methods: a loss for training and an estimator, composed with any network.

Registry signature: ``METHODS[kind](cfg: MethodConfig) -> Method`` (the
objects of :mod:`qpeflow.methods.base`); :func:`build_method` adds the
:class:`~qpeflow.methods.residual.Residual` wrapper when a mean is given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from torch import Tensor

from qpeflow.errors import QpeflowError
from qpeflow.methods.base import Estimate, Method, Noise
from qpeflow.methods.baselines import BASELINES, IRBaseline
from qpeflow.methods.ddpm import DDPM
from qpeflow.methods.flow import FlowMatching, GaussianSource, MeanSource, Source
from qpeflow.methods.meanflow import MeanFlow
from qpeflow.methods.regression import Regression
from qpeflow.methods.residual import Residual

if TYPE_CHECKING:  # only the type: methods do not depend on the config module at run time
    from qpeflow.config import MethodConfig

__all__ = [
    "BASELINES",
    "DDPM",
    "METHODS",
    "SOURCES",
    "Estimate",
    "FlowMatching",
    "GaussianSource",
    "IRBaseline",
    "MeanFlow",
    "MeanSource",
    "Method",
    "Noise",
    "Regression",
    "Residual",
    "build_method",
]


def _source(cfg: MethodConfig) -> Source:
    if cfg.source not in SOURCES:
        raise QpeflowError(f"method.source: unknown {cfg.source!r}; known: {sorted(SOURCES)}")
    return SOURCES[cfg.source](cfg)


SOURCES: dict[str, Callable[[MethodConfig], Source]] = {
    "gaussian": lambda cfg: GaussianSource(),
    "mean": lambda cfg: MeanSource(cfg.source_sigma),
}

METHODS: dict[str, Callable[[MethodConfig], Method]] = {
    "regression": lambda cfg: Regression(cfg.loss),
    "ddpm": lambda cfg: DDPM(
        cfg.prediction, cfg.schedule, cfg.diffusion_steps, cfg.x0_limit, cfg.zero_terminal_snr, cfg.max_beta
    ),
    "flow": lambda cfg: FlowMatching(cfg.sigma_min, cfg.t_sampling, _source(cfg)),
    "meanflow": lambda cfg: MeanFlow(
        cfg.meanflow_equal_fraction,
        cfg.meanflow_t_mean,
        cfg.meanflow_t_std,
        cfg.meanflow_weight_power,
        cfg.meanflow_weight_eps,
        _source(cfg),
    ),
}


def build_method(cfg: MethodConfig, mean: Callable[[Tensor], Tensor] | None = None) -> Method:
    """The method of ``cfg``; wrapped as ``Residual(mean, method)`` when ``mean`` is given.

    ``mean``: cond (B, T, C, H, W) -> (B, 1, H, W) in model space (a frozen
    regression, e.g. ``functools.partial(Regression.predict, mean_net)``).
    A ``source: mean`` flow needs it (its source is centred on the mean), and a
    regression cannot be residual.
    """
    if cfg.kind not in METHODS:
        raise QpeflowError(f"method.kind: unknown {cfg.kind!r}; known: {sorted(METHODS)}")
    method = METHODS[cfg.kind](cfg)
    if mean is None:
        if cfg.kind in ("flow", "meanflow") and cfg.source == "mean":
            raise QpeflowError("method.source: 'mean' needs a regression mean (set method.residual_of)")
        return method
    if cfg.kind == "regression":
        raise QpeflowError("method.residual_of: a regression cannot be residual; use kind ddpm, flow or meanflow")
    return Residual(mean, method)
