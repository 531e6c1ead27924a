"""Composition root: config (+ embedded components) -> network and method.

The one place that wires :func:`qpeflow.nn.build_network`,
:func:`qpeflow.methods.build_method` and trained parts together, for training
and for inference alike. A composed method carries the trained parts it is
built from as *components* (plain dicts of tensors and values) that the
checkpoint embeds, so a checkpoint is self-contained and nothing outside this
module and :mod:`qpeflow.methods` knows how a method is composed:

- ``components["mean"]``: the frozen regression of ``Residual(mean, generative)``
  (``method.residual_of``): ``{state_dict, config, normalisation, checkpoint, step}``.

Training calls :func:`build` with the store's IR statistics and stores
``Built.components`` in every checkpoint; inference calls it with the
checkpoint's own components and ``load_missing=False``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from qpeflow.checkpoint import load_checkpoint
from qpeflow.config import ExperimentConfig, config_from_dict
from qpeflow.data.transforms import IRNorm
from qpeflow.errors import QpeflowError, input_error
from qpeflow.methods import Method, build_method
from qpeflow.nn import build_network


@dataclass(frozen=True)
class InputSpec:
    """What the network reads: channel names, frames (T) and the IR statistics (K) of its inputs."""

    channels: tuple[str, ...]
    n_frames: int
    norm: IRNorm


@dataclass(frozen=True)
class Built:
    """net: the trainable network; method: the (possibly composed) method; components: the
    trained parts the method is built from, to be embedded in every checkpoint."""

    net: nn.Module
    method: Method
    components: dict[str, Any] = field(default_factory=dict)


def config_of(payload: dict[str, Any], path: str | Path) -> ExperimentConfig:
    """The checkpoint's own config, or a one-line error naming the file."""
    try:
        return config_from_dict(payload["config"])
    except QpeflowError as exc:
        raise input_error(path, f"checkpoint config is not readable by this qpeflow: {exc}") from None


def mean_entry(path: str | Path) -> dict[str, Any]:
    """The embeddable mean of a trained regression checkpoint: EMA weights, config, normalisation."""
    payload = load_checkpoint(path)
    cfg = config_of(payload, path)
    if cfg.method.kind != "regression" or cfg.method.residual_of:
        raise input_error(
            path,
            "method.residual_of must name a regression checkpoint (method.kind: regression, not itself residual), "
            f"this one is {cfg.method.kind!r}",
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
        return self.method.estimate(self.net, own, 1).sample.float()


def _check_same_norm(entry: dict[str, Any], spec: InputSpec) -> None:
    """A residual's inputs must be normalised as its regression mean's were."""
    norm = entry["normalisation"]
    mine = dict(zip(spec.channels, zip(spec.norm.mean, spec.norm.std)))
    for c, m, s in zip(norm["channels"], norm["ir_mean"], norm["ir_std"]):
        if c in mine and not (math.isclose(mine[c][0], m, rel_tol=1e-4) and math.isclose(mine[c][1], s, rel_tol=1e-4)):
            raise QpeflowError(
                f"{entry.get('checkpoint', 'regression mean')}: the regression mean was trained with other IR "
                f"statistics for {c} than these inputs have; train it on the same store"
            )


def _mean_component(
    cfg: ExperimentConfig, spec: InputSpec, components: dict[str, Any], load_missing: bool
) -> dict[str, Any] | None:
    if not cfg.method.residual_of:
        return None
    entry = components.get("mean")
    if entry is None:
        if not load_missing:
            raise QpeflowError("residual checkpoint without its embedded regression mean (components['mean'])")
        entry = mean_entry(cfg.method.residual_of)
    _check_same_norm(entry, spec)
    return entry


def build(
    cfg: ExperimentConfig,
    spec: InputSpec,
    components: dict[str, Any] | None = None,
    load_missing: bool = True,
) -> Built:
    """Network and method for ``cfg`` on inputs ``spec``.

    Args:
        components: trained parts already embedded (a checkpoint's ``components``).
        load_missing: read a missing part from the path its config names
            (``method.residual_of``); False (inference) makes a missing part an error.
    """
    components = dict(components or {})
    mean = _mean_component(cfg, spec, components, load_missing)
    method = build_method(cfg.method, None if mean is None else FrozenMean(mean, spec.channels, spec.n_frames))
    time_inputs = getattr(method, "time_inputs", 1)  # 2 for MeanFlow's (t, interval); methods without it: 1
    net = build_network(
        cfg.model, spec.n_frames, len(spec.channels), method.x_channels, method.aux_channels, time_inputs
    )
    return Built(net, method, {} if mean is None else {"mean": mean})
