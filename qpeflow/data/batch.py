"""The unit of training and estimation data handed to methods."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Batch:
    """A batch of conditioning sequences and targets.

    Attributes:
        cond: (B, T, C, H, W) float32, normalised infrared sequence, last frame at
            the valid time.
        target: (B, 1, H, W) float32 rain in *model space*
            (:class:`qpeflow.data.transforms.LogRain`), 0 where masked.
        mask: (B, 1, H, W) float32, 1 where the radar saw, 0 elsewhere; every
            loss is averaged over mask == 1 only.
        index: (B,) int64 sample indices in the store.
    """

    cond: torch.Tensor
    target: torch.Tensor
    mask: torch.Tensor
    index: torch.Tensor

    def to(self, device: torch.device | str, channels_last: bool = False) -> Batch:
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        return Batch(
            self.cond.to(device, non_blocking=True),
            self.target.to(device, non_blocking=True).contiguous(memory_format=fmt),
            self.mask.to(device, non_blocking=True),
            self.index.to(device),
        )
