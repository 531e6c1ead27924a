"""Exponential moving average of a network's weights, used for estimation.

The decay warms up as ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates
(the TensorFlow ``ExponentialMovingAverage(num_updates=n)`` rule): without it a
short run's average would still hold mostly the initial weights (DESIGN.md,
"Measured lessons").
"""

from __future__ import annotations

import torch
from torch import nn


def ema_decay(n: int, decay: float) -> float:
    """Effective decay for update number ``n`` (0-based)."""
    return min(decay, (1.0 + n) / (10.0 + n))


class EMA:
    """Shadow copies of a module's parameters (averaged) and buffers (copied).

    Args:
        model: the module to follow (unwrap DDP first).
        decay: the asymptotic decay, e.g. 0.999.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.n = 0
        self.shadow: dict[str, torch.Tensor] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        self._params = {k for k, _ in model.named_parameters()}

    @torch.no_grad()
    def update(self, model: nn.Module) -> float:
        """Blend the model's current weights in; returns the decay used."""
        d = ema_decay(self.n, self.decay)
        for k, v in model.state_dict().items():
            s = self.shadow[k]
            if k in self._params and v.is_floating_point():
                s.lerp_(v.detach(), 1.0 - d)
            else:
                s.copy_(v)
        self.n += 1
        return d

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The averaged weights, loadable with ``model.load_state_dict``."""
        return dict(self.shadow)

    def load_state_dict(self, state: dict[str, torch.Tensor], n: int) -> None:
        """Restore averaged weights and the update count (for the warm-up)."""
        missing = set(self.shadow) ^ set(state)
        if missing:
            raise KeyError(f"EMA state does not match the model: {sorted(missing)[:5]}")
        for k, v in state.items():
            self.shadow[k].copy_(v)
        self.n = n
