"""The contract every method keeps (qpeflow.methods.base.Method), one test per clause, over every method.

- training: the loss is finite and falls on a fixed batch with fixed noise, and
  values under the mask never reach it;
- estimate: one (B, 1, H, W) finite field per condition;
- reproducibility: row b of a batch equals the same condition estimated alone
  with the same row seed, and two seeds give two members (generative methods);
- cost: the NFE reported is the number of network evaluations made.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pytest
import torch

from qpeflow.data.batch import Batch
from qpeflow.data.transforms import IRNorm, LogRain
from qpeflow.methods import (
    DDPM,
    FlowMatching,
    IRBaseline,
    MeanFlow,
    MeanSource,
    Method,
    Noise,
    Regression,
    Residual,
)
from qpeflow.nn import build_network
from tests.methods.tiny import TINY, fixed_objective_losses, tiny_batch


def _perturbed(net: torch.nn.Module, seed: int) -> torch.nn.Module:
    """A freshly initialised net with its zero-initialised output layers made non-trivial."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return net


def _mean_net() -> torch.nn.Module:
    torch.manual_seed(11)
    return _perturbed(build_network(TINY, 2, 2, 0, 0), 11).eval().requires_grad_(False)


#: name -> (builds the method, generative: whether members differ, steps for an estimate)
METHODS: dict[str, tuple[Callable[[], Method], bool, int]] = {
    "regression": (lambda: Regression("mse"), False, 1),
    "regression_quantile": (lambda: Regression("mse_quantile"), False, 1),
    "ddpm_eps_ddim": (lambda: DDPM("eps", "cosine", 50, zero_terminal_snr=False, max_beta=0.8), True, 5),
    "ddpm_v": (lambda: DDPM("v", "linear", 50), True, 5),
    "cfm": (lambda: FlowMatching(), True, 3),
    "cfm_logit_normal": (lambda: FlowMatching(0.01, "logit_normal"), True, 3),
    "cfm_residual": (lambda: Residual(functools.partial(Regression.predict, _mean_net()), FlowMatching()), True, 3),
    "cfm_residual_mean_source": (
        lambda: Residual(functools.partial(Regression.predict, _mean_net()), FlowMatching(source=MeanSource(0.5))),
        True,
        3,
    ),
    "ddpm_residual": (lambda: Residual(functools.partial(Regression.predict, _mean_net()), DDPM("v")), True, 4),
    "meanflow": (lambda: MeanFlow(), True, 2),
    "meanflow_residual": (lambda: Residual(functools.partial(Regression.predict, _mean_net()), MeanFlow()), True, 1),
}
#: ancestral DDPM and Heun draw noise differently from DDIM and Euler: the reproducibility clause covers them
SAMPLERS = {"ddpm_eps_ddim": "ancestral", "cfm": "heun", "cfm_residual": "midpoint"}


def _build(method: Method) -> torch.nn.Module:
    """The tiny network a method needs (MeanFlow's takes two time inputs)."""
    return build_network(TINY, 2, 2, method.x_channels, method.aux_channels, getattr(method, "time_inputs", 1))


def _net(method: Method, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return _perturbed(_build(method), seed)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_loss_finite_decreasing_and_blind_to_masked_values(name: str) -> None:
    method = METHODS[name][0]()
    net = _build(method)
    losses = fixed_objective_losses(method, net)
    assert all(np.isfinite(losses))
    assert np.mean(losses[-5:]) < 0.7 * losses[0]
    batch = tiny_batch()
    junk = Batch(batch.cond, torch.where(batch.mask > 0, batch.target, torch.nan), batch.mask, batch.index)
    a = method.loss(net, batch, torch.Generator().manual_seed(3)).item()
    assert method.loss(net, junk, torch.Generator().manual_seed(3)).item() == a


class CountingNet:
    """Counts the calls of a network (one call = one network evaluation for every row)."""

    def __init__(self, net: torch.nn.Module) -> None:
        self.net, self.calls = net, 0

    def __call__(self, *args: object) -> torch.Tensor:
        self.calls += 1
        return self.net(*args)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_estimate_shape_finite_and_nfe_counts_network_calls(name: str) -> None:
    build, _, steps = METHODS[name]
    method, cond = build(), tiny_batch().cond
    net = CountingNet(_net(method))
    with torch.no_grad():
        est = method.estimate(net, cond, steps, Noise.seeded(range(cond.shape[0])), SAMPLERS.get(name, ""))
    assert est.sample.shape == (cond.shape[0], 1, 16, 16) and bool(torch.isfinite(est.sample).all())
    frozen_mean = 1 if isinstance(method, Residual) else 0
    assert est.nfe == net.calls + frozen_mean
    assert method.label and isinstance(method.label, str)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_rows_reproducible_from_their_seed_whatever_the_batch(name: str) -> None:
    build, generative, steps = METHODS[name]
    method, cond, sampler = build(), tiny_batch().cond, SAMPLERS.get(name, "")
    net = _net(method)
    with torch.no_grad():
        batch = method.estimate(net, cond, steps, Noise.seeded([10, 11, 12, 13]), sampler).sample
        alone = method.estimate(net, cond[2:3], steps, Noise.seeded([12]), sampler).sample
        other = method.estimate(net, cond[2:3], steps, Noise.seeded([99]), sampler).sample
    torch.testing.assert_close(batch[2:3], alone, rtol=1e-3, atol=1e-4)  # batch size changes float rounding
    assert generative != torch.allclose(alone, other)


def test_baseline_is_a_method_without_network_or_objective() -> None:
    """GPI through the contract: cond normalised IR_108 -> 3 mm/h below 235 K, nfe 0, no loss."""
    rain = LogRain()
    bt = torch.tensor([[230.0, 240.0], [200.0, 300.0]])[None, None, None]  # (1, T=1, C=1, 2, 2) K
    method = IRBaseline("gpi", 0, IRNorm((250.0,), (20.0,)), rain.forward)
    est = method.estimate(None, (bt - 250.0) / 20.0, 1)
    assert est.nfe == 0 and method.label == "gpi"
    torch.testing.assert_close(rain.inverse(est.sample)[0, 0], torch.tensor([[3.0, 0.0], [3.0, 0.0]]))
    with pytest.raises(Exception, match="no training objective"):
        method.loss(None, tiny_batch())
