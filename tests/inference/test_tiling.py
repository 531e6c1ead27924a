"""Overlapping tiles with blended seams (qpeflow.inference.tiling): exact partition of unity, no seams,
tiled == whole-field for a translation-equivariant network, NaN handling, odd sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from qpeflow.inference.tiling import axis_weights, estimate_tiled, tile_windows, weight_sum


class TinyUNetLike(nn.Module):
    """Deterministic, translation-equivariant (for even shifts) conv net: conv, pool, conv, upsample, skip."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.enc = nn.Conv2d(in_channels, 8, 3, padding=1)
        self.mid = nn.Conv2d(8, 8, 3, padding=1)
        self.dec = nn.Conv2d(8, 1, 3, padding=1)
        for p in self.parameters():
            p.data = torch.randn(p.shape, generator=g) * 0.3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c, h, w = x.shape
        e = torch.relu(self.enc(x.reshape(b, t * c, h, w)))
        m = torch.relu(self.mid(nn.functional.avg_pool2d(e, 2)))
        return self.dec(e + nn.functional.interpolate(m, scale_factor=2, mode="nearest"))


def _fn(net: nn.Module, members: int = 2):
    """(B, T, C, h, w) -> (M, B, 1, h, w): member m is net output + m (deterministic)."""
    return lambda x: torch.stack([net(x) + m for m in range(members)])


def _influence_radius(net: nn.Module, size: int = 40) -> int:
    """Empirical receptive-field radius (px): how far a single-pixel change moves the output."""
    x = torch.zeros(1, 1, 1, size, size)
    y = torch.zeros_like(x)
    y[..., size // 2, size // 2] = 1.0
    with torch.no_grad():
        diff = (net(x) - net(y)).abs()[0, 0] > 0
    rows, cols = np.nonzero(diff.numpy())
    return int(max(abs(rows - size // 2).max(), abs(cols - size // 2).max()))


@pytest.mark.parametrize("shape", [(300, 500), (64, 64), (129, 200), (50, 70)])
def test_weights_sum_to_one(shape: tuple[int, int]) -> None:
    total = weight_sum(shape, tile=64, overlap=16)
    np.testing.assert_allclose(total, 1.0, atol=1e-6)


@pytest.mark.parametrize("size", [2200, 1900, 1100, 950, 65, 112, 113])
def test_axis_weights_partition_unity(size: int) -> None:
    """Per axis (the 2-D weights are their outer products, so the 2-D sum is 1 too), full OPERA sizes included."""
    total = np.zeros(size)
    for start, w in axis_weights(size, 64, 16, margin=4).items():
        total[start : start + len(w)] += w
    np.testing.assert_allclose(total, 1.0, atol=1e-12)


def test_windows_cover_domain_and_last_tile_is_shifted() -> None:
    wins = tile_windows((300, 500), 64, 16)
    cover = np.zeros((300, 500), int)
    for w in wins:
        assert w.height == 64 and w.width == 64
        cover[w.slices] += 1
    assert cover.min() >= 1
    assert max(w.row for w in wins) == 300 - 64 and max(w.col for w in wins) == 500 - 64


def test_axis_weights_are_smooth_monotone_ramps_with_zero_margin() -> None:
    weights = axis_weights(300, 64, 16, margin=4)
    middle = weights[48]  # an interior tile: zero margin at both borders, full weight inside
    assert np.all(middle[:4] == 0) and np.all(middle[-4:] == 0) and np.all(middle[20:44] == 1)
    rise = middle[:32]
    assert np.all(np.diff(rise) >= 0) and np.all((middle >= 0) & (middle <= 1))
    assert weights[0][0] == 1.0 and weights[300 - 64][-1] == 1.0  # domain edges keep full weight


def test_constant_fn_gives_constant_field_no_seams() -> None:
    cond = torch.randn(4, 5, 300, 500)
    out = estimate_tiled(lambda x: torch.full((3, x.shape[0], 1, *x.shape[-2:]), 2.5), cond, 64, 16, progress=False)
    assert out.shape == (3, 300, 500)
    np.testing.assert_allclose(out, 2.5, rtol=1e-6)


def test_tiled_equals_whole_field_for_equivariant_net() -> None:
    torch.manual_seed(1)
    cond = torch.randn(4, 2, 300, 500)
    net = TinyUNetLike(8).eval()
    radius = _influence_radius(TinyUNetLike(1).eval())
    margin = radius + 1
    assert 16 - 2 * margin >= 0, f"receptive field {radius} too large for this test"
    with torch.no_grad():
        whole = _fn(net)(cond[None])[:, 0, 0].numpy()
    tiled = estimate_tiled(_fn(net), cond, tile=64, overlap=16, batch=5, margin=margin, progress=False)
    np.testing.assert_allclose(tiled, whole, atol=2e-5, rtol=1e-5)
    # without the zero margin the zero-padded tile borders leak into the blend (the test can fail)
    leaky = estimate_tiled(_fn(net), cond, tile=64, overlap=16, margin=0, progress=False)
    assert np.abs(leaky - whole).max() > 1e-3


def test_nan_inputs_are_masked_and_all_nan_tiles_skipped() -> None:
    cond = torch.randn(2, 1, 130, 150)
    cond[:, :, :70, :70] = float("nan")  # a corner without data (space pixels)
    cond[1, 0, 100, 120] = float("nan")  # one pixel missing in one frame only
    calls: list[int] = []

    def fn(x: torch.Tensor) -> torch.Tensor:
        assert torch.isfinite(x).all()
        calls.append(x.shape[0])
        return torch.ones(1, x.shape[0], 1, *x.shape[-2:])

    out = estimate_tiled(fn, cond, 64, 16, batch=2, progress=False)
    assert np.isnan(out[0, :70, :70]).all() and np.isnan(out[0, 100, 120])
    finite = np.isfinite(out[0])
    assert finite.sum() == 130 * 150 - 70 * 70 - 1
    np.testing.assert_allclose(out[0][finite], 1.0, rtol=1e-6)
    assert sum(calls) < len(tile_windows((130, 150), 64, 16))  # the all-NaN corner tile was skipped


def test_domain_smaller_than_tile_is_padded() -> None:
    net = TinyUNetLike(3).eval()
    cond = torch.randn(1, 3, 40, 30)
    out = estimate_tiled(_fn(net, 1), cond, 64, 16, progress=False)
    assert out.shape == (1, 40, 30) and np.isfinite(out).all()


def test_bad_fn_output_shape_is_an_error() -> None:
    with pytest.raises(ValueError, match="must return"):
        estimate_tiled(lambda x: torch.zeros(x.shape[0], 1, 64, 64), torch.zeros(1, 1, 64, 64), progress=False)
