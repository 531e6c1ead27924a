"""MeanFlow: the identity against an exact average velocity, one step from an exact oracle on a Gaussian
mixture, time sampling, masks, the jump sampler, config, training through the config, tiled inference."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from qpeflow.config import MethodConfig, load_config
from qpeflow.data.batch import Batch
from qpeflow.errors import QpeflowError
from qpeflow.inference.estimator import load_estimator
from qpeflow.inference.tiled_net import TiledNet, Tiling, tiled_mean
from qpeflow.methods import MeanFlow, Noise, Residual, build_method
from qpeflow.methods.flow import FlowMatching, MeanSource
from qpeflow.training.fit import fit
from tests.methods.tiny import tiny_batch
from tests.paths import CONFIGS
from tests.writers.store import make_tiny_store, tiny_overrides

MU, SIGMA = 0.7, 0.5  # the Gaussian target N(MU, SIGMA^2) of the identity test


def _spread(tau: Tensor, sigma: float | Tensor) -> Tensor:
    """S(tau): std of z_tau = (1 - tau) x0 + tau x1, x0 ~ N(0, 1) independent of x1 with std sigma."""
    return torch.sqrt((1 - tau) ** 2 + tau**2 * sigma**2)


def gaussian_u(z: Tensor, times: Tensor) -> Tensor:
    """Exact average velocity for the data N(MU, SIGMA^2) per pixel, times (B, 2) = (t, h), h > 0.

    The straight path from N(0, 1) to a Gaussian has Gaussian marginals N(tau MU, S(tau)^2), and in 1-D
    the flow of the marginal ODE is the increasing map between them, psi_{t->s}(z) = s MU + S(s)/S(t)
    (z - t MU) (the only increasing map pushing one Gaussian to the other). Eq. 3 of the paper
    (displacement / interval) gives u = MU + (S(s)/S(t) - 1)/h (z - t MU).
    """
    t, h = times[:, 0].reshape(-1, 1, 1, 1), times[:, 1].reshape(-1, 1, 1, 1)
    return MU + (_spread(t + h, SIGMA) / _spread(t, SIGMA) - 1) / h * (z - t * MU)


def gaussian_v(z: Tensor, t: Tensor) -> Tensor:
    """The marginal velocity d psi / ds at s = t: MU + S'(t)/S(t) (z - t MU), S' = (t SIGMA^2 - (1 - t)) / S."""
    t = t.reshape(-1, 1, 1, 1)
    return MU + (t * SIGMA**2 - (1 - t)) / _spread(t, SIGMA) ** 2 * (z - t * MU)


def test_identity_target_of_the_exact_average_velocity_is_itself() -> None:
    """u_tgt = v + h sg(du/dt) (Eq. 10 in qpeflow's time) equals u for the exact u and marginal v: the JVP
    tangent (v, 1, -1) on (z, t, h) is right (a tangent with h fixed, or t's sign flipped, fails)."""
    g = torch.Generator().manual_seed(0)
    z = torch.randn(6, 1, 4, 4, generator=g)
    t = torch.tensor([0.0, 0.1, 0.3, 0.5, 0.2, 0.05])
    times = torch.stack([t, torch.tensor([1.0, 0.6, 0.5, 0.3, 0.05, 0.9])], dim=1)

    def oracle(x: Tensor, tt: Tensor, cond: Tensor, aux: Tensor | None = None) -> Tensor:
        return gaussian_u(x, tt)

    u_theta, u_tgt = MeanFlow().target(oracle, z, times, gaussian_v(z, t), torch.zeros(6, 1, 1, 4, 4))
    torch.testing.assert_close(u_tgt, u_theta, rtol=1e-4, atol=1e-5)
    assert not u_tgt.requires_grad
    wrong = (
        gaussian_v(z, t)
        + times[:, 1].reshape(-1, 1, 1, 1)
        * torch.func.jvp(
            lambda zz, tt: gaussian_u(zz, torch.stack([tt, times[:, 1]], 1)), (z, t), (gaussian_v(z, t), torch.ones(6))
        )[1]
    )
    assert (wrong - u_theta).abs().max() > 0.05  # h held fixed instead of s: the identity does not hold


# a per-pixel two-component Gaussian mixture: weights, means, standard deviations
PI, M, S = (0.3, 0.7), (-1.5, 1.0), (0.4, 0.6)
MIX_MEAN = sum(p * m for p, m in zip(PI, M))
MIX_VAR = sum(p * (s**2 + m**2) for p, m, s in zip(PI, M, S)) - MIX_MEAN**2


def mixture_cdf(z: Tensor, tau: Tensor) -> Tensor:
    """CDF of z_tau = (1 - tau) x0 + tau x1: the mixture of N(tau m_k, (1 - tau)^2 + tau^2 s_k^2)."""
    return sum(p * 0.5 * (1 + torch.erf((z - tau * m) / (_spread(tau, s) * math.sqrt(2)))) for p, m, s in zip(PI, M, S))


def mixture_u(z: Tensor, times: Tensor) -> Tensor:
    """Exact average velocity (F_s^-1(F_t(z)) - z) / h for the mixture, by bisection in float64."""
    z = z.double()
    t, h = (times[:, i].double().reshape(-1, 1, 1, 1) for i in (0, 1))
    target = mixture_cdf(z, t)
    lo, hi = torch.full_like(z, -12.0), torch.full_like(z, 12.0)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        below = mixture_cdf(mid, t + h) < target
        lo, hi = torch.where(below, mid, lo), torch.where(below, hi, mid)
    return ((0.5 * (lo + hi) - z) / h).float()


@pytest.mark.parametrize("steps", [1, 2])
def test_exact_average_velocity_one_step_recovers_the_mixture(steps: int) -> None:
    """From x0 ~ N(0, 1), ``steps`` jumps with the exact u land on the mixture: its mean, variance, mass below 0.

    Proof that ``mixture_u`` is the exact average velocity of the straight path N(0, 1) -> mixture,
    per pixel: (i) source and data pixels are independent and the coupling is independent, so the
    marginal velocity E[x1 - x0 | z_t] of pixel i depends on z_t of pixel i only: a 1-D problem;
    (ii) z_tau = (1 - tau) x0 + tau x1 with x0 ~ N(0, 1) independent of x1 ~ sum_k pi_k N(m_k, s_k^2)
    is the mixture sum_k pi_k N(tau m_k, (1 - tau)^2 + tau^2 s_k^2), CDF F_tau (closed form);
    (iii) the flow psi_{t->s} of the marginal ODE carries p_t to p_s (continuity equation) and, in
    1-D, is increasing (trajectories cannot cross); the only increasing map carrying the continuous
    p_t to p_s is F_s^-1 o F_t; (iv) by the definition (paper Eq. 3) the average velocity is the
    displacement over the interval, u(z, t, s) = (F_s^-1(F_t(z)) - z) / (s - t). One step is
    psi_{0->1}, two steps psi_{1/2->1} o psi_{0->1/2} = psi_{0->1}: both push N(0, 1) to the data.

    The control: one Euler step of flow matching with its *exact* velocity at t = 0, E[x1] - z,
    returns the mixture mean everywhere (variance 0), as DESIGN.md notes for CFM at one step.
    """
    cond = torch.zeros(8, 1, 1, 32, 32)

    def oracle(x: Tensor, times: Tensor, c: Tensor, aux: Tensor | None = None) -> Tensor:
        return mixture_u(x, times)

    est = MeanFlow().estimate(oracle, cond, steps, Noise.seeded(range(8)))
    x = est.sample.double()
    assert est.nfe == steps
    assert abs(float(x.mean()) - MIX_MEAN) < 0.04 and abs(float(x.var()) / MIX_VAR - 1) < 0.04
    below = float(mixture_cdf(torch.tensor(0.0, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64)))
    assert abs(float((x < 0).double().mean()) - below) < 0.02  # bimodal mass, not only two moments

    def fm_velocity(x: Tensor, t: Tensor, c: Tensor, aux: Tensor | None = None) -> Tensor:
        return MIX_MEAN - x  # E[x1 - x0 | z_0 = x] at t = 0

    flat = FlowMatching().estimate(fm_velocity, cond, 1, Noise.seeded(range(8))).sample
    assert float(flat.var()) < 1e-10


def test_time_sampling() -> None:
    g = torch.Generator().manual_seed(0)
    times = MeanFlow(equal_fraction=0.75).sample_times(20000, g, "cpu")
    t, h = times[:, 0], times[:, 1]
    assert times.shape == (20000, 2) and float(h.min()) >= 0 and float((t + h).max()) <= 1 and float(t.min()) > 0
    assert abs(float((h == 0).float().mean()) - 0.75) < 0.015
    pairs = MeanFlow(equal_fraction=0.0, t_mean=0.4, t_std=1.0).sample_times(20000, g, "cpu")
    both = torch.cat([pairs[:, 0], pairs.sum(dim=1)])  # {t, s} = the two logit-normal draws
    logit = torch.log(both / (1 - both))
    assert bool((pairs[:, 1] > 0).all())
    assert abs(float(logit.mean()) - 0.4) < 0.03 and abs(float(logit.std()) - 1) < 0.03


def test_a_fully_masked_sample_has_no_weight() -> None:
    """A sample without radar has m_b = 0 and would get the largest weight 1 / c: it gets 0 instead."""
    batch = tiny_batch()
    net = ConvNet(extra=0)
    empty = batch.mask.clone()
    empty[0] = 0
    loss = MeanFlow().loss(net, Batch(batch.cond, batch.target, empty, batch.index), torch.Generator().manual_seed(1))
    assert torch.isfinite(loss) and float(loss.detach()) > 1e-3
    none = torch.zeros_like(batch.mask)
    assert float(MeanFlow().loss(net, Batch(batch.cond, batch.target, none, batch.index)).detach()) == 0.0


class ConvNet(nn.Module):
    """net(x, (t, h), cond, aux) -> (B, 1, H, W), translation-equivariant (radius 2), depends on t and h."""

    def __init__(self, extra: int, frames: int = 2, channels: int = 2) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.a = nn.Conv2d(frames * channels + 1 + extra, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 1, 3, padding=1)
        for p in self.parameters():
            p.data = torch.randn(p.shape, generator=g) * 0.3

    def forward(self, x, t, cond, aux=None):  # type: ignore[no-untyped-def]
        parts = [cond.flatten(1, 2), x] + ([aux] if aux is not None else [])
        h = torch.tanh(self.a(torch.cat(parts, 1)))
        return self.b(h) * (1 + t[:, :1, None, None] + 2 * t[:, 1:, None, None])


def test_jumps_call_the_net_with_the_grid_and_the_interval() -> None:
    seen: list[Tensor] = []

    def net(x: Tensor, times: Tensor, cond: Tensor, aux: Tensor | None = None) -> Tensor:
        seen.append(times.clone())
        return torch.zeros_like(x)

    cond = torch.zeros(3, 1, 1, 8, 8)
    est = MeanFlow(source=MeanSource(0.5)).estimate(net, cond, 4, Noise.seeded([1, 2, 3]), "euler")
    assert est.nfe == 4 == len(seen)
    expected = torch.tensor([[k / 4, 0.25] for k in range(4)])
    torch.testing.assert_close(torch.stack([s[0] for s in seen]), expected)
    assert all(s.shape == (3, 2) for s in seen)
    eps = torch.randn(1, 8, 8, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(est.sample[1], 0.5 * eps)  # zero velocity: the source sample
    with pytest.raises(QpeflowError, match="MeanFlow jumps"):
        MeanFlow().estimate(net, cond, 2, None, "heun")
    with pytest.raises(QpeflowError, match=">= 1 step"):
        MeanFlow().estimate(net, cond, 0)


def test_build_method_plain_residual_and_errors() -> None:
    cfg = MethodConfig(kind="meanflow", meanflow_equal_fraction=0.5, meanflow_weight_power=0.5)
    m = build_method(cfg)
    assert isinstance(m, MeanFlow) and m.equal_fraction == 0.5 and m.weight_power == 0.5 and m.time_inputs == 2
    r = build_method(MethodConfig(kind="meanflow", source="mean", source_sigma=0.3), lambda c: c[:, -1, :1])
    assert isinstance(r, Residual) and r.label == "meanflow_residual" and r.time_inputs == 2
    assert r.x_channels == 1 and r.aux_channels == 1 and isinstance(r.generative.source, MeanSource)
    with pytest.raises(QpeflowError, match="needs a regression mean"):
        build_method(MethodConfig(kind="meanflow", source="mean"))
    with pytest.raises(QpeflowError, match="meanflow_equal_fraction"):
        MethodConfig(kind="meanflow", meanflow_equal_fraction=1.5)
    with pytest.raises(QpeflowError, match="meanflow_weight_eps"):
        MethodConfig(kind="meanflow", meanflow_weight_eps=0.0)


def test_residual_meanflow_tiled_member_equals_whole() -> None:
    """Tiled network calls pass (t, h) through: a tiled residual MeanFlow member equals the whole-field one."""

    def mean(c: Tensor) -> Tensor:
        return torch.tanh(c[:, -1, :1])

    tiling = Tiling(tile=32, overlap=12, batch=4, margin=4, progress=False)
    method = Residual(mean, MeanFlow(source=MeanSource(0.5)))
    net, cond = ConvNet(1).eval(), torch.randn(1, 2, 2, 60, 70, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        whole = method.estimate(net, cond, 2, Noise.seeded([3])).sample
        tiled_m = method.map_cond_fns(lambda fn: tiled_mean(fn, tiling))
        tiled = tiled_m.estimate(TiledNet(net, tiling), cond, 2, Noise.seeded([3])).sample
    np.testing.assert_allclose(tiled.numpy(), whole.numpy(), atol=1e-5)
    assert float(whole.std()) > 0.1  # a real random field, not a constant


def test_config_trains_saves_and_reloads(tmp_path: Path) -> None:
    """configs/meanflow_residual.yaml through fit (residual_of a 2-step U-Net), then the checkpoint rebuilt."""
    store = make_tiny_store(tmp_path / "s.zarr", n=8, size=16)
    unet = fit(load_config(CONFIGS / "unet.yaml", tiny_overrides(store, tmp_path / "unet", 2)))
    over = [*tiny_overrides(store, tmp_path / "mf", 2), f"method.residual_of={unet.checkpoint}"]
    res = fit(load_config(CONFIGS / "meanflow_residual.yaml", over))
    est = load_estimator(res.checkpoint, "cpu")
    assert est.label.startswith("meanflow_residual") and any(k.startswith("unet.embed2.") for k in est.net.state_dict())
    cond = torch.zeros(2, len(est.time_in), len(est.channels), 16, 16)
    out = est.sample(cond, est.cfg.sample.steps, Noise.seeded([0, 1]))
    assert out.nfe == 2 and out.rain_mmh.shape == (2, 1, 16, 16) and np.isfinite(out.rain_mmh).all()
