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

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from qpeflow.data.batch import Batch
from qpeflow.methods.base import Estimate, Method, Net

MeanFn = Callable[[Tensor], Tensor]


class MeanConditioned:
    """A net wrapper: ``(x, t, cond, aux=None) -> net(x, t, cond, [aux | mu(cond)])``.

    mu is computed under ``no_grad`` and memoised: for the cond it was built
    with, for the most recent cond seen, and for a member-major repetition of the
    known cond (:func:`~qpeflow.methods.base.repeat_members`), so a sampler's
    many calls cost no extra evaluation of the mean.
    """

    def __init__(self, net: Net, mean: MeanFn, cond: Tensor, mu: Tensor) -> None:
        self.net, self.mean = net, mean
        self._known = (cond, mu)
        self._last = (cond, mu)

    def _mu(self, cond: Tensor) -> Tensor:
        if cond is self._last[0]:
            return self._last[1]
        known_cond, known_mu = self._known
        k = cond.shape[0] // max(known_cond.shape[0], 1)
        if (
            k >= 1
            and cond.shape[0] == k * known_cond.shape[0]
            and cond.shape[1:] == known_cond.shape[1:]
            and torch.equal(cond, known_cond.repeat(k, *([1] * (cond.ndim - 1))))
        ):
            mu = known_mu.repeat(k, *([1] * (known_mu.ndim - 1)))
        else:
            with torch.no_grad():
                mu = self.mean(cond).float()
        self._last = (cond, mu)
        return mu

    def __call__(self, x: Tensor | None, t: Tensor, cond: Tensor, aux: Tensor | None = None) -> Tensor:
        mu = self._mu(cond)
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

    def estimate(
        self,
        net: Net,
        cond: Tensor,
        n_members: int,
        steps: int,
        generators: Sequence[torch.Generator] | None = None,
        sampler: str = "",
    ) -> Estimate:
        """mu + residual members, (M, B, 1, H, W); nfe = generative nfe + 1."""
        mu = self._mu(cond)
        est = self.generative.estimate(
            MeanConditioned(net, self.mean, cond, mu), cond, n_members, steps, generators, sampler
        )
        return Estimate(est.samples + mu.unsqueeze(0), est.nfe + 1)
