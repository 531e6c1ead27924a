"""Whole-domain sampling with tiled network calls: a generative member over tiles equals the whole-field
member (same noise, no seam), for flow matching and for a residual flow with its tiled mean."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from qpeflow.inference.tiled_net import TiledNet, Tiling, tiled_mean
from qpeflow.methods import Noise
from qpeflow.methods.flow import FlowMatching, MeanSource
from qpeflow.methods.residual import Residual

T, C, H, W = 2, 2, 100, 130


class ConvNet(nn.Module):
    """Translation-equivariant net(x, t, cond, aux) -> (B, 1, H, W), receptive-field radius 2."""

    def __init__(self, extra: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.a = nn.Conv2d(T * C + extra, 8, 3, padding=1)
        self.b = nn.Conv2d(8, 1, 3, padding=1)
        for p in self.parameters():
            p.data = torch.randn(p.shape, generator=g) * 0.3

    def forward(self, x, t, cond, aux=None):  # type: ignore[no-untyped-def]
        parts = [cond.flatten(1, 2)] + ([x] if x is not None else []) + ([aux] if aux is not None else [])
        h = torch.tanh(self.a(torch.cat(parts, 1)))
        return self.b(h) * (1 + t.reshape(-1, 1, 1, 1))


def _cond() -> torch.Tensor:
    return torch.randn(1, T, C, H, W, generator=torch.Generator().manual_seed(1))


TILING = Tiling(tile=32, overlap=12, batch=4, margin=4, progress=False)


def _member(method, net, cond, seed: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    with torch.no_grad():
        return method.estimate(net, cond, 3, Noise.seeded([seed])).sample[0, 0].numpy()


def tiled_method(method, tiling: Tiling):  # type: ignore[no-untyped-def]
    """What qpeflow.inference.estimate does: every whole-cond callable of the method tiled."""
    return method.map_cond_fns(lambda fn: tiled_mean(fn, tiling))


def test_flow_member_tiled_equals_whole() -> None:
    net, cond, flow = ConvNet(1).eval(), _cond(), FlowMatching()
    whole = _member(flow, net, cond, seed=7)
    tiled = _member(tiled_method(flow, TILING), TiledNet(net, TILING), cond, seed=7)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    assert whole.std() > 0.1  # a real random field, not a constant


def test_residual_flow_with_tiled_mean_equals_whole() -> None:
    mean_net = ConvNet(0).eval()

    def mean(c: torch.Tensor) -> torch.Tensor:
        return mean_net(None, torch.zeros(c.shape[0]), c)

    method = Residual(mean, FlowMatching(source=MeanSource(0.5)))
    net, cond = ConvNet(2).eval(), _cond()  # x and the mean as aux
    whole = _member(method, net, cond, seed=3)
    tiled_m = tiled_method(method, TILING)
    assert tiled_m.mean is not mean and method.mean is mean  # the original is left alone
    tiled = _member(tiled_m, TiledNet(net, TILING), cond, seed=3)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


def test_nan_cond_gives_nan_output_only_there() -> None:
    cond = _cond()
    cond[..., :40, :50] = float("nan")
    out = TiledNet(ConvNet(1).eval(), TILING)(torch.zeros(1, 1, H, W), torch.zeros(1), cond)
    assert out.shape == (1, 1, H, W)
    assert torch.isnan(out[..., :40, :50]).all() and torch.isfinite(out[..., 40:, :]).all()
