"""Residual(mean, generative): residual target, mean as aux, mean added back, composition with DDPM and flow."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from qpeflow.config import MethodConfig
from qpeflow.data.batch import Batch
from qpeflow.methods import build_method
from qpeflow.methods.base import Estimate
from qpeflow.methods.ddpm import DDPM
from qpeflow.methods.flow import FlowMatching, MeanSource
from qpeflow.methods.regression import Regression
from qpeflow.methods.residual import Residual
from qpeflow.nn import build_network
from tests.methods.tiny import TINY, fixed_objective_losses, tiny_batch


class CountingMean:
    """A 'frozen regression': 0.5 * relu(first channel of the last frame); counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, cond: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return 0.5 * torch.relu(cond[:, -1, :1])


class Recorder:
    """A fake generative method that records what Residual hands it."""

    x_channels, aux_channels = 1, 0

    def __init__(self, samples: torch.Tensor) -> None:
        self.samples, self.seen = samples, {}

    def loss(self, net, batch, generator=None):
        self.seen["target"] = batch.target
        self.seen["out"] = net(batch.target, torch.zeros(batch.target.shape[0]), batch.cond)
        return batch.target.sum()

    def estimate(self, net, cond, n_members, steps, generators=None, sampler=""):
        return Estimate(self.samples, 7)


def aux_echo(x, t, cond, aux=None):
    """A net that returns its aux input."""
    return aux


def test_residual_target_and_mean_as_aux() -> None:
    mean, batch = CountingMean(), tiny_batch()
    rec = Recorder(torch.zeros(1))
    Residual(mean, rec).loss(aux_echo, batch)
    mu = mean(batch.cond)
    torch.testing.assert_close(rec.seen["target"], torch.where(batch.mask > 0, batch.target - mu, 0.0))
    torch.testing.assert_close(rec.seen["out"], mu)


def test_estimate_adds_the_mean_back() -> None:
    mean, cond = CountingMean(), tiny_batch().cond
    samples = torch.randn(3, 4, 1, 16, 16)
    est = Residual(mean, Recorder(samples)).estimate(aux_echo, cond, 3, 2)
    torch.testing.assert_close(est.samples, samples + mean(cond).unsqueeze(0))
    assert est.nfe == 8


def test_flow_with_mean_source_starts_around_the_mean_in_rain_space() -> None:
    """Zero residual velocity: estimate = mu + sigma eps; the mean is evaluated once for all members and steps."""
    mean, cond = CountingMean(), tiny_batch().cond
    method = build_method(MethodConfig(kind="flow", source="mean", source_sigma=0.2), mean)
    assert isinstance(method, Residual) and (method.x_channels, method.aux_channels) == (1, 1)
    seen_aux = []

    def net(x, t, c, aux=None):
        seen_aux.append(aux)
        return torch.zeros_like(x)

    est = method.estimate(net, cond, 3, 4, [torch.Generator().manual_seed(s) for s in (1, 2, 3)], "heun")
    mu = 0.5 * torch.relu(cond[:, -1, :1])
    eps = torch.randn(4, 1, 16, 16, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(est.samples[2], mu + 0.2 * eps)
    assert mean.calls == 1 and len(seen_aux) == 8
    torch.testing.assert_close(seen_aux[0], mu.repeat(3, 1, 1, 1))


@pytest.mark.parametrize("generative", [DDPM("v", "cosine"), FlowMatching(0.0, "uniform", MeanSource(0.5))])
def test_loss_finite_decreasing_and_masked(generative) -> None:
    torch.manual_seed(0)
    mean_net = build_network(TINY, 2, 2, 0, 0)
    with torch.no_grad():
        for p in mean_net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    method = Residual(functools.partial(Regression.predict, mean_net), generative)
    net = build_network(TINY, 2, 2, method.x_channels, method.aux_channels)
    losses = fixed_objective_losses(method, net)
    assert all(np.isfinite(losses)) and np.mean(losses[-5:]) < 0.7 * losses[0]
    assert all(p.grad is None for p in mean_net.parameters())  # the mean stays frozen
    batch = tiny_batch()
    junk = Batch(batch.cond, torch.where(batch.mask > 0, batch.target, torch.nan), batch.mask, batch.index)
    a = method.loss(net, batch, torch.Generator().manual_seed(3)).item()
    assert method.loss(net, junk, torch.Generator().manual_seed(3)).item() == a


def test_members_reproducible_through_residual() -> None:
    torch.manual_seed(3)
    net = build_network(TINY, 2, 2, 1, 1)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    method = build_method(MethodConfig(kind="ddpm", diffusion_steps=50), CountingMean())
    cond = tiny_batch().cond[:2]
    with torch.no_grad():
        both = method.estimate(net, cond, 2, 5, [torch.Generator().manual_seed(s) for s in (4, 5)])
        alone = method.estimate(net, cond, 1, 5, [torch.Generator().manual_seed(5)])
    torch.testing.assert_close(both.samples[1], alone.samples[0], rtol=1e-4, atol=1e-5)
    assert both.nfe == 6
