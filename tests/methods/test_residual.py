"""Residual(mean, generative): residual target, mean as aux, mean added back, composition with DDPM and flow."""

from __future__ import annotations

import functools

import torch

from qpeflow.config import MethodConfig
from qpeflow.methods import Noise, build_method
from qpeflow.methods.base import Estimate
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

    x_channels, aux_channels, label = 1, 0, "recorder"

    def __init__(self, samples: torch.Tensor) -> None:
        self.samples, self.seen = samples, {}

    def loss(self, net, batch, generator=None):
        self.seen["target"] = batch.target
        self.seen["out"] = net(batch.target, torch.zeros(batch.target.shape[0]), batch.cond)
        return batch.target.sum()

    def estimate(self, net, cond, steps, noise=None, sampler=""):
        return Estimate(self.samples, 7)

    def map_cond_fns(self, wrap):
        return self


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
    samples = torch.randn(4, 1, 16, 16)
    method = Residual(mean, Recorder(samples))
    est = method.estimate(aux_echo, cond, 2)
    torch.testing.assert_close(est.sample, samples + mean(cond))
    assert est.nfe == 8 and method.label == "recorder_residual"


def test_flow_with_mean_source_starts_around_the_mean_in_rain_space() -> None:
    """Zero residual velocity: estimate = mu + sigma eps; the mean is evaluated once for all steps."""
    mean, cond = CountingMean(), tiny_batch().cond
    method = build_method(MethodConfig(kind="flow", source="mean", source_sigma=0.2), mean)
    assert isinstance(method, Residual) and (method.x_channels, method.aux_channels) == (1, 1)
    seen_aux = []

    def net(x, t, c, aux=None):
        seen_aux.append(aux)
        return torch.zeros_like(x)

    est = method.estimate(net, cond, 4, Noise.seeded([1, 2, 3, 4]), "heun")
    mu = 0.5 * torch.relu(cond[:, -1, :1])
    eps = torch.randn(1, 16, 16, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(est.sample[2], mu[2] + 0.2 * eps)
    assert mean.calls == 1 and len(seen_aux) == 8
    torch.testing.assert_close(seen_aux[0], mu)


def test_training_never_moves_the_frozen_mean() -> None:
    torch.manual_seed(0)
    mean_net = build_network(TINY, 2, 2, 0, 0)
    before = [p.detach().clone() for p in mean_net.parameters()]
    method = Residual(functools.partial(Regression.predict, mean_net), FlowMatching(0.0, "uniform", MeanSource(0.5)))
    fixed_objective_losses(method, build_network(TINY, 2, 2, method.x_channels, method.aux_channels), steps=3)
    assert all(p.grad is None for p in mean_net.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, mean_net.parameters()))


def test_map_cond_fns_wraps_the_mean_and_the_generatives_centre() -> None:
    """Tiled inference hands every whole-cond callable through map_cond_fns; nothing else asks 'is it residual?'."""
    wrapped = []

    def wrap(fn):
        wrapped.append(fn)
        return lambda cond: 2 * fn(cond)

    mean, cond = CountingMean(), tiny_batch().cond
    inner = FlowMatching(source=MeanSource(0.0), center=lambda c: torch.ones(c.shape[0], 1, 16, 16))
    method = Residual(mean, inner).map_cond_fns(wrap)
    assert len(wrapped) == 2 and isinstance(method, Residual)
    est = method.estimate(lambda x, t, c, aux=None: torch.zeros_like(x), cond, 2, Noise.seeded([1, 2, 3, 4]))
    torch.testing.assert_close(est.sample, 2 * mean(cond) + 2.0)  # doubled mean + doubled centre (sigma 0)
