"""A tiny prepared store that follows the contract (BRIEF "Prepared store"), for tests.

``make_tiny_store(path)`` writes a zarr store with ``inputs`` (sample, time_in,
channel, y, x), ``target`` (sample, layer, y, x) mm/h, ``mask`` (sample, y, x),
all coordinates and attributes. The relation is learnable but ambiguous, like
the real one: rain falls under a cold, smoothed infrared anomaly, and some cold
cloud (cirrus) does not rain.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr
from scipy.ndimage import gaussian_filter, shift

CHANNELS = ("IR_108", "IR_120", "WV_062", "WV_073", "IR_087", "IR_134", "IR_097", "IR_039")
#: per-channel brightness-temperature offsets (K) relative to IR_108 for a clear sky
_OFFSET = np.array([0.0, -1.5, -40.0, -25.0, -3.0, -20.0, -15.0, 5.0])


def _rain_field(rng: np.random.Generator, size: int) -> np.ndarray:
    """(size, size) rain rate in mm/h: smoothed noise, thresholded, heavy tailed."""
    noise = gaussian_filter(rng.standard_normal((size, size)), sigma=size / 10, mode="wrap")
    noise /= noise.std() + 1e-12
    return np.where(noise > 0.6, np.minimum(np.expm1(1.2 * (noise - 0.6)) * 3.0, 100.0), 0.0)


def _bt108(rng: np.random.Generator, rain: np.ndarray) -> np.ndarray:
    """IR_108 brightness temperature (K): cold over rain, plus non-raining cirrus."""
    size = rain.shape[0]
    cloud = gaussian_filter(np.log1p(rain), sigma=2.0)
    cirrus = gaussian_filter(rng.standard_normal((size, size)), sigma=size / 8, mode="wrap")
    cirrus = np.clip(cirrus / (cirrus.std() + 1e-12) - 1.0, 0.0, None)
    return 285.0 - 25.0 * cloud - 15.0 * cirrus + rng.normal(0.0, 0.5, rain.shape)


def _sample(rng: np.random.Generator, T: int, C: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """One sample: BT (T, C, size, size) in K and rain (size, size) in mm/h at the last frame."""
    rain = _rain_field(rng, size)
    bt = _bt108(rng, rain)
    velocity = rng.uniform(-1.0, 1.0, 2)
    frames = np.stack([shift(bt, velocity * (t - (T - 1)), mode="nearest") for t in range(T)])
    channels = [frames + _OFFSET[c] + rng.normal(0.0, 0.3, frames.shape) for c in range(C)]
    return np.stack(channels, axis=1).astype(np.float32), rain.astype(np.float32)


def make_tiny_store(path: str | Path, n: int = 24, T: int = 4, C: int = 7, size: int = 32, seed: int = 0) -> Path:
    """Write a contract-compliant zarr store of ``n`` samples and return its path.

    Events hold 4 consecutive samples each; splits are assigned by event
    (train, train, val, test, repeating), so every split is non-empty for n >= 16.
    """
    if len(CHANNELS) < C:
        raise ValueError(f"at most {len(CHANNELS)} channels")
    rng = np.random.default_rng(seed)
    pairs = [_sample(rng, T, C, size) for _ in range(n)]
    bt = np.stack([p[0] for p in pairs])  # (n, T, C, H, W) K
    rain = np.stack([p[1] for p in pairs])[:, None]  # (n, 1, H, W) mm/h
    mask = np.ones((n, size, size), dtype=bool)
    mask[::3, : size // 4, : size // 4] = False  # a radar coverage gap in every third sample
    rain = np.where(mask[:, None], rain, 0.0).astype(np.float32)
    ir_mean = bt.mean(axis=(0, 1, 3, 4)).astype(np.float64)
    ir_std = bt.std(axis=(0, 1, 3, 4)).astype(np.float64)
    inputs = ((bt - ir_mean[None, None, :, None, None]) / ir_std[None, None, :, None, None]).astype(np.float32)
    event_ids = np.arange(n) // 4
    events = [f"tiny-{e:02d}" for e in range(event_ids.max() + 1)]
    split_of_event = ["train", "train", "val", "test"]
    cadence = 15
    ds = xr.Dataset(
        {
            "inputs": (("sample", "time_in", "channel", "y", "x"), inputs),
            "target": (("sample", "layer", "y", "x"), rain),
            "mask": (("sample", "y", "x"), mask),
        },
        coords={
            "valid_time": (
                "sample",
                np.datetime64("2021-06-01T12:00", "ns") + np.arange(n) * np.timedelta64(cadence, "m"),
            ),
            "event": ("sample", np.array([events[e] for e in event_ids], dtype=str)),
            "split": ("sample", np.array([split_of_event[e % 4] for e in event_ids], dtype=str)),
            "channel": ("channel", np.array(CHANNELS[:C], dtype=str)),
            "time_in": ("time_in", np.arange(-(T - 1), 1, dtype=np.int64) * cadence),
            "row0": ("sample", np.zeros(n, dtype=np.int64)),
            "col0": ("sample", np.zeros(n, dtype=np.int64)),
        },
        attrs={
            "source": "synthetic",
            "infrared": "simulated",
            "simulator_version": "tiny-test-1",
            "simulator_params": json.dumps({"seed": seed}),
            "ir_mean": ir_mean.tolist(),
            "ir_std": ir_std.tolist(),
            "cadence_minutes": cadence,
            "resolution_km": 4.0,
            "events": json.dumps(events),
            "qpeflow_version": "test",
            "created": "2021-06-01T00:00:00Z",
        },
    )
    out = Path(path)
    ds.to_zarr(out, mode="w", zarr_format=2, consolidated=True)
    return out


def tiny_overrides(store: str | Path, out: str | Path, steps: int = 3) -> list[str]:
    """``--set`` overrides that shrink any config in configs/ to a seconds-long CPU run on a tiny store."""
    return [
        f"data.store={store}",
        f"train.out={out}",
        f"train.steps={steps}",
        "data.patch=16",
        "model.base_channels=8",
        "model.encoder_channels=8",
        "model.channel_mults=[1,2]",
        "model.time_embed_dim=16",
        "train.batch_size=4",
        "train.warmup_steps=2",
        "train.lr=1e-3",
        "train.log_every=1",
        "train.ckpt_every=100",
        "method.diffusion_steps=50",
    ]
