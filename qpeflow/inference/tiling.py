"""Estimation over any domain by overlapping tiles with blended seams.

A network trained on small patches (64 x 64 px) is applied to a domain of any
size (the full OPERA grid is 1900 x 2200 px at 2 km) tile by tile. Tiles overlap
by ``overlap`` pixels; neighbours hand over at the middle of their overlap
through a raised-cosine (``sin^2``) step, built so that the weights of all tiles
sum to exactly one at every pixel (:func:`axis_weights`) and no seam appears. The
outermost ``margin`` pixels of a tile's *interior* sides get weight 0 (they see
padding instead of the neighbouring field, the part of a convolutional network's
output most affected by the tile border). Sides on the domain edge keep full
weight. The last tile of a row or column is shifted to end on the domain edge
(H, W need not be multiples of the tile); domains smaller than one tile are
reflect-padded.

Memory is bounded by ``batch`` tiles of the input plus the output arrays
(members x H x W float32): nothing of the size of the domain goes through ``fn``.

Pixels where any input frame/channel is NaN (space pixels, no data) are filled
with ``fill`` (0 = the training mean in normalised units) before ``fn`` sees them,
and are NaN in the output; tiles without a single valid pixel are skipped.

``fn`` must be deterministic per tile for the blend to be seamless: a generative
sampler is run on the whole domain with each *network call* tiled
(:mod:`qpeflow.inference.tiled_net`), never tile by tile, which would blend independent
samples (less variance along every seam).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

#: fn(cond (B, T, C, h, w) float32) -> (M, B, 1, h, w) float32 (tensor or numpy)
TileFn = Callable[[torch.Tensor], torch.Tensor | np.ndarray]


@dataclass(frozen=True)
class Tile:
    """One tile: rows ``row:row+height``, columns ``col:col+width`` of the (padded) domain."""

    row: int
    col: int
    height: int
    width: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.row, self.row + self.height), slice(self.col, self.col + self.width)


def _starts(size: int, tile: int, stride: int) -> list[int]:
    """Tile origins along one axis: regular ``stride``, the last one shifted to end at ``size``."""
    if size <= tile:
        return [0]
    starts = list(range(0, size - tile, stride))
    starts.append(size - tile)
    return starts


def tile_windows(shape: tuple[int, int], tile: int, overlap: int) -> list[Tile]:
    """Overlapping windows covering a domain of ``shape = (H, W)`` px, row-major order.

    Tiles are ``min(tile, H) x min(tile, W)``; consecutive origins differ by
    ``tile - overlap`` except the last, which ends on the domain edge.
    """
    if tile < 1 or overlap < 0 or overlap >= tile:
        raise ValueError(f"need tile >= 1 and 0 <= overlap < tile, got tile={tile}, overlap={overlap}")
    height, width = shape
    th, tw = min(tile, height), min(tile, width)
    stride = tile - overlap
    return [Tile(r, c, th, tw) for r in _starts(height, th, stride) for c in _starts(width, tw, stride)]


def _step(pos: np.ndarray, cut: float, width: int) -> np.ndarray:
    """Smooth step 0 -> 1 across ``cut``: sin^2 over ``width`` px centred on it (hard step if 0)."""
    if width <= 0:
        return (pos > cut).astype(np.float64)
    u = np.clip((pos - (cut - width / 2)) / width, 0.0, 1.0)
    return np.sin(0.5 * np.pi * u) ** 2


def axis_weights(size: int, tile: int, overlap: int, margin: int) -> dict[int, np.ndarray]:
    """1-D blending weights along one axis: tile origin -> weights, shape (min(tile, size),).

    Neighbouring tiles hand over at the middle ``cut`` of their overlap through a
    raised-cosine step S of width L = overlap - 2 margin (sin^2, pixel centres
    sampled); tile i gets w_i = S_{i-1} - S_i (S_{-1} = 1, S_last = 0), so the
    weights telescope to exactly 1 everywhere, whatever the actual overlaps
    (the shifted last tile overlaps more), and each interior side keeps at least
    ``margin`` px of zero weight. Domain-edge sides keep weight 1.
    """
    length = min(tile, size)
    starts = _starts(size, length, tile - overlap)
    cuts = [(starts[i + 1] + starts[i] + length) / 2 for i in range(len(starts) - 1)]
    width = max(0, overlap - 2 * margin)
    out = {}
    for i, s in enumerate(starts):
        pos = s + np.arange(length) + 0.5
        left = _step(pos, cuts[i - 1], width) if i > 0 else np.ones(length)
        right = _step(pos, cuts[i], width) if i < len(cuts) else np.zeros(length)
        out[s] = left - right
    return out


def blend_weights(window: Tile, shape: tuple[int, int], tile: int, overlap: int, margin: int) -> np.ndarray:
    """Separable 2-D weight of one window of :func:`tile_windows`, shape (height, width), float32."""
    wy = axis_weights(shape[0], tile, overlap, margin)[window.row]
    wx = axis_weights(shape[1], tile, overlap, margin)[window.col]
    return np.outer(wy, wx).astype(np.float32)


def weight_sum(shape: tuple[int, int], tile: int, overlap: int, margin: int | None = None) -> np.ndarray:
    """Sum of all tiles' raw blending weights over the domain, shape (H, W) (1 on a regular tiling)."""
    margin = overlap // 4 if margin is None else margin
    total = np.zeros(shape, np.float64)
    for win in tile_windows(shape, tile, overlap):
        total[win.slices] += blend_weights(win, shape, tile, overlap, margin)
    return total


