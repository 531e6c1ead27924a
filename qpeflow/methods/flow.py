"""Conditional flow matching (Lipman et al. 2023; Liu et al. 2023, rectified flow).

Path and target (Lipman et al. 2023, Eqs. 20-23, written for a source sample
x0 and a data sample x1, t = 0 at the source, t = 1 at the data):

    x_t = (1 - (1 - s_min) t) x0 + t x1,      u_t = x1 - (1 - s_min) x0,

and the loss is the masked mean of |net(x_t, t, cond) - u_t|^2. With
s_min = 0 this is rectified flow (Liu et al. 2023). t is uniform on [0, 1] or
logit-normal, t = sigmoid(n), n ~ N(0, 1) (Esser et al. 2024, Sec. 3.1).

The source distribution is a parameter object (:class:`GaussianSource`,
:class:`MeanSource`): x0 = source.sample(eps, center) with eps ~ N(0, I). A
:class:`MeanSource` puts x0 = center + sigma eps around a centre field given
by the optional ``center`` callable (cond -> (B, 1, H, W)), e.g. a regression
mean; the flow knows nothing about where the centre comes from. Without a
``center`` callable the centre is 0, which is exactly right inside a
:class:`~qpeflow.methods.residual.Residual`, whose residual space has the
regression mean at 0: there ``MeanSource(sigma)`` means "start at the mean
plus sigma noise" in rain space.

Estimation integrates dx/dt = net(x, t, cond) from t = 0 to 1 on a uniform grid
with an ODE sampler of :mod:`qpeflow.samplers` (euler by default, heun,
midpoint); nfe = steps for euler, 2 steps for heun and midpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

from qpeflow.data.batch import Batch
from qpeflow.errors import QpeflowError
from qpeflow.methods.base import CondFn, Estimate, Net, Noise, masked_mean, noise_or_global, rand, randn
from qpeflow.samplers import ODE_SAMPLERS, uniform_grid

T_SAMPLINGS = ("uniform", "logit_normal")


class Source(Protocol):
    """A source distribution: x0 from standard noise eps (B, 1, H, W) and an optional centre (B, 1, H, W)."""

    def sample(self, eps: Tensor, center: Tensor | None) -> Tensor: ...


@dataclass(frozen=True)
class GaussianSource:
    """x0 = eps ~ N(0, I); ignores any centre."""

    def sample(self, eps: Tensor, center: Tensor | None) -> Tensor:
        return eps


@dataclass(frozen=True)
class MeanSource:
    """x0 = center + sigma eps (center 0 when None, e.g. in residual space)."""

    sigma: float = 1.0

    def sample(self, eps: Tensor, center: Tensor | None) -> Tensor:
        return self.sigma * eps if center is None else center + self.sigma * eps


@dataclass(frozen=True)
class PathSample:
    """A point on the conditional path: x_t (B, 1, H, W) and its velocity target u_t (B, 1, H, W)."""

    x_t: Tensor
    u_t: Tensor


class FlowMatching:
    """Conditional flow matching (x_channels = 1, aux_channels = 0).

    Args:
        sigma_min: s_min of Lipman et al. 2023, Eq. 20 (0: rectified flow).
        t_sampling: ``"uniform"`` or ``"logit_normal"``.
        source: :class:`GaussianSource` or :class:`MeanSource`.
        center: cond (B, T, C, H, W) -> centre (B, 1, H, W) for a MeanSource, or None (centre 0).
    """

    x_channels = 1
    aux_channels = 0
    label = "cfm"

    def __init__(
        self,
        sigma_min: float = 0.0,
        t_sampling: str = "uniform",
        source: Source | None = None,
        center: Callable[[Tensor], Tensor] | None = None,
    ) -> None:
        if t_sampling not in T_SAMPLINGS:
            raise QpeflowError(f"method.t_sampling: unknown {t_sampling!r}; known: {list(T_SAMPLINGS)}")
        if not 0.0 <= sigma_min < 1.0:
            raise QpeflowError(f"method.sigma_min: need 0 <= sigma_min < 1, got {sigma_min}")
        self.sigma_min = sigma_min
        self.t_sampling = t_sampling
        self.source: Source = source if source is not None else GaussianSource()
        self.center = center

    def path(self, x0: Tensor, x1: Tensor, t: Tensor) -> PathSample:
        """Lipman et al. 2023, Eqs. 22-23; t (B,) broadcast over (B, 1, H, W)."""
        t = t.reshape(-1, *([1] * (x0.ndim - 1)))
        x_t = (1 - (1 - self.sigma_min) * t) * x0 + t * x1
        return PathSample(x_t, x1 - (1 - self.sigma_min) * x0)

    def sample_t(self, n: int, generator: torch.Generator | None, device: torch.device | str) -> Tensor:
        """(n,) training times in [0, 1]."""
        if self.t_sampling == "uniform":
            return rand((n,), generator, device)
        return torch.sigmoid(randn((n,), generator, device))

    def _center(self, cond: Tensor) -> Tensor | None:
        if self.center is None:
            return None
        with torch.no_grad():
            return self.center(cond).float()

    def loss(self, net: Net, batch: Batch, generator: torch.Generator | None = None) -> Tensor:
        """Masked mean of |v(x_t, t) - u_t|^2 at one random t per sample."""
        x1 = torch.where(batch.mask > 0, batch.target, torch.zeros_like(batch.target))  # masked: no leak via x_t
        x0 = self.source.sample(randn(x1.shape, generator, x1.device), self._center(batch.cond))
        t = self.sample_t(x1.shape[0], generator, x1.device)
        p = self.path(x0, x1, t)
        return masked_mean((net(p.x_t, t, batch.cond).float() - p.u_t).square(), batch.mask)

    def estimate(self, net: Net, cond: Tensor, steps: int, noise: Noise | None = None, sampler: str = "") -> Estimate:
        """One sample (B, 1, H, W) per condition: the learned velocity integrated over ``steps`` uniform steps
        from x0 = source(eps, centre), eps drawn from ``noise``."""
        name = sampler or "euler"
        if name not in ODE_SAMPLERS:
            raise QpeflowError(f"sample.sampler: {name!r} is not a flow sampler; known: {sorted(ODE_SAMPLERS)}")
        if steps < 1:
            raise QpeflowError(f"sample.steps: flow matching needs >= 1 step, got {steps}")
        b, (h, w) = cond.shape[0], cond.shape[-2:]
        eps = noise_or_global(noise, b, cond.device).randn((b, 1, h, w)).to(cond.device)
        x0 = self.source.sample(eps, self._center(cond))

        def velocity(x: Tensor, t: Tensor) -> Tensor:
            return net(x, t.expand(x.shape[0]), cond).float()

        res = ODE_SAMPLERS[name](velocity, x0, uniform_grid(steps, cond.device))
        return Estimate(res.x, res.nfe)

    def map_cond_fns(self, wrap: Callable[[CondFn], CondFn]) -> FlowMatching:
        """A copy whose ``center`` (if any) is ``wrap(center)``."""
        center = None if self.center is None else wrap(self.center)
        return FlowMatching(self.sigma_min, self.t_sampling, self.source, center)
