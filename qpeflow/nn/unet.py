"""Conditional U-Net backbone with a FiLM time/noise-level embedding.

The architecture follows the DDPM U-Net (Ho et al. 2020) with the
scale-shift conditioning of improved DDPM (Nichol & Dhariwal 2021, "use scale
shift norm"): residual blocks with GroupNorm and SiLU, a stride-2 convolution to
go down and nearest upsampling + convolution to go up, and optional
self-attention at the lowest resolution. It knows nothing of noise schedules:
``t`` is any scalar per sample (a flow time in [0, 1], a diffusion step index
scaled to [0, 1], or zeros for regression), embedded by sinusoids of ``1000 t``
(Vaswani et al. 2017) and an MLP.

A U-Net built with ``time_inputs=2`` takes t as (B, 2): a second scalar per
sample (MeanFlow's interval, a shortcut model's step size) with its own
sinusoids + MLP, whose embedding is *added* to the first one's (Geng et al. 2025,
Sec. 4.3, "positional embedding" of (t, t - r); Frans et al. 2024 add the step
size's embedding the same way). The second MLP's last layer starts at zero, so a
fresh two-input net is a one-input net that ignores the second scalar, and the
one-input weights (a trained flow's) load into it with ``strict=False`` (only
``embed2.*`` missing). ``time_inputs=1``
(the default) builds exactly the network and state_dict it always did.
"""

from __future__ import annotations

import math

import torch
import torch.autograd.forward_ad as fwAD
import torch.nn.functional as F
from torch import Tensor, nn

from qpeflow.errors import QpeflowError


class GroupNorm(nn.GroupNorm):
    """``nn.GroupNorm`` (same parameters, same state_dict) that also runs under forward-mode AD.

    PyTorch's forward-mode formula of group_norm views its input as contiguous and fails on a
    channels-last input ("view size is not compatible"), which is what a channels-last network
    gives it; MeanFlow's JVP (``torch.func.jvp``) needs that formula. Only then is the input
    made contiguous: ordinary calls are untouched.
    """

    def forward(self, x: Tensor) -> Tensor:
        if not x.is_contiguous() and fwAD.unpack_dual(x).tangent is not None:
            x = x.contiguous()
        return super().forward(x)


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with 8 groups when the channel count allows it (else the largest divisor <= 8)."""
    groups = next(g for g in (8, 4, 2, 1) if channels % g == 0)
    return GroupNorm(groups, channels)


def sinusoidal_embedding(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
    """(B,) scalars -> (B, dim) [cos | sin] features of 1000 t (Vaswani et al. 2017, Sec. 3.5)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = 1000.0 * t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)
    return F.pad(emb, (0, dim % 2))


