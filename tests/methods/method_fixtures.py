"""Shared tiny network config and batch for the method tests (16 x 16, 2 frames, 2 channels)."""

from __future__ import annotations

import torch

from qpeflow.config import ModelConfig
from qpeflow.data.batch import Batch

TINY = ModelConfig(encoder_channels=8, base_channels=8, channel_mults=(1, 2), time_embed_dim=16)


def tiny_batch(seed: int = 0) -> Batch:
    """4 samples; target = relu(first channel of the last frame + 0.5) where the mask (70 %) is 1."""
    g = torch.Generator().manual_seed(seed)
    cond = torch.randn(4, 2, 2, 16, 16, generator=g)
    mask = (torch.rand(4, 1, 16, 16, generator=g) > 0.3).float()
    return Batch(cond, torch.relu(cond[:, -1, :1] + 0.5) * mask, mask, torch.arange(4))
