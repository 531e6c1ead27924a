"""torch Dataset over a prepared zarr store (DESIGN.md, "Prepared store").

An item is an unbatched :class:`~qpeflow.data.batch.Batch`: ``cond`` (T, C, h, w)
normalised infrared, the last frame at the valid time; ``target`` (1, h, w) rain in
model space ``LogRain.forward(R) * mask``; ``mask`` (1, h, w) float; ``index`` the
sample's position in the store. :func:`collate` stacks items into a batch.

Keys are either an int (position within the split; a centre crop when cropping)
or ``(position, crop_seed)``: the crop origin is then drawn from a
``torch.Generator`` seeded with ``crop_seed``, so a training data order given by
(seed, step) is reproducible in any worker process.

With ``DataConfig.augment`` (training only, i.e. with a ``crop_seed``) the same
generator also draws one of the 8 symmetries of the square (``k`` quarter turns, then an
optional left-right flip), applied alike to the infrared, the rain and the mask. Caveat:
it breaks the fixed geometry of the simulated parallax (tops displaced northwards) and of
the westerly anvils, so a model trained with it cannot learn those directions.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from qpeflow.config import DataConfig
from qpeflow.data.batch import Batch
from qpeflow.data.store import verify_store
from qpeflow.data.transforms import IRNorm, LogRain
from qpeflow.errors import QpeflowError, input_error

REQUIRED_VARS = ("inputs", "target", "mask")
REQUIRED_COORDS = ("split", "channel", "time_in", "valid_time", "event")
REQUIRED_ATTRS = ("ir_mean", "ir_std", "cadence_minutes", "source", "infrared")
SPLITS = ("train", "val", "test")
#: stores whose selected split is smaller than this are read into memory once
IN_MEMORY_BYTES = 1 << 30
Key = int | tuple[int, int]


def open_store(path: str | Path) -> xr.Dataset:
    """Open a prepared store lazily and check its variables, coordinates and attributes.

    Raises:
        QpeflowError: missing or unreadable store, or a missing name (the message lists it).
    """
    p = Path(path)
    if not str(path) or not p.exists():
        raise input_error(p, "prepared store not found (set data.store, or run `qpeflow prepare`)")
    try:
        ds = xr.open_zarr(p, chunks=None)
    except Exception as exc:  # zarr/xarray raise many types for a broken store
        raise input_error(p, f"not a readable zarr store ({type(exc).__name__}: {exc})") from None
    names = set(ds.variables)
    missing = [n for n in (*REQUIRED_VARS, *REQUIRED_COORDS) if n not in names]
    missing += [f"attribute {a}" for a in REQUIRED_ATTRS if a not in ds.attrs]
    if missing:
        raise input_error(p, f"not a qpeflow prepared store: missing {', '.join(missing)}")
    verify_store(p)  # missing chunks, NaN truth where the mask is True (qpeflow.data.store)
    return ds


def _channel_index(path: Path, store_channels: list[str], wanted: Sequence[str]) -> list[int]:
    absent = [c for c in wanted if c not in store_channels]
    if absent:
        raise input_error(
            path, f"channels {absent} asked for by data.channels are not in the store (it has {store_channels})"
        )
    return [store_channels.index(c) for c in wanted]


def _check_times(path: Path, ds: xr.Dataset, data: DataConfig) -> None:
    n_store = ds.sizes["time_in"]
    if data.time_steps < 1 or data.time_steps > n_store:
        raise input_error(path, f"data.time_steps={data.time_steps} but the store holds {n_store} frames per sample")
    cadence = int(ds.attrs["cadence_minutes"])
    if cadence != data.cadence_minutes:
        raise input_error(path, f"store cadence is {cadence} min but data.cadence_minutes={data.cadence_minutes}")


def _store_norm(path: Path, attrs: dict[str, Any], n_channels: int) -> IRNorm:
    try:
        norm = IRNorm.from_attrs(attrs)
    except QpeflowError as exc:
        raise input_error(path, str(exc)) from None
    if len(norm.mean) != n_channels:
        raise input_error(path, f"ir_mean/ir_std have {len(norm.mean)} values for {n_channels} channels")
    return norm


class StoreDataset(torch.utils.data.Dataset):
    """The samples of one split of a prepared store.

    Args:
        store: path of the zarr store.
        data: selects channels (by name), the last ``time_steps`` frames, the crop
            size ``patch`` and the rain transform.
        split: ``train`` | ``val`` | ``test``.
        crop: crop to ``data.patch`` when the store's patches are larger (training);
            False keeps the full patch (estimation).
        ir_stats: (mean, std) per channel in K, in ``data.channels`` order, that the
            network was trained with; the store's inputs are re-normalised to them.
        in_memory: read the split into memory (default: when it is under 1 GiB).
    """

    def __init__(
        self,
        store: str | Path,
        data: DataConfig,
        split: str,
        crop: bool = True,
        ir_stats: tuple[Sequence[float], Sequence[float]] | None = None,
        in_memory: bool | None = None,
    ) -> None:
        self.path = Path(store)
        if split not in SPLITS:
            raise QpeflowError(f"split {split!r}: expected one of {SPLITS}")
        ds = open_store(self.path)
        self.split = split
        self.attrs: dict[str, Any] = dict(ds.attrs)
        self.store_channels = [str(c) for c in ds["channel"].values]
        self.channels = tuple(data.channels)
        self._ch = _channel_index(self.path, self.store_channels, self.channels)
        _check_times(self.path, ds, data)
        self.time_in = [int(t) for t in ds["time_in"].values[-data.time_steps :]]
        self._t0 = ds.sizes["time_in"] - data.time_steps
        self.indices = np.flatnonzero(ds["split"].values.astype(str) == split)
        if self.indices.size == 0:
            raise input_error(self.path, f"no samples in split {split!r}")
        self.size = (ds.sizes["y"], ds.sizes["x"])
        self.patch = min(self.size) if not crop else data.patch
        if crop and data.patch > min(self.size):
            raise input_error(self.path, f"data.patch={data.patch} exceeds the store's patches {self.size}")
        self.crop = crop and self.patch < max(self.size)
        self.augment = bool(data.augment) and crop
        self.rain = LogRain(data.rain_offset, data.rain_scale)
        self.store_norm = _store_norm(self.path, self.attrs, len(self.store_channels))
        self.ir_mean = np.asarray(self.store_norm.mean)[self._ch]
        self.ir_std = np.asarray(self.store_norm.std)[self._ch]
        self._scale, self._shift = self._renormalisation(ir_stats)
        self.coords = {
            k: ds[k].values[self.indices] for k in ("valid_time", "event", "row0", "col0", "draw") if k in ds
        }
        nbytes = self.indices.size * data.time_steps * len(self._ch) * self.size[0] * self.size[1] * 4
        self._in_memory = nbytes < IN_MEMORY_BYTES if in_memory is None else in_memory
        self._ds: xr.Dataset | None = None
        self._mem: dict[str, np.ndarray] | None = None

    def _renormalisation(
        self, ir_stats: tuple[Sequence[float], Sequence[float]] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """z_net = z_store * scale + shift, so that BT is normalised with ``ir_stats``."""
        ones = np.ones(len(self._ch))
        if ir_stats is None:
            return ones, 0 * ones
        mean, std = (np.asarray(v, dtype=np.float64) for v in ir_stats)
        if mean.shape != ones.shape or std.shape != ones.shape:
            raise QpeflowError(f"{self.path}: normalisation has {mean.size} channels, data.channels {ones.size}")
        return self.ir_std / std, (self.ir_mean - mean) / std

    def __len__(self) -> int:
        return int(self.indices.size)

    def thin(self, max_samples: int | None) -> StoreDataset:
        """Keep at most ``max_samples`` samples, evenly spaced over the split (call before reading)."""
        if max_samples is not None and 0 < max_samples < len(self):
            keep = np.linspace(0, len(self) - 1, max_samples).round().astype(int)
            self.indices = self.indices[keep]
            self.coords = {k: v[keep] for k, v in self.coords.items()}
            self._mem = None
        return self

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_ds"] = None  # worker processes reopen the store
        return state

    def load(self) -> StoreDataset:
        """Open the store now (and read the split into memory if it is small); else done on first access."""
        self._load()
        return self

    def _load(self) -> None:
        if self._ds is None:
            self._ds = xr.open_zarr(self.path, chunks=None)
        if self._in_memory and self._mem is None:
            self._mem = {k: self._read(self.indices, k) for k in REQUIRED_VARS}

    def _read(self, idx: np.ndarray | int, name: str) -> np.ndarray:
        assert self._ds is not None
        var = self._ds[name]
        if name == "inputs":
            return np.asarray(var[idx, self._t0 :, self._ch].values, dtype=np.float32)
        return var[idx].values

    def raw(self, pos: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(inputs (T, C, H, W) as stored, target (1, H, W) mm/h, mask (H, W) bool) of split position ``pos``."""
        self._load()
        if self._mem is not None:
            return self._mem["inputs"][pos], self._mem["target"][pos], self._mem["mask"][pos]
        i = int(self.indices[pos])
        return self._read(i, "inputs"), self._read(i, "target"), self._read(i, "mask")

    def _origin(self, crop_seed: int | None) -> tuple[int, int, int, bool]:
        """Upper-left corner of the crop (random from ``crop_seed``, else centred) and the
        symmetry (quarter turns, flip) of the augmentation (0, False without it)."""
        ny, nx = self.size[0] - self.patch, self.size[1] - self.patch
        if crop_seed is None:
            return ny // 2, nx // 2, 0, False
        g = torch.Generator().manual_seed(int(crop_seed))
        r, c = int(torch.randint(0, ny + 1, (1,), generator=g)), int(torch.randint(0, nx + 1, (1,), generator=g))
        if not self.augment:
            return r, c, 0, False
        sym = int(torch.randint(0, 8, (1,), generator=g))
        return r, c, sym % 4, sym >= 4

    def __getitem__(self, key: Key) -> Batch:
        pos, crop_seed = (key, None) if isinstance(key, (int, np.integer)) else key
        pos = int(pos)
        if not -len(self) <= pos < len(self):
            raise IndexError(pos)
        inputs, target, mask = self.raw(pos % len(self))
        r, c, turns, flip = self._origin(crop_seed)
        if self.crop:
            sl = (slice(r, r + self.patch), slice(c, c + self.patch))
            inputs, target, mask = inputs[..., sl[0], sl[1]], target[..., sl[0], sl[1]], mask[sl]
        if turns or flip:
            inputs, target, mask = (symmetry(a, turns, flip) for a in (inputs, target, mask))
        cond = inputs * self._scale[None, :, None, None] + self._shift[None, :, None, None]
        m = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None]
        rain = torch.from_numpy(np.nan_to_num(np.ascontiguousarray(target, dtype=np.float32)))
        return Batch(
            cond=torch.from_numpy(np.ascontiguousarray(cond, dtype=np.float32)),
            target=self.rain.forward(rain.clamp_min(0.0)) * m,
            mask=m,
            index=torch.tensor(int(self.indices[pos % len(self)]), dtype=torch.int64),
        )

    def ir_kelvin(self, channel: str = "IR_108") -> np.ndarray | None:
        """Brightness temperature (N, H, W) in K of ``channel`` at the valid time, full patches.

        None when the store lacks the channel. Uses the store's own statistics.
        """
        if channel not in self.store_channels:
            return None
        self._load()
        assert self._ds is not None
        c = self.store_channels.index(channel)
        z = np.asarray(self._ds["inputs"][self.indices, -1, c].values, dtype=np.float64)
        return (z * self.store_norm.std[c] + self.store_norm.mean[c]).astype(np.float32)


def symmetry(a: np.ndarray, turns: int, flip: bool) -> np.ndarray:
    """``a`` (..., H, W) turned by ``turns`` quarter turns over its last two axes, then flipped left-right."""
    out = np.rot90(a, turns, axes=(-2, -1))
    return out[..., ::-1] if flip else out


def collate(items: Sequence[Batch]) -> Batch:
    """Stack unbatched items into a :class:`Batch` (B, ...)."""
    return Batch(
        cond=torch.stack([b.cond for b in items]),
        target=torch.stack([b.target for b in items]),
        mask=torch.stack([b.mask for b in items]),
        index=torch.stack([b.index for b in items]),
    )
