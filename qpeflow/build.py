"""Composition root: config -> (network, method); checkpoint -> ready estimator.

The only place that wires :func:`qpeflow.nn.build_network`,
:func:`qpeflow.methods.build_method` and checkpoints together. A residual method
(``method.residual_of`` set) gets a frozen regression network as its mean; the
residual checkpoint embeds that mean (``mean: {state_dict, config,
normalisation}``), so it is self-contained.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from qpeflow.checkpoint import load_checkpoint
from qpeflow.config import DataConfig, ExperimentConfig, config_from_dict
from qpeflow.data.transforms import LogRain
from qpeflow.errors import QpeflowError, input_error
from qpeflow.methods import Method, build_method
from qpeflow.nn import build_network
from qpeflow.training.device import autocast, pick_device


def _config_of(payload: dict[str, Any], path: str | Path) -> ExperimentConfig:
    try:
        return config_from_dict(payload["config"])
    except QpeflowError as exc:
        raise input_error(path, f"checkpoint config is not readable by this qpeflow: {exc}") from None


def mean_entry(path: str | Path) -> dict[str, Any]:
    """The embeddable mean of a trained regression checkpoint: EMA weights, config, normalisation."""
    payload = load_checkpoint(path)
    cfg = _config_of(payload, path)
    if cfg.method.kind != "regression" or cfg.method.residual_of:
        raise input_error(
            path,
            f"method.residual_of must be a regression checkpoint, this one is "
            f"{cfg.method.kind!r}{' (residual)' if cfg.method.residual_of else ''}",
        )
    return {
        "state_dict": payload["ema"],
        "config": payload["config"],
        "normalisation": payload["normalisation"],
        "checkpoint": str(path),
        "step": payload["step"],
    }


class FrozenMean:
    """``cond (B, T, C, H, W) -> mean (B, 1, H, W)`` model-space rain from a frozen regression net.

    It picks its own channels and last frames out of the residual's ``cond``, and
    follows ``cond`` to its device on first use. Gradients never flow into it.
    """

    def __init__(self, entry: dict[str, Any], channels: Sequence[str], n_frames: int) -> None:
        cfg = config_from_dict(entry["config"])
        norm = entry["normalisation"]
        own = [str(c) for c in norm["channels"]]
        absent = [c for c in own if c not in channels]
        if absent or len(norm["time_in"]) > n_frames:
            raise QpeflowError(
                f"regression mean {entry.get('checkpoint', '')}: needs channels {own} and {len(norm['time_in'])} "
                f"frames, the residual config gives {list(channels)} and {n_frames} (train the mean with "
                "the same data.channels and data.time_steps)"
            )
        self.index = [list(channels).index(c) for c in own]
        self.n_frames = len(norm["time_in"])
        self.method = build_method(cfg.method, None)
        self.net = build_network(cfg.model, self.n_frames, len(own), self.method.x_channels, self.method.aux_channels)
        self.net.load_state_dict(entry["state_dict"])
        self.net.eval().requires_grad_(False)
        self.device = torch.device("cpu")

    @torch.no_grad()
    def __call__(self, cond: torch.Tensor) -> torch.Tensor:
        if cond.device != self.device:
            self.net.to(cond.device, memory_format=torch.channels_last)
            self.device = cond.device
        own = cond[:, -self.n_frames :, self.index]
        return self.method.estimate(self.net, own, 1, 1, None).samples[0].float()


def build_from_config(
    cfg: ExperimentConfig, n_frames: int, n_channels: int, mean: dict[str, Any] | None = None
) -> tuple[nn.Module, Method]:
    """Network and method for ``cfg``; ``mean`` is an embedded mean entry (else ``residual_of`` is read)."""
    mean_fn = None
    if cfg.method.residual_of:
        entry = mean if mean is not None else mean_entry(cfg.method.residual_of)
        mean_fn = FrozenMean(entry, cfg.data.channels, n_frames)
    method = build_method(cfg.method, mean_fn)
    net = build_network(cfg.model, n_frames, n_channels, method.x_channels, method.aux_channels)
    return net, method


@dataclass(frozen=True)
class EstimatorOutput:
    """rain_mmh: (M, B, 1, H, W) float32 numpy, mm/h >= 0; nfe: network evaluations per member."""

    rain_mmh: np.ndarray
    nfe: int


class Estimator:
    """A trained checkpoint ready to estimate rain from normalised infrared sequences.

    Attributes: cfg, channels, time_in (minutes), cadence_minutes, ir_mean / ir_std
    (K, per channel, the statistics ``cond`` must be normalised with), rain
    (:class:`LogRain`), provenance (the training store's attributes), checkpoint, step.
    """

    def __init__(self, payload: dict[str, Any], path: str | Path, device: torch.device) -> None:
        self.cfg = _config_of(payload, path)
        norm = payload["normalisation"]
        self.channels = tuple(str(c) for c in norm["channels"])
        self.time_in = [int(t) for t in norm["time_in"]]
        self.cadence_minutes = int(norm["cadence_minutes"])
        self.ir_mean = [float(v) for v in norm["ir_mean"]]
        self.ir_std = [float(v) for v in norm["ir_std"]]
        self.rain = LogRain(self.cfg.data.rain_offset, self.cfg.data.rain_scale)
        self.provenance = dict(payload["data_provenance"])
        self.checkpoint, self.step, self.device = str(path), int(payload["step"]), device
        if self.cfg.method.residual_of and "mean" not in payload:
            raise input_error(path, "residual checkpoint without its embedded regression mean")
        self.net, self.method = build_from_config(self.cfg, len(self.time_in), len(self.channels), payload.get("mean"))
        self.net.load_state_dict(payload["ema"])
        self.net.to(device, memory_format=torch.channels_last).eval().requires_grad_(False)

    @property
    def label(self) -> str:
        """Method label for prediction files: unet | ddpm | cfm, with ``_residual`` when residual
        and ``_t<T>`` when the input sequence is not the default length (so the report keeps
        a single-frame ablation apart from its multi-frame model)."""
        base = {"regression": "unet", "flow": "cfm"}.get(self.cfg.method.kind, self.cfg.method.kind)
        frames = self.cfg.data.time_steps
        suffix = f"_t{frames}" if frames != DataConfig().time_steps else ""
        return base + ("_residual" if self.cfg.method.residual_of else "") + suffix

    @torch.no_grad()
    def sample(
        self, cond: torch.Tensor, steps: int, generators: list[torch.Generator], sampler: str = ""
    ) -> EstimatorOutput:
        """One member per generator (each on ``self.device``); cond (B, T, C, H, W) normalised."""
        with autocast(self.device):
            est = self.method.estimate(
                self.net, cond.to(self.device), len(generators), steps, generators, sampler=sampler
            )
        rain = self.rain.inverse(est.samples.float()).cpu().numpy().astype(np.float32)
        return EstimatorOutput(rain, int(est.nfe))

    def __call__(
        self, cond: torch.Tensor, members: int, steps: int, seeds: Sequence[int], sampler: str = ""
    ) -> EstimatorOutput:
        """``members`` fields per condition; member m draws from ``torch.Generator().manual_seed(seeds[m])``."""
        if len(seeds) != members:
            raise QpeflowError(f"estimate: {members} members need {members} seeds, got {len(seeds)}")
        gens = [torch.Generator(self.device).manual_seed(int(s)) for s in seeds]
        return self.sample(cond, steps, gens, sampler)


def load_estimator(ckpt_path: str | Path, device: str | torch.device = "auto") -> Estimator:
    """Rebuild network + method from a checkpoint's own config and load its EMA weights."""
    dev = device if isinstance(device, torch.device) else pick_device(device)
    return Estimator(load_checkpoint(ckpt_path), ckpt_path, dev)
