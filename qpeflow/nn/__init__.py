"""Networks only: they know nothing of noise schedules or losses.

:func:`build_network` turns a :class:`~qpeflow.config.ModelConfig` into a
:class:`~qpeflow.nn.conditional.ConditionalNet` with the call signature
``net(x, t, cond, aux=None) -> (B, 1, H, W)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

from qpeflow.errors import QpeflowError
from qpeflow.nn.conditional import ConditionalNet
from qpeflow.nn.temporal import ENCODERS
from qpeflow.nn.unet import UNet

if TYPE_CHECKING:  # only the type: nn depends on torch alone at run time
    from qpeflow.config import ModelConfig

__all__ = ["ENCODERS", "ConditionalNet", "UNet", "build_network"]


def build_network(
    model: ModelConfig, n_frames: int, n_channels: int, x_channels: int, aux_channels: int, time_inputs: int = 1
) -> nn.Module:
    """Build encoder + U-Net.

    Args:
        model: widths, depth, encoder name (``ENCODERS``).
        n_frames: T, frames in the infrared sequence (1 allowed).
        n_channels: C, infrared channels per frame.
        x_channels: channels of the state x (0 for regression, 1 for DDPM / flow).
        aux_channels: channels of auxiliary fields (1 for a Residual method's mean).
        time_inputs: scalars in t per sample (1; 2 for MeanFlow's (t, interval)), a method's ``time_inputs``.
    """
    if model.encoder not in ENCODERS:
        raise QpeflowError(f"model.encoder: unknown {model.encoder!r}; known: {sorted(ENCODERS)}")
    if n_frames < 1 or n_channels < 1:
        raise QpeflowError(f"model: need at least one frame and one channel, got T={n_frames}, C={n_channels}")
    encoder = ENCODERS[model.encoder](n_frames, n_channels, model.encoder_channels)
    unet = UNet(
        in_channels=x_channels + aux_channels + model.encoder_channels,
        out_channels=1,
        base_channels=model.base_channels,
        channel_mults=tuple(model.channel_mults),
        num_res_blocks=model.num_res_blocks,
        attention=model.attention,
        dropout=model.dropout,
        time_embed_dim=model.time_embed_dim,
        time_inputs=time_inputs,
    )
    return ConditionalNet(encoder, unet, x_channels, aux_channels)
