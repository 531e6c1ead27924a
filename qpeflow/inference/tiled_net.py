"""Sample over a whole domain, evaluate the network tile by tile (MultiDiffusion-style).

Running a *generative* sampler tile by tile would blend independent samples in
every overlap: the blend of two independent members has less variance than
either, a visible band along every seam. Instead the sampler runs on the whole
domain (its state x and its noise are full-size fields, drawn once per member
from the member's generator), and only each *network evaluation*
``net(x, t, cond, aux)`` is cut into overlapping tiles and blended with
:func:`qpeflow.inference.tiling.estimate_tiled` (Bar-Tal et al. 2023, "MultiDiffusion:
fusing diffusion paths for controlled image generation", Eq. 3-5: the fused
update is the weighted average of the per-tile updates). Neighbouring tiles see
the same x in their overlap, so the blended field has no seam, and the network
cost is that of tiled sampling. Memory: the full-domain state of one sample plus
one batch of tiles through the network.

:func:`tiled_mean` tiles what a method evaluates on the whole ``cond`` outside
the network (a residual's frozen mean, a flow's centre); a method hands those
callables over through ``method.map_cond_fns(lambda fn: tiled_mean(fn, tiling))``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from qpeflow.inference.tiling import estimate_tiled


@dataclass(frozen=True)
class Tiling:
    """Tile size and overlap (px), tiles per network call, zero-weight margin (None: overlap // 4)."""

    tile: int = 64
    overlap: int = 16
    batch: int = 8
    margin: int | None = None
    progress: bool = True


def _blend(fn: Callable[[Tensor], Tensor], stacked: Tensor, tiling: Tiling) -> Tensor:
    """estimate_tiled over a (K, H, W) stack seen as T=1, C=K; fn maps (B, K, h, w) -> (B, 1, h, w)."""
    out = estimate_tiled(
        lambda b: fn(b[:, 0])[None],
        stacked[None],
        tiling.tile,
        tiling.overlap,
        tiling.batch,
        tiling.margin,
        device=stacked.device,
        progress=tiling.progress,
    )
    return torch.from_numpy(out).to(stacked.device)  # (1, H, W)


class TiledNet:
    """``net(x, t, cond, aux=None) -> (N, 1, H, W)`` evaluated over overlapping tiles of each sample.

    x: (N, x_channels, H, W) or None; t: (N,) or a scalar; cond: (N, T, C, H, W);
    aux: (N, a, H, W) or None. NaN in cond (no data) is filled with 0 for the network
    and NaN in the output.
    """

    def __init__(self, net: Callable[..., Tensor], tiling: Tiling) -> None:
        self.net, self.tiling = net, tiling

    def __call__(self, x: Tensor | None, t: Tensor, cond: Tensor, aux: Tensor | None = None) -> Tensor:
        n, steps, chans, height, width = cond.shape
        k_cond, k_x = steps * chans, (0 if x is None else x.shape[1])
        times = torch.as_tensor(t, device=cond.device)
        times = times.reshape(-1).expand(n) if times.ndim <= 1 else times.expand(n, -1)  # (N,) or (N, 2) (MeanFlow)
        out = []
        for i in range(n):
            parts = [cond[i].reshape(k_cond, height, width)]
            parts += [x[i].float()] if x is not None else []
            parts += [aux[i].float()] if aux is not None else []

            def fn(b: Tensor, ti: Tensor = times[i]) -> Tensor:
                c = b[:, :k_cond].reshape(b.shape[0], steps, chans, *b.shape[-2:])
                xb = b[:, k_cond : k_cond + k_x] if x is not None else None
                ab = b[:, k_cond + k_x :] if aux is not None else None
                return self.net(xb, ti.expand(b.shape[0], *ti.shape), c, ab).float()

            out.append(_blend(fn, torch.cat(parts), self.tiling))
        return torch.stack(out)


def tiled_mean(mean: Callable[[Tensor], Tensor], tiling: Tiling) -> Callable[[Tensor], Tensor]:
    """A ``cond (N, T, C, H, W) -> (N, 1, H, W)`` function (regression mean, flow centre) evaluated in tiles."""

    def fn(cond: Tensor) -> Tensor:
        n, steps, chans, height, width = cond.shape
        out = [
            _blend(
                lambda b: mean(b.reshape(b.shape[0], steps, chans, *b.shape[-2:])).float(),
                cond[i].reshape(steps * chans, height, width),
                tiling,
            )
            for i in range(n)
        ]
        return torch.stack(out)

    return fn
