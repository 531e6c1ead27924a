"""DDPM: published schedules, eps/v targets, training on a tiny batch, masks, samplers, seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qpeflow.data.batch import Batch
from qpeflow.errors import QpeflowError
from qpeflow.methods.ddpm import DDPM, trailing_timesteps
from qpeflow.methods.noise_schedules import cosine_schedule, linear_schedule
from qpeflow.nn import build_network
from tests.methods.tiny import TINY, fixed_objective_losses, tiny_batch


def test_linear_alphas_cumprod_brute_force() -> None:
    sched = linear_schedule(1000)
    abar, expected = 1.0, []
    for t in range(1, 1001):  # Ho et al. 2020: beta_t linear from 1e-4 (t = 1) to 0.02 (t = T)
        abar *= 1.0 - (1e-4 + (0.02 - 1e-4) * (t - 1) / 999)
        expected.append(abar)
    np.testing.assert_allclose(sched.alphas_cumprod.numpy(), expected, rtol=1e-10)


def test_cosine_alphas_cumprod_brute_force() -> None:
    sched = cosine_schedule(1000)

    def f(t: float) -> float:  # Nichol & Dhariwal 2021, Eq. 17, s = 0.008
        return math.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2

    expected = [f(t) / f(0) for t in range(1, 1000)]
    np.testing.assert_allclose(sched.alphas_cumprod[:-1].numpy(), expected, rtol=1e-9)
    assert float(sched.betas[-1]) == pytest.approx(0.999)  # the clipped last step
    assert float(sched.betas.max()) <= 0.999


def test_trailing_timesteps() -> None:
    assert trailing_timesteps(1000, 1000) == list(range(999, -1, -1))
    assert trailing_timesteps(1000, 1) == [999]
    ts = trailing_timesteps(1000, 50)
    assert ts[0] == 999 and ts[-1] == 19 and len(set(ts)) == 50
    with pytest.raises(QpeflowError):
        trailing_timesteps(1000, 0)


@pytest.mark.parametrize("prediction", ["eps", "v"])
def test_loss_target_matches_formula(prediction: str) -> None:
    """A net that outputs the true eps / v target gives a zero loss."""
    method = DDPM(prediction, "linear", 100)
    batch = tiny_batch()
    seen = {}

    def oracle(x, t, cond, aux=None):
        i = torch.round(t * 100).long()
        a = method.schedule.alphas_cumprod[i].float().reshape(-1, 1, 1, 1)
        eps = (x - a.sqrt() * batch.target) / (1 - a).sqrt()
        seen["t"] = t
        return eps if prediction == "eps" else a.sqrt() * eps - (1 - a).sqrt() * batch.target

    assert float(method.loss(oracle, batch, torch.Generator().manual_seed(0))) < 1e-8
    assert float(seen["t"].min()) >= 0.0 and float(seen["t"].max()) < 1.0


@pytest.mark.parametrize("prediction,schedule", [("eps", "cosine"), ("v", "linear")])
def test_loss_finite_and_decreasing(prediction: str, schedule: str) -> None:
    torch.manual_seed(0)
    method = DDPM(prediction, schedule)
    net = build_network(TINY, 2, 2, method.x_channels, method.aux_channels)
    losses = fixed_objective_losses(method, net)
    assert all(np.isfinite(losses))
    assert np.mean(losses[-5:]) < 0.7 * losses[0]


def test_masked_target_values_change_nothing() -> None:
    torch.manual_seed(1)
    method = DDPM("v", "cosine")
    net = build_network(TINY, 2, 2, 1, 0)
    batch = tiny_batch()
    junk = Batch(batch.cond, torch.where(batch.mask > 0, batch.target, torch.nan), batch.mask, batch.index)
    a = method.loss(net, batch, torch.Generator().manual_seed(3))
    b = method.loss(net, junk, torch.Generator().manual_seed(3))
    assert a.item() == b.item()


@pytest.mark.parametrize("sampler,steps", [("ddim", 5), ("ancestral", 20)])
def test_members_reproducible_from_their_seed(sampler: str, steps: int) -> None:
    torch.manual_seed(2)
    method = DDPM("eps", "linear", 20)
    net = build_network(TINY, 2, 2, 1, 0)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    cond = tiny_batch().cond[:2]
    gens = lambda seeds: [torch.Generator().manual_seed(s) for s in seeds]  # noqa: E731
    with torch.no_grad():
        both = method.estimate(net, cond, 2, steps, gens([10, 11]), sampler)
        alone = method.estimate(net, cond, 1, steps, gens([11]), sampler)
        grouped = DDPM("eps", "linear", 20, max_batch=2).estimate(net, cond, 2, steps, gens([10, 11]), sampler)
    assert both.samples.shape == (2, 2, 1, 16, 16) and both.nfe == steps
    torch.testing.assert_close(both.samples[1], alone.samples[0], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(grouped.samples, both.samples, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(both.samples[0], both.samples[1])


def test_estimate_errors() -> None:
    method = DDPM()
    cond = torch.zeros(1, 1, 1, 8, 8)
    with pytest.raises(QpeflowError, match="not a DDPM sampler"):
        method.estimate(lambda *a: a[0], cond, 1, 4, None, "heun")
    with pytest.raises(QpeflowError, match="generator"):
        method.estimate(lambda *a: a[0], cond, 2, 4, [torch.Generator()])
    with pytest.raises(QpeflowError, match="prediction"):
        DDPM("x0")


@pytest.mark.parametrize("prediction", ["eps", "v"])
@pytest.mark.parametrize("schedule", ["linear", "cosine"])
@pytest.mark.parametrize("sampler,steps", [("ddim", 1), ("ddim", 10), ("ancestral", 100)])
def test_estimate_with_an_oracle_net_returns_the_target(
    prediction: str, schedule: str, sampler: str, steps: int
) -> None:
    """A net that knows x0 and outputs the exact eps or v at t = i / N: every member ends on x0."""
    method = DDPM(prediction, schedule, 100)
    x0 = tiny_batch().target[:2]

    def oracle(x, t, cond, aux=None):
        i = torch.round(t * 100).long()
        a = method.schedule.alphas_cumprod[i].float().reshape(-1, 1, 1, 1)
        target = x0.repeat(x.shape[0] // 2, 1, 1, 1)
        eps = (x - a.sqrt() * target) / (1 - a).sqrt()
        return eps if prediction == "eps" else a.sqrt() * eps - (1 - a).sqrt() * target

    est = method.estimate(oracle, torch.zeros(2, 1, 1, 16, 16), 2, steps, None, sampler)
    for m in range(2):
        torch.testing.assert_close(est.samples[m], x0, rtol=1e-3, atol=1e-3)
