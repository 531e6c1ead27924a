"""An estimator: a method ready to turn normalised infrared sequences into rain (mm/h).

Two kinds, one interface (what :mod:`qpeflow.inference.driver` and the
predictions/estimate writers read):

- :func:`load_estimator`: a trained checkpoint, rebuilt through
  :func:`qpeflow.build.build` from its own config and components, EMA weights loaded;
- :func:`baseline_estimator`: a literature baseline (GPI, Auto-Estimator), a
  method without a network, fed with the same normalised inputs as any model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from qpeflow.build import InputSpec, build, config_of
from qpeflow.checkpoint import load_checkpoint
from qpeflow.config import DataConfig, ExperimentConfig, SampleConfig
from qpeflow.data.transforms import IRNorm, LogRain
from qpeflow.errors import QpeflowError, input_error
from qpeflow.methods import BASELINES, IRBaseline, Method, Noise
from qpeflow.training.device import autocast, pick_device


@dataclass(frozen=True)
class EstimatorOutput:
    """rain_mmh: (B, 1, H, W) float32 numpy, mm/h >= 0 (NaN where the input had none); nfe: network evaluations."""

    rain_mmh: np.ndarray
    nfe: int


@dataclass(frozen=True)
class Estimator:
    """A method and its network with everything needed to feed it and to describe its output.

    Attributes:
        cfg: the experiment config (a checkpoint's own; defaults for a baseline).
        channels, time_in (minutes, last = valid time), cadence_minutes: the inputs it reads.
        ir_norm: the normalisation ``cond`` must have (K -> z).
        rain: :class:`LogRain` between model space and mm/h.
        provenance: the training store's attributes ({} for a baseline).
        checkpoint: path ("" for a baseline); step: training steps (0 for a baseline).
        net: the network (None for a method without one); method: the method; device.
    """

    cfg: ExperimentConfig
    channels: tuple[str, ...]
    time_in: tuple[int, ...]
    cadence_minutes: int
    ir_norm: IRNorm
    rain: LogRain
    provenance: dict[str, Any]
    checkpoint: str
    step: int
    net: nn.Module | Any
    method: Method
    device: torch.device

    @property
    def label(self) -> str:
        """The method's label, with ``_t<T>`` when the input sequence is not the default length
        (so a report keeps a single-frame ablation apart from its multi-frame model)."""
        frames = len(self.time_in)
        default = DataConfig().time_steps
        return self.method.label + (f"_t{frames}" if self.net is not None and frames != default else "")

    @property
    def ir_mean(self) -> tuple[float, ...]:
        return self.ir_norm.mean

    @property
    def ir_std(self) -> tuple[float, ...]:
        return self.ir_norm.std

    def with_parts(self, net: Any, method: Method) -> Estimator:
        """The same estimator around another network callable and method (e.g. their tiled versions)."""
        return replace(self, net=net, method=method)

    @torch.no_grad()
    def sample(self, cond: torch.Tensor, steps: int, noise: Noise | None = None, sampler: str = "") -> EstimatorOutput:
        """One estimate per row of cond (B, T, C, H, W), normalised with ``ir_norm``; row b draws from row b of noise."""
        with autocast(self.device):
            est = self.method.estimate(self.net, cond.to(self.device), steps, noise, sampler)
        rain = self.rain.inverse(est.sample.float()).cpu().numpy().astype(np.float32)
        return EstimatorOutput(rain, int(est.nfe))


def _normalisation(payload: dict[str, Any], path: str | Path) -> dict[str, Any]:
    norm = payload.get("normalisation", {})
    missing = [k for k in ("ir_mean", "ir_std", "channels", "time_in", "cadence_minutes") if k not in norm]
    if missing:
        raise input_error(path, f"checkpoint normalisation lacks {missing}")
    return norm


def estimator_from_payload(payload: dict[str, Any], path: str | Path, device: torch.device) -> Estimator:
    """Rebuild network + method from a checkpoint payload's own config and components; load its EMA weights."""
    cfg = config_of(payload, path)
    norm = _normalisation(payload, path)
    try:
        ir_norm = IRNorm(tuple(norm["ir_mean"]), tuple(norm["ir_std"]))
        channels = tuple(str(c) for c in norm["channels"])
        spec = InputSpec(channels, len(norm["time_in"]), ir_norm)
        built = build(cfg, spec, payload.get("components"), load_missing=False)
        built.net.load_state_dict(payload["ema"])
    except (QpeflowError, RuntimeError, KeyError, ValueError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise input_error(path, f"weights do not match the checkpoint's own config ({first})") from None
    built.net.to(device, memory_format=torch.channels_last).eval().requires_grad_(False)
    return Estimator(
        cfg=cfg,
        channels=channels,
        time_in=tuple(int(t) for t in norm["time_in"]),
        cadence_minutes=int(norm["cadence_minutes"]),
        ir_norm=ir_norm,
        rain=LogRain(cfg.data.rain_offset, cfg.data.rain_scale),
        provenance=dict(payload["data_provenance"]),
        checkpoint=str(path),
        step=int(payload["step"]),
        net=built.net,
        method=built.method,
        device=device,
    )


def load_estimator(ckpt_path: str | Path, device: str | torch.device = "auto") -> Estimator:
    """The estimator of a trained checkpoint file, or of a shipped checkpoint by name
    (:mod:`qpeflow.inference.shipped`); a one-line QpeflowError naming the file if it is unreadable."""
    from qpeflow.inference.shipped import resolve_checkpoint

    path = resolve_checkpoint(ckpt_path)
    dev = device if isinstance(device, torch.device) else pick_device(device)
    return estimator_from_payload(load_checkpoint(path), path, dev)


def baseline_estimator(
    name: str, ir_norm: IRNorm, channels: tuple[str, ...], cadence_minutes: int, device: str | torch.device = "cpu"
) -> Estimator:
    """A literature baseline reading IR_108 at the valid time of inputs normalised with ``ir_norm``.

    ``channels`` and ``ir_norm`` are those of the data it will be fed (a store's);
    only IR_108 is read. One member, nfe 0.
    """
    if name not in BASELINES:
        raise QpeflowError(f"baseline: unknown {name!r}; known: {sorted(BASELINES)}")
    if "IR_108" not in channels:
        raise QpeflowError(f"baseline {name}: needs IR_108, the inputs have {list(channels)}")
    c = channels.index("IR_108")
    rain = LogRain()
    dev = device if isinstance(device, torch.device) else pick_device(device)
    cfg = ExperimentConfig(
        data=DataConfig(channels=("IR_108",), time_steps=1, cadence_minutes=cadence_minutes),
        sample=SampleConfig(members=1, steps=1),
    )
    one = IRNorm((ir_norm.mean[c],), (ir_norm.std[c],))  # the baseline reads IR_108 alone
    method = IRBaseline(name, 0, one, rain.forward)
    return Estimator(cfg, ("IR_108",), (0,), cadence_minutes, one, rain, {}, "", 0, None, method, dev)