def _pad(cond: torch.Tensor, tile: int) -> torch.Tensor:
    """Reflect-pad (T, C, H, W) at the bottom/right to at least tile x tile (replicate if too small)."""
    height, width = cond.shape[-2:]
    ph, pw = max(0, tile - height), max(0, tile - width)
    if ph == 0 and pw == 0:
        return cond
    mode = "reflect" if ph < height and pw < width else "replicate"
    return torch.nn.functional.pad(cond, (0, pw, 0, ph), mode=mode)


def _run_batch(fn: TileFn, cond: torch.Tensor, wins: list[Tile], device: torch.device, fill: float) -> np.ndarray:
    """fn over a batch of windows of cond (T, C, H, W), NaN -> fill, -> (M, B, h, w) float32 numpy."""
    x = torch.nan_to_num(torch.stack([cond[(..., *w.slices)] for w in wins]), nan=fill).to(device)
    with torch.no_grad():
        y = torch.as_tensor(fn(x))
    if y.ndim != 5 or y.shape[1] != len(wins) or y.shape[2] != 1 or tuple(y.shape[-2:]) != tuple(x.shape[-2:]):
        raise ValueError(f"tile fn must return (M, B, 1, h, w) for input {tuple(x.shape)}, got {tuple(y.shape)}")
    return y[:, :, 0].float().cpu().numpy()


def estimate_tiled(
    fn: TileFn,
    cond: torch.Tensor | np.ndarray,
    tile: int = 64,
    overlap: int = 16,
    batch: int = 8,
    margin: int | None = None,
    fill: float = 0.0,
    device: torch.device | str | None = None,
    progress: bool = True,
) -> np.ndarray:
    """Apply ``fn`` over a whole domain tile by tile and blend the tiles.

    Args:
        fn: tile estimator, (B, T, C, h, w) -> (M, B, 1, h, w); it must act on each
            tile independently (M members, the same M for every call).
        cond: (T, C, H, W) normalised infrared sequence, NaN where invalid.
        tile, overlap: tile size and overlap in px (0 <= overlap < tile).
        batch: tiles per call of fn (bounds memory).
        margin: px of an interior tile side given zero weight (default overlap // 4).
        fill: value replacing NaN inputs.
        device: where tiles are sent (default: cond's device).
        progress: show a progress bar over tiles.

    Returns:
        (M, H, W) float32 blended estimate, NaN where any input was NaN.
    """
    cond_t = torch.as_tensor(cond, dtype=torch.float32)
    if cond_t.ndim != 4:
        raise ValueError(f"cond must be (T, C, H, W), got shape {tuple(cond_t.shape)}")
    margin = overlap // 4 if margin is None else margin
    height, width = cond_t.shape[-2:]
    invalid = np.zeros((height, width), bool)
    for frame in cond_t.reshape(-1, height, width):  # no (T, C, H, W) temporary
        invalid |= torch.isnan(frame).cpu().numpy()
    padded = _pad(cond_t, tile)
    invalid_p = np.pad(invalid, ((0, padded.shape[-2] - height), (0, padded.shape[-1] - width)), mode="edge")
    shape = (int(padded.shape[-2]), int(padded.shape[-1]))
    wins = [w for w in tile_windows(shape, tile, overlap) if not invalid_p[w.slices].all()]
    dev = torch.device(device) if device is not None else cond_t.device
    wy, wx = axis_weights(shape[0], tile, overlap, margin), axis_weights(shape[1], tile, overlap, margin)
    acc: np.ndarray | None = None
    wsum = np.zeros(shape, np.float32)
    for start in tqdm(range(0, len(wins), batch), desc="tiles", unit="batch", disable=not progress, leave=False):
        chunk = wins[start : start + batch]
        out = _run_batch(fn, padded, chunk, dev, fill)
        if acc is None:
            acc = np.zeros((out.shape[0], *shape), np.float32)
        for k, win in enumerate(chunk):
            wgt = np.outer(wy[win.row], wx[win.col]).astype(np.float32)
            acc[(slice(None), *win.slices)] += out[:, k] * wgt
            wsum[win.slices] += wgt
    if acc is None:  # no valid pixel at all: members unknown, return a single NaN member
        return np.full((1, height, width), np.nan, np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc /= wsum  # in place: sums to 1 up to rounding, 0 only where every tile was skipped
    result = acc[:, :height, :width]
    result[:, invalid] = np.nan
    return result
