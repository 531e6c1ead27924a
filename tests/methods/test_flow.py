"""Conditional flow matching: paper formulas, t sampling, sources, training, masks, samplers, seeds."""

from __future__ import annotations

import pytest
import torch

from qpeflow.config import MethodConfig
from qpeflow.errors import QpeflowError
from qpeflow.methods import Noise, build_method
from qpeflow.methods.flow import FlowMatching, GaussianSource, MeanSource


@pytest.mark.parametrize("s_min", [0.0, 0.1])
def test_path_and_velocity_match_lipman_eqs_22_23(s_min: float) -> None:
    fm = FlowMatching(sigma_min=s_min)
    x0, x1, t = torch.randn(3, 1, 4, 4), torch.randn(3, 1, 4, 4), torch.tensor([0.0, 0.3, 1.0])
    p = fm.path(x0, x1, t)
    for k in range(3):
        tk = float(t[k])
        torch.testing.assert_close(p.x_t[k], (1 - (1 - s_min) * tk) * x0[k] + tk * x1[k])
    torch.testing.assert_close(p.u_t, x1 - (1 - s_min) * x0)
    torch.testing.assert_close(p.x_t[0], x0[0])
    torch.testing.assert_close(p.x_t[2], x1[2] + s_min * x0[2])
    t_var = t.clone().requires_grad_(True)  # u_t is d x_t / dt
    (grad,) = torch.autograd.grad(fm.path(x0, x1, t_var).x_t.sum(), t_var)
    torch.testing.assert_close(grad, p.u_t.sum(dim=(1, 2, 3)))


def test_t_sampling() -> None:
    g = torch.Generator().manual_seed(0)
    uni = FlowMatching(t_sampling="uniform").sample_t(20000, g, "cpu")
    ln = FlowMatching(t_sampling="logit_normal").sample_t(20000, g, "cpu")
    assert float(uni.min()) >= 0 and float(uni.max()) < 1 and abs(float(uni.mean()) - 0.5) < 0.01
    logit = torch.log(ln / (1 - ln))  # Esser et al. 2024: logit(t) ~ N(0, 1)
    assert abs(float(logit.mean())) < 0.03 and abs(float(logit.std()) - 1) < 0.03


def test_sources() -> None:
    eps, center = torch.randn(2, 1, 4, 4), torch.randn(2, 1, 4, 4)
    torch.testing.assert_close(GaussianSource().sample(eps, center), eps)
    torch.testing.assert_close(MeanSource(0.3).sample(eps, center), center + 0.3 * eps)
    torch.testing.assert_close(MeanSource(0.3).sample(eps, None), 0.3 * eps)


@pytest.mark.parametrize("sampler", ["euler", "midpoint"])
@pytest.mark.parametrize("steps", [1, 3])
def test_exact_velocity_reproduces_x1(sampler: str, steps: int) -> None:
    """A net returning the straight path's conditional velocity (x1 - x) / (1 - t) lands on x1."""
    x1 = torch.randn(2, 1, 8, 8)

    def net(x, t, cond, aux=None):
        return (x1 - x) / (1 - t).reshape(-1, 1, 1, 1)

    for seed in range(3):
        est = FlowMatching().estimate(net, torch.zeros(2, 1, 1, 8, 8), steps, Noise.seeded([seed, seed + 9]), sampler)
        assert est.nfe == steps * (1 if sampler == "euler" else 2)
        torch.testing.assert_close(est.sample, x1, rtol=1e-4, atol=1e-5)


def test_mean_source_with_center_starts_at_center_plus_noise() -> None:
    """Zero velocity: the estimate is the source sample, center + sigma eps with eps from the member's seed."""
    center = torch.randn(2, 1, 8, 8)
    fm = FlowMatching(source=MeanSource(0.5), center=lambda cond: center)
    est = fm.estimate(
        lambda x, t, c, aux=None: torch.zeros_like(x), torch.zeros(2, 1, 1, 8, 8), 4, Noise.seeded([1, 2]), "heun"
    )
    eps = torch.randn(1, 8, 8, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(est.sample[1], center[1] + 0.5 * eps)


def test_build_and_errors() -> None:
    m = build_method(MethodConfig(kind="flow", t_sampling="logit_normal", sigma_min=0.01))
    assert isinstance(m, FlowMatching) and m.sigma_min == 0.01 and m.t_sampling == "logit_normal"
    with pytest.raises(QpeflowError, match="needs a regression mean"):
        build_method(MethodConfig(kind="flow", source="mean"))
    with pytest.raises(QpeflowError, match="not a flow sampler"):
        FlowMatching().estimate(lambda *a: a[0], torch.zeros(1, 1, 1, 8, 8), 2, None, "ddim")
    with pytest.raises(QpeflowError, match="t_sampling"):
        FlowMatching(t_sampling="beta")
