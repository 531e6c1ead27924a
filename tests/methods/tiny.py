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


def fixed_objective_losses(method, net: torch.nn.Module, steps: int = 30) -> list[float]:
    """Adam (lr 3e-3) on :func:`tiny_batch` with the same noise every step (generator seed 7):
    a fixed objective, so its loss must go down. Returns the loss of every step."""
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    batch, losses = tiny_batch(), []
    for _ in range(steps):
        loss = method.loss(net, batch, torch.Generator().manual_seed(7))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses
