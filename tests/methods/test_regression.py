"""Regression: loss decreases, masked pixels never count, quantile matching, estimate."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from qpeflow.config import MethodConfig
from qpeflow.data.batch import Batch
from qpeflow.errors import QpeflowError
from qpeflow.methods import Noise, build_method
from qpeflow.methods.regression import Regression, quantile_matching
from qpeflow.nn import build_network
from tests.methods.tiny import TINY, tiny_batch


def train_losses(method: Regression, steps: int = 30) -> list[float]:
    torch.manual_seed(0)
    net = build_network(TINY, 2, 2, method.x_channels, method.aux_channels)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    batch, losses = tiny_batch(), []
    for _ in range(steps):
        loss = method.loss(net, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("loss", ["mse", "mse_quantile"])
def test_masked_target_values_change_nothing(loss: str) -> None:
    torch.manual_seed(1)
    net = build_network(TINY, 2, 2, 0, 0)
    batch = tiny_batch()
    other = Batch(
        batch.cond,
        torch.where(batch.mask > 0, batch.target, torch.full_like(batch.target, 1e3)),
        batch.mask,
        batch.index,
    )
    nan = Batch(batch.cond, torch.where(batch.mask > 0, batch.target, torch.nan), batch.mask, batch.index)
    method = Regression(loss)
    ref = method.loss(net, batch).item()
    assert method.loss(net, other).item() == ref
    assert method.loss(net, nan).item() == ref


def test_quantile_matching_is_sorted_w2_and_ignores_placement() -> None:
    rng = np.random.default_rng(0)
    p, y = rng.random((2, 1, 4, 4)), rng.random((2, 1, 4, 4))
    mask = (rng.random((2, 1, 4, 4)) > 0.25).astype(float)
    keep = mask > 0
    brute = np.mean((np.sort(p[keep]) - np.sort(y[keep])) ** 2)
    got = quantile_matching(torch.tensor(p), torch.tensor(y), torch.tensor(mask))
    assert float(got) == pytest.approx(brute)
    shuffled = torch.tensor(y).flatten()[torch.randperm(32)].reshape(2, 1, 4, 4)
    assert float(quantile_matching(shuffled, torch.tensor(y), torch.ones(2, 1, 4, 4))) == pytest.approx(0.0)


def test_estimate_is_the_mean_field() -> None:
    torch.manual_seed(2)
    net = build_network(TINY, 2, 2, 0, 0)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    cond = tiny_batch().cond
    est = Regression().estimate(net, cond, steps=8, noise=Noise.seeded([1, 2, 3, 4]))
    assert est.sample.shape == (4, 1, 16, 16) and est.nfe == 1
    torch.testing.assert_close(est.sample, Regression.predict(net, cond))
    torch.testing.assert_close(Regression().estimate(net, cond, 1, Noise.seeded([5, 6, 7, 8])).sample, est.sample)


def test_build_and_errors() -> None:
    assert isinstance(build_method(MethodConfig(kind="regression", loss="mse_quantile")), Regression)
    with pytest.raises(QpeflowError, match="unknown 'l1'"):
        Regression("l1")
    with pytest.raises(QpeflowError, match="cannot be residual"):
        build_method(MethodConfig(kind="regression"), mean=lambda c: c[:, -1, :1])
