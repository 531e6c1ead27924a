"""MeanFlow (Geng et al. 2025, arXiv 2505.13447): one-step generation from the average velocity.

The paper's convention puts data at t = 0 and noise at t = 1: z_t = (1 - t) x + t eps,
v = eps - x, and the average velocity over [r, t], r <= t, is evaluated at the *later*
(noisier) point z_t and moves it back to z_r. qpeflow's flows go the other way (source
x0 at t = 0, data x1 at t = 1, :mod:`qpeflow.methods.flow`), so here, with s >= t,

    x_t = (1 - t) x0 + t x1,   v = x1 - x0,                                   (paper Eq. 1)
    u(z_t, t, s) = 1 / (s - t) * integral_t^s v(z_tau, tau) dtau    (s > t),  (paper Eq. 3)
    u(z_t, t, t) = v(z_t, t),

the displacement from the state z_t at its own time t to time s: z_s = z_t + (s - t) u.
(Paper time p = 1 - tau; its u(z, r, t) at the point's time t is -u(z, 1 - t, 1 - r) here.)
Differentiating (s - t) u(z_t, t, s) = integral_t^s v dtau in t along the trajectory,
s fixed, gives the MeanFlow identity (paper Eq. 6) in this convention:

    u(z_t, t, s) = v(z_t, t) + (s - t) d/dt u(z_t, t, s),
    d/dt u = v . d_z u + d_t u,                                               (paper Eq. 8)

a Jacobian-vector product of u along (v, 1, 0) on (z, t, s). The network takes the
state's time t and the interval h = s - t (the paper's (t, t - r) embedding, its Table 1),
so along (z, t, h) the tangent is (v, 1, -1). Training (paper Eqs. 9-10, Alg. 1):

    u_tgt = v + (s - t) sg(v . d_z u_theta + d_t u_theta),   Delta = u_theta(z_t, t, h) - u_tgt,

with v the *conditional* velocity x1 - x0 (as in flow matching, its conditional mean is
the marginal velocity). Per sample, m_b = mean of Delta^2 over its valid pixels and the
adaptive weight w_b = sg(1 / (m_b + c)^p) (the paper's "adaptive loss weighting"; p = 1,
c = 1e-3; p = 0 is the plain squared loss). The loss is the weighted mean
sum_b w_b m_b / sum_b w_b: the same per-sample weighting as the paper's mean_b w_b m_b
(a batch-wide positive factor apart, which Adam absorbs), but its value stays a mean
squared error that falls as training goes and is comparable across steps and methods
(the paper's value is about 1 by construction, useless for logging and validation).
The paper sums Delta^2 over dimensions; the mean over valid pixels keeps c's meaning
independent of the patch size and the radar mask.

Times: a, b ~ logit-normal(mean, std) (Esser et al. 2024), t = min(a, b), s = max(a, b),
and s = t for a fraction of the samples (flow-matching samples; the paper's best
ImageNet setting has 75 % with r = t and logit-normal(-0.4, 1) in its time, i.e. mean
+0.4 here, since logit(1 - p) = -logit(p)).

Sampling (paper Alg. 2): z_{k+1} = z_k + h u(z_k, t_k, h) on the uniform grid t_k = k h,
h = 1 / steps; one step is x1 = x0 + u(x0, 0, 1). This is exactly the Euler update of
:mod:`qpeflow.samplers` with u at the step's interval as velocity; nfe = steps.

The source is a :class:`~qpeflow.methods.flow.Source` as for flow matching, so
``Residual(mean, MeanFlow(...))`` generates the residual around a regression mean
exactly as the residual flow does.

JVP through the U-Net: forward-mode AD (``torch.autograd.forward_ad``) handles
convolutions, GroupNorm (made contiguous under forward AD by
:class:`qpeflow.nn.unet.GroupNorm`: its formula fails on channels-last input), SiLU and
upsampling; the fused attention kernels have no forward-mode formula (pytorch issues
128971, 146901, 165530), so the JVP runs with the math attention backend. One training
step costs about 2.2-2.4 times flow matching's on CPU (forward + JVP + backward).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.autograd.forward_ad as fwAD
from torch import Tensor
from torch.nn.attention import SDPBackend, sdpa_kernel

from qpeflow.data.batch import Batch
from qpeflow.errors import QpeflowError
from qpeflow.methods.base import CondFn, Estimate, Net, Noise, noise_or_global, rand, randn
from qpeflow.methods.flow import GaussianSource, Source
from qpeflow.samplers import ODE_SAMPLERS, uniform_grid


class MeanFlow:
    """MeanFlow: average velocity u(z, t, h) over [t, t + h], one or a few jumps (x_channels = 1).

    The network is called as ``net(z, times, cond)`` with times (B, 2) = (t, h), so it
    must be built with two time inputs (``time_inputs = 2``).

    Args:
        equal_fraction: fraction of training samples with s = t (plain flow matching).
        t_mean, t_std: logit-normal parameters of the two training times (qpeflow's time).
        weight_power: p of the adaptive weight 1 / (m + c)^p (0: plain squared loss).
        weight_eps: c of the adaptive weight.
        source: :class:`~qpeflow.methods.flow.GaussianSource` or ``MeanSource``.
        center: cond (B, T, C, H, W) -> centre (B, 1, H, W) for a MeanSource, or None (centre 0).
    """

    x_channels = 1
    aux_channels = 0
    time_inputs = 2
    label = "meanflow"

    def __init__(
        self,
        equal_fraction: float = 0.75,
        t_mean: float = 0.4,
        t_std: float = 1.0,
        weight_power: float = 1.0,
        weight_eps: float = 1e-3,
        source: Source | None = None,
        center: Callable[[Tensor], Tensor] | None = None,
    ) -> None:
        if not 0.0 <= equal_fraction <= 1.0:
            raise QpeflowError(f"method.meanflow_equal_fraction: need 0 <= fraction <= 1, got {equal_fraction}")
        if t_std <= 0 or weight_power < 0 or weight_eps <= 0:
            raise QpeflowError("method: meanflow_t_std and meanflow_weight_eps must be > 0, meanflow_weight_power >= 0")
        self.equal_fraction, self.t_mean, self.t_std = equal_fraction, t_mean, t_std
        self.weight_power, self.weight_eps = weight_power, weight_eps
        self.source: Source = source if source is not None else GaussianSource()
        self.center = center

    def sample_times(self, n: int, generator: torch.Generator | None, device: torch.device | str) -> Tensor:
        """(n, 2) training (t, h): t <= s two logit-normal times, h = s - t, h = 0 for ``equal_fraction`` rows."""
        ab = torch.sigmoid(self.t_mean + self.t_std * randn((n, 2), generator, device))
        t, s = ab.min(dim=1).values, ab.max(dim=1).values
        equal = rand((n,), generator, device) < self.equal_fraction
        return torch.stack([t, torch.where(equal, torch.zeros_like(t), s - t)], dim=1)

    def _center(self, cond: Tensor) -> Tensor | None:
        if self.center is None:
            return None
        with torch.no_grad():
            return self.center(cond).float()

    def target(self, net: Net, z: Tensor, times: Tensor, v: Tensor, cond: Tensor) -> tuple[Tensor, Tensor]:
        """(u_theta, u_tgt), both (B, 1, H, W): u_theta(z, t, h) keeps its graph; u_tgt = v + h sg(du/dt).

        du/dt is one forward-mode JVP of u along (v, 1, -1) on (z, t, h) (s = t + h fixed), with the dual
        numbers of ``torch.autograd.forward_ad`` (``torch.func.jvp``'s wrapped tensors have no storage, which
        DistributedDataParallel's forward cannot take); u_theta's graph serves the backward pass as usual.
        """
        t, h = times[:, 0], times[:, 1]

        def u(z_: Tensor, t_: Tensor, h_: Tensor) -> Tensor:
            return net(z_, torch.stack([t_, h_], dim=1), cond).float()

        with sdpa_kernel(SDPBackend.MATH), fwAD.dual_level():
            duals = (
                fwAD.make_dual(z, v),
                fwAD.make_dual(t, torch.ones_like(t)),
                fwAD.make_dual(h, -torch.ones_like(h)),
            )
            u_theta, dudt = fwAD.unpack_dual(u(*duals))
        return u_theta, (v + h.reshape(-1, 1, 1, 1) * dudt).detach()

    def loss(self, net: Net, batch: Batch, generator: torch.Generator | None = None) -> Tensor:
        """Adaptive-weighted mean over samples of the per-sample masked mean of |u_theta - sg(u_tgt)|^2."""
        x1 = torch.where(batch.mask > 0, batch.target, torch.zeros_like(batch.target))  # masked: no leak via z_t
        x0 = self.source.sample(randn(x1.shape, generator, x1.device), self._center(batch.cond))
        times = self.sample_times(x1.shape[0], generator, x1.device)
        tb = times[:, :1, None, None]
        z = (1 - tb) * x0 + tb * x1
        u_theta, u_tgt = self.target(net, z, times, x1 - x0, batch.cond)
        keep = (batch.mask > 0).expand_as(u_theta)
        sq = torch.where(keep, (u_theta - u_tgt).square(), torch.zeros_like(u_theta))
        count = keep.sum(dim=(1, 2, 3))
        per_sample = sq.sum(dim=(1, 2, 3)) / count.clamp(min=1)
        weight = torch.where(count > 0, (per_sample.detach() + self.weight_eps) ** -self.weight_power, 0.0)
        return (weight * per_sample).sum() / weight.sum().clamp(min=torch.finfo(weight.dtype).tiny)

    def estimate(self, net: Net, cond: Tensor, steps: int, noise: Noise | None = None, sampler: str = "") -> Estimate:
        """One sample (B, 1, H, W) per condition: ``steps`` jumps z + h u(z, t_k, h) from x0 = source(eps, centre)."""
        if (sampler or "euler") != "euler":
            raise QpeflowError(f"sample.sampler: MeanFlow jumps z + h u(z, t, h) ('euler' or ''), not {sampler!r}")
        if steps < 1:
            raise QpeflowError(f"sample.steps: MeanFlow needs >= 1 step, got {steps}")
        b, (hh, ww) = cond.shape[0], cond.shape[-2:]
        eps = noise_or_global(noise, b, cond.device).randn((b, 1, hh, ww)).to(cond.device)
        x0 = self.source.sample(eps, self._center(cond))
        h = 1.0 / steps

        def jump_velocity(x: Tensor, t: Tensor) -> Tensor:
            times = torch.stack([t.expand(x.shape[0]), torch.full_like(t, h).expand(x.shape[0])], dim=1)
            return net(x, times.float(), cond).float()

        res = ODE_SAMPLERS["euler"](jump_velocity, x0, uniform_grid(steps, cond.device))
        return Estimate(res.x, res.nfe)

    def map_cond_fns(self, wrap: Callable[[CondFn], CondFn]) -> MeanFlow:
        """A copy whose ``center`` (if any) is ``wrap(center)``."""
        center = None if self.center is None else wrap(self.center)
        return MeanFlow(
            self.equal_fraction, self.t_mean, self.t_std, self.weight_power, self.weight_eps, self.source, center
        )