class TimeEmbedding(nn.Module):
    """(B,) t -> (B, dim): sinusoids then Linear-SiLU-Linear."""

    def __init__(self, base: int, dim: int) -> None:
        super().__init__()
        self.base = base
        self.mlp = nn.Sequential(nn.Linear(base, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: Tensor) -> Tensor:
        return self.mlp(sinusoidal_embedding(t, self.base))


class ResBlock(nn.Module):
    """x (B, c_in, H, W), emb (B, E) -> (B, c_out, H, W).

    h = conv(SiLU(GN(x))); h = GN(h) * (1 + scale) + shift with (scale, shift) a
    linear map of the embedding (FiLM); out = skip(x) + conv(dropout(SiLU(h))).
    The last convolution starts at zero so each block starts as the identity.
    """

    def __init__(self, c_in: int, c_out: int, emb_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = group_norm(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.film = nn.Linear(emb_dim, 2 * c_out)
        self.norm2 = group_norm(c_out)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.film(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.dropout(F.silu(h)))
        return self.skip(x) + h


class SelfAttention(nn.Module):
    """Multi-head self-attention over the H*W positions, residual: (B, C, H, W) -> same."""

    def __init__(self, channels: int, heads: int = 4) -> None:
        super().__init__()
        self.heads = heads if channels % heads == 0 else 1
        self.norm = group_norm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        qkv = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w)
        q, k, v = (qkv[:, i].transpose(-1, -2) for i in range(3))  # (B, heads, HW, c/heads)
        out = F.scaled_dot_product_attention(q, k, v)
        out = out.transpose(-1, -2).reshape(b, c, h, w)
        return x + self.proj(out)


class UNet(nn.Module):
    """(B, in_channels, H, W), t (B,) or (B, 2) -> (B, out_channels, H, W).

    Args:
        in_channels: input channels (noisy state, auxiliary fields, encoded conditioning).
        out_channels: output channels (1: rain, velocity, noise or v).
        base_channels: width at full resolution.
        channel_mults: width multiplier per level; level k works at H / 2**k.
        num_res_blocks: residual blocks per level on the way down (one more up).
        attention: self-attention in the middle block (lowest resolution).
        dropout: dropout inside residual blocks.
        time_embed_dim: width of the t embedding fed to every block.
        time_inputs: scalars per sample in t: 1 (t (B,)) or 2 (t (B, 2), embeddings added).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int = 1,
        base_channels: int = 32,
        channel_mults: tuple[int, ...] = (1, 2, 2),
        num_res_blocks: int = 1,
        attention: bool = True,
        dropout: float = 0.0,
        time_embed_dim: int = 128,
        time_inputs: int = 1,
    ) -> None:
        super().__init__()
        if not channel_mults or num_res_blocks < 1:
            raise QpeflowError("model: channel_mults must be non-empty and num_res_blocks >= 1")
        if time_inputs not in (1, 2):
            raise QpeflowError(f"model: a network takes 1 or 2 time inputs, not {time_inputs}")
        self.factor = 2 ** (len(channel_mults) - 1)
        self.time_inputs = time_inputs
        self.embed = TimeEmbedding(base_channels, time_embed_dim)
        if time_inputs == 2:  # registered only then: one-input state_dicts keep their keys
            self.embed2 = TimeEmbedding(base_channels, time_embed_dim)
            nn.init.zeros_(self.embed2.mlp[-1].weight)
            nn.init.zeros_(self.embed2.mlp[-1].bias)
        self.inp = nn.Conv2d(in_channels, base_channels, 3, padding=1)
        widths = [base_channels * m for m in channel_mults]
        self.down, skips, ch = nn.ModuleList(), [base_channels], base_channels
        for level, width in enumerate(widths):
            for _ in range(num_res_blocks):
                self.down.append(ResBlock(ch, width, time_embed_dim, dropout))
                ch = width
                skips.append(ch)
            if level < len(widths) - 1:
                self.down.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                skips.append(ch)
        self.mid1 = ResBlock(ch, ch, time_embed_dim, dropout)
        self.attn = SelfAttention(ch) if attention else nn.Identity()
        self.mid2 = ResBlock(ch, ch, time_embed_dim, dropout)
        self.up = nn.ModuleList()
        for level, width in reversed(list(enumerate(widths))):
            for _ in range(num_res_blocks + 1):
                self.up.append(ResBlock(ch + skips.pop(), width, time_embed_dim, dropout))
                ch = width
            if level > 0:
                self.up.append(
                    nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(ch, ch, 3, padding=1))
                )
        self.out = nn.Sequential(group_norm(ch), nn.SiLU(), nn.Conv2d(ch, out_channels, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def check_size(self, height: int, width: int) -> None:
        """Raise a QpeflowError unless H and W are divisible by 2**(levels - 1)."""
        if height % self.factor or width % self.factor:
            raise QpeflowError(
                f"model: field size {height}x{width} must be divisible by {self.factor} "
                f"(2**(len(channel_mults) - 1)); crop or pad the patch"
            )

    def embedding(self, t: Tensor) -> Tensor:
        """t (B,) for one time input, (B, 2) for two -> (B, time_embed_dim), the sum of their embeddings."""
        if self.time_inputs == 1:
            return self.embed(t)
        return self.embed(t[:, 0]) + self.embed2(t[:, 1])

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        self.check_size(x.shape[-2], x.shape[-1])
        emb = self.embedding(t)
        h = self.inp(x)
        hs = [h]
        for layer in self.down:
            h = layer(h, emb) if isinstance(layer, ResBlock) else layer(h)
            hs.append(h)
        h = self.mid2(self.attn(self.mid1(h, emb)), emb)
        for layer in self.up:
            h = layer(torch.cat([h, hs.pop()], dim=1), emb) if isinstance(layer, ResBlock) else layer(h)
        return self.out(h)
