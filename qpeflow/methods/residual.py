"""Residual(mean, generative): generate around a frozen regression mean (CorrDiff).

Mardani et al. (2025, "Residual corrective diffusion modeling for km-scale
atmospheric downscaling"): a regression network predicts the conditional mean
mu(cond); a generative model learns the residual r = target - mu, conditioned on
mu as well; an estimate is mu + r_sample.

Composition, not flags: :class:`Residual` wraps any :class:`~qpeflow.methods.base.Method`
by wrapping what that method touches,

- the batch: its target becomes the residual (target - mu where mask == 1, 0
  elsewhere; masked pixels stay out of every loss anyway);
- the network: :class:`MeanConditioned` adds ``aux = mu`` to every call, so the
  generative method calls ``net(x, t, cond)`` as always, unaware of the mean;
- the estimate: mu is added back to every member.

The generative method therefore works in *residual space*, where the mean is 0.
A flow's source lives there too: ``GaussianSource`` starts at mu + eps in rain
space, and ``MeanSource(sigma)`` (with no ``center`` callable: centre 0 in
residual space) starts at mu + sigma eps in rain space, the "U-Net mean plus
scaled noise" source of DESIGN.md, without the flow knowing about the mean.

NFE of an estimate is the generative method's plus one for the mean (computed
once per batch and shared by the members).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from qpeflow.data.batch import Batch
from qpeflow.methods.base import CondFn, Estimate, Method, Net, Noise

MeanFn = Callable[[Tensor], Tensor]


class MeanConditioned:
    """A net wrapper: ``(x, t, cond, aux=None) -> net(x, t, cond, [aux | mu])``.

    mu is the mean computed once for the cond the wrapper was built with; a call
    with any other cond (a tiled network cuts cond into tiles *after* this
    wrapper, so that does not happen in qpeflow's own code) recomputes it.
    """

    def __init__(self, net: Net, mean: MeanFn, cond: Tensor, mu: Tensor) -> None:
        self.net, self.mean = net, mean
        self._cond, self._mu = cond, mu

    def _mu_for(self, cond: Tensor) -> Tensor:
        if cond is self._cond:
            return self._mu
        with torch.no_grad():
            return self.mean(cond).float()

    def __call__(self, x: Tensor | None, t: Tensor, cond: Tensor, aux: Tensor | None = None) -> Tensor:
        mu = self._mu_for(cond)
        aux = mu if aux is None else torch.cat([aux, mu], dim=1)
        return self.net(x, t, cond, aux)


class Residual:
    """Train ``generative`` on target - mean(cond); estimate mean + generated residual.

    Args:
        mean: cond (B, T, C, H, W) -> (B, 1, H, W) in model space, frozen (e.g.
            ``functools.partial(Regression.predict, mean_net)``); called under no_grad.
        generative: the method that models the residual (DDPM, FlowMatching).
    """

    def __init__(self, mean: MeanFn, generative: Method) -> None:
        self.mean = mean
        self.generative = generative
        self.x_channels = generative.x_channels
        self.aux_channels = generative.aux_channels + 1
        self.time_inputs = getattr(generative, "time_inputs", 1)  # scalars in the net's t (2: MeanFlow)
        self.label = f"{generative.label}_residual"

    def _mu(self, cond: Tensor) -> Tensor:
        with torch.no_grad():
            return self.mean(cond).float()

    def residual_batch(self, batch: Batch, mu: Tensor) -> Batch:
        """The batch with target replaced by target - mu where mask == 1 (0 elsewhere)."""
        res = torch.where(batch.mask > 0, batch.target - mu, torch.zeros_like(batch.target))
        return Batch(batch.cond, res, batch.mask, batch.index)

    def loss(self, net: Net, batch: Batch, generator: torch.Generator | None = None) -> Tensor:
        """The generative loss on the residual, with mu as auxiliary conditioning."""
        mu = self._mu(batch.cond)
        return self.generative.loss(
            MeanConditioned(net, self.mean, batch.cond, mu), self.residual_batch(batch, mu), generator
        )

    def estimate(self, net: Net, cond: Tensor, steps: int, noise: Noise | None = None, sampler: str = "") -> Estimate:
        """mu + a generated residual, (B, 1, H, W); nfe = generative nfe + 1."""
        mu = self._mu(cond)
        est = self.generative.estimate(MeanConditioned(net, self.mean, cond, mu), cond, steps, noise, sampler)
        return Estimate(est.sample + mu, est.nfe + 1)

    def map_cond_fns(self, wrap: Callable[[CondFn], CondFn]) -> Residual:
        """``Residual(wrap(mean), generative.map_cond_fns(wrap))``."""
        return Residual(wrap(self.mean), self.generative.map_cond_fns(wrap))
