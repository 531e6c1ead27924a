"""Encoders of an image sequence (B, T, C, H, W) -> feature map (B, F, H, W).

Registry signature: ``ENCODERS[name](n_frames: int, n_channels: int,
out_channels: int) -> nn.Module`` whose forward maps (B, T, C, H, W) with
T = n_frames, C = n_channels to (B, out_channels, H, W) at full resolution.
Both encoders accept T = 1 (single-frame ablation). The last frame is the
valid time of the estimate.

- ``early``: early fusion. The frames and their successive differences
  (I_k - I_{k-1}, which carry cloud-top cooling and motion) are stacked as
  channels and mixed by a 3x3 and a 1x1 convolution.
- ``stem3d``: a per-frame convolutional stem shared across time (half the
  output width, since per-frame work costs T times more), then temporal mixing
  by two residual 3-D convolutions (kernels 3 x 3 x 3 then 3 x 1 x 1, zero
  padded in time), then pooling over time: the features of the last frame concatenated
  with their mean over time, merged by a 1x1 convolution. The 3-D convolution
  is written as a 2-D convolution over each frame stacked with its two
  neighbours in time (:class:`TemporalConv`), which is the same operation but
  keeps every weight 4-D so that ``net.to(memory_format=torch.channels_last)``
  works.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from qpeflow.errors import QpeflowError
from qpeflow.nn.unet import group_norm


def _check(x: Tensor, n_frames: int, n_channels: int) -> None:
    if x.ndim != 5 or x.shape[1] != n_frames or x.shape[2] != n_channels:
        raise QpeflowError(
            f"model: expected an infrared sequence (B, {n_frames}, {n_channels}, H, W), got {tuple(x.shape)}"
        )


class EarlyFusion(nn.Module):
    """(B, T, C, H, W) -> (B, F, H, W) from [frames | frame differences] stacked as (2T - 1) C channels."""

    def __init__(self, n_frames: int, n_channels: int, out_channels: int) -> None:
        super().__init__()
        self.n_frames, self.n_channels = n_frames, n_channels
        stacked = (2 * n_frames - 1) * n_channels
        self.conv = nn.Conv2d(stacked, out_channels, 3, padding=1)
        self.norm = group_norm(out_channels)
        self.mix = nn.Conv2d(out_channels, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        _check(x, self.n_frames, self.n_channels)
        b, t, c, h, w = x.shape
        parts = [x.reshape(b, t * c, h, w)]
        if t > 1:
            parts.append((x[:, 1:] - x[:, :-1]).reshape(b, (t - 1) * c, h, w))
        return self.mix(F.silu(self.norm(self.conv(torch.cat(parts, dim=1)))))


class TemporalConv(nn.Module):
    """3 x k x k convolution over (time, y, x) of (B, T, F, H, W), zero padded -> (B, T, F, H, W).

    out[t] = conv2d([x[t-1] | x[t] | x[t+1]]) with x[-1] = x[T] = 0, the 3-D
    convolution with padding (1, k // 2, k // 2) expressed with a 2-D kernel.
    """

    def __init__(self, channels: int, spatial_kernel: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3 * channels, channels, spatial_kernel, padding=spatial_kernel // 2)

    def forward(self, x: Tensor) -> Tensor:
        b, t, f, h, w = x.shape
        padded = F.pad(x, (0, 0, 0, 0, 0, 0, 1, 1))  # zero frame before and after
        stacked = torch.cat([padded[:, :-2], padded[:, 1:-1], padded[:, 2:]], dim=2)
        return self.conv(stacked.reshape(b * t, 3 * f, h, w)).reshape(b, t, f, h, w)


class Stem3D(nn.Module):
    """(B, T, C, H, W) -> (B, F, H, W): shared per-frame stem, 3-D temporal mixing, pooling over time."""

    def __init__(self, n_frames: int, n_channels: int, out_channels: int) -> None:
        super().__init__()
        self.n_frames, self.n_channels = n_frames, n_channels
        f = max(out_channels // 2, 1)  # per-frame work is T times the cost: keep it narrow
        self.stem = nn.Conv2d(n_channels, f, 3, padding=1)
        self.norms = nn.ModuleList([group_norm(f), group_norm(f)])
        self.mixes = nn.ModuleList([TemporalConv(f, 3), TemporalConv(f, 1)])
        self.pool = nn.Conv2d(2 * f, out_channels, 1)

    def forward(self, x: Tensor) -> Tensor:
        _check(x, self.n_frames, self.n_channels)
        b, t, c, h, w = x.shape
        feats = self.stem(x.reshape(b * t, c, h, w))  # (B T, F, H, W)
        for norm, mix in zip(self.norms, self.mixes, strict=True):
            feats = feats + mix(F.silu(norm(feats)).reshape(b, t, -1, h, w)).reshape(b * t, -1, h, w)
        feats = feats.reshape(b, t, -1, h, w)
        pooled = torch.cat([feats[:, -1], feats.mean(dim=1)], dim=1)
        return self.pool(F.silu(pooled))


ENCODERS: dict[str, Callable[[int, int, int], nn.Module]] = {
    "early": EarlyFusion,
    "stem3d": Stem3D,
}
