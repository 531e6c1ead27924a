"""The whole network: temporal encoder of the IR sequence + conditional U-Net.

``net(x, t, cond, aux=None) -> (B, 1, H, W)``, the one call signature every
method uses:

- x: (B, x_channels, H, W) the state being denoised / transported, or None when
  ``x_channels == 0`` (regression);
- t: (B,) or 0-d float, a flow time in [0, 1] or a diffusion step scaled to
  [0, 1]; regression passes zeros. A net built with ``time_inputs=2`` takes
  (B, 2) (or (1, 2), broadcast): the state's time and a second scalar (MeanFlow's
  interval), see :class:`~qpeflow.nn.unet.UNet`;
- cond: (B, T, C, H, W) normalised infrared sequence;
- aux: (B, aux_channels, H, W) extra fields at full resolution (the regression
  mean of a Residual method), or None when ``aux_channels == 0``.

The encoded sequence, x and aux are concatenated as the U-Net's input channels.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from qpeflow.errors import QpeflowError
from qpeflow.nn.unet import UNet


def _check_channels(name: str, value: Tensor | None, expected: int, batch: int) -> None:
    got = 0 if value is None else value.shape[1]
    if got != expected:
        raise QpeflowError(f"model: {name} has {got} channel(s), the network was built for {expected}")
    if value is not None and value.shape[0] != batch:
        raise QpeflowError(f"model: {name} has batch {value.shape[0]}, cond has {batch}")


def _times(t: Tensor | float, batch: int, inputs: int, device: torch.device) -> Tensor:
    """t as (B,) float32 for one time input, (B, 2) for two; a 0-d t (one input) or a (1, 2) t (two) is broadcast."""
    t = torch.as_tensor(t, device=device, dtype=torch.float32)
    if inputs == 1:
        if t.ndim > 1 and t.shape[-1] != 1:
            raise QpeflowError(f"model: t has shape {tuple(t.shape)}, the network was built for 1 time input")
        return t.expand(batch) if t.ndim == 0 else t.reshape(batch)
    if t.ndim != 2 or t.shape[-1] != inputs:  # a (B,) t is never taken for one (t, h) pair
        raise QpeflowError(f"model: t has shape {tuple(t.shape)}, the network was built for {inputs} time inputs")
    return t.expand(batch, inputs)


class ConditionalNet(nn.Module):
    """Encoder + U-Net; see the module docstring for shapes."""

    def __init__(self, encoder: nn.Module, unet: UNet, x_channels: int, aux_channels: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.unet = unet
        self.x_channels = x_channels
        self.aux_channels = aux_channels

    def forward(self, x: Tensor | None, t: Tensor, cond: Tensor, aux: Tensor | None = None) -> Tensor:
        batch = cond.shape[0]
        _check_channels("x", x, self.x_channels, batch)
        _check_channels("aux", aux, self.aux_channels, batch)
        self.unet.check_size(cond.shape[-2], cond.shape[-1])
        t = _times(t, batch, self.unet.time_inputs, cond.device)
        feats = self.encoder(cond)
        parts = [p for p in (x, aux) if p is not None] + [feats]
        inp = torch.cat([p.to(feats.dtype) for p in parts], dim=1) if len(parts) > 1 else feats
        return self.unet(inp, t)
