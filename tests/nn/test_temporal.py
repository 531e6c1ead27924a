"""Temporal encoders: T = 1, time order matters, the 2-D form of the 3-D convolution is exact."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from qpeflow.nn.temporal import ENCODERS, EarlyFusion, TemporalConv


@pytest.mark.parametrize("name", sorted(ENCODERS))
@pytest.mark.parametrize("frames", [1, 4])
def test_shapes_including_single_frame(name: str, frames: int) -> None:
    enc = ENCODERS[name](frames, 3, 8)
    assert enc(torch.randn(2, frames, 3, 8, 12)).shape == (2, 8, 8, 12)


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_frame_order_matters(name: str) -> None:
    torch.manual_seed(0)
    enc = ENCODERS[name](3, 2, 8)
    x = torch.randn(1, 3, 2, 8, 8)
    assert not torch.allclose(enc(x), enc(x.flip(1)), atol=1e-5)


def test_temporal_conv_equals_conv3d() -> None:
    torch.manual_seed(0)
    f = 4
    tc = TemporalConv(f, 3)
    w3 = torch.randn(f, f, 3, 3, 3)
    with torch.no_grad():  # 2-D input block kt holds frame t + kt - 1
        tc.conv.weight.copy_(torch.cat([w3[:, :, kt] for kt in range(3)], dim=1))
        tc.conv.bias.zero_()
    x = torch.randn(2, 5, f, 6, 7)  # (B, T, F, H, W)
    ref = F.conv3d(x.transpose(1, 2), w3, padding=1).transpose(1, 2)
    torch.testing.assert_close(tc(x), ref, rtol=1e-4, atol=1e-4)


def test_early_fusion_stacks_frames_and_differences() -> None:
    enc = EarlyFusion(4, 3, 8)
    assert enc.conv.in_channels == (2 * 4 - 1) * 3
    assert EarlyFusion(1, 3, 8).conv.in_channels == 3
