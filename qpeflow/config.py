"""Typed, frozen configuration: one dataclass per concern, defaults in code.

An experiment file is a small YAML mapping with (optional) sections ``data``,
``prepare``, ``model``, ``method``, ``train``, ``sample``, ``eval``; every key
must be a field of the matching dataclass (unknown keys are an error, so a typo
never silently falls back to a default). Command-line overrides use dotted
keys: ``--set train.steps=10 --set data.store=S.zarr``.

Checkpoints store ``asdict(ExperimentConfig)`` and rebuild it with
:func:`config_from_dict` (nanoGPT's ``model_args`` idea).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from qpeflow.errors import QpeflowError

#: the team's seven SEVIRI IR/WV channels (IR_039 left out: its solar component)
DEFAULT_CHANNELS = ("WV_062", "WV_073", "IR_087", "IR_097", "IR_108", "IR_120", "IR_134")
#: the team's intensity classes (mm/h): no rain < 0.1 <= slight < 2.5 <= moderate < 10 <= heavy < 50 <= violent
DEFAULT_CLASS_EDGES = (0.1, 2.5, 10.0, 50.0)


@dataclass(frozen=True)
class DataConfig:
    """Which prepared store to read and how rain maps to model space."""

    store: str = ""
    channels: tuple[str, ...] = DEFAULT_CHANNELS
    time_steps: int = 4  # T input frames, the last one at the valid time
    cadence_minutes: int = 15
    patch: int = 64  # training crop size (px); the store's patches are used as they are if equal
    rain_offset: float = 0.1  # c in z = (log(R + c) - log c) / rain_scale, mm/h
    rain_scale: float = 2.0  # see qpeflow.data.transforms.LogRain
    num_workers: int = 0
    augment: bool = False  # training: random flips / rot90 of (infrared, rain, mask), see qpeflow.data.dataset


@dataclass(frozen=True)
class PrepareConfig:
    """How `qpeflow prepare` builds a store (benchmark data)."""

    source: str = "synthetic"  # synthetic | radar | opera | pairs
    n_events: int = 24
    seed: int = 0
    resolution_km: float = 4.0
    patch: int = 64
    time_steps: int = 4
    cadence_minutes: int = 15
    channels: tuple[str, ...] = DEFAULT_CHANNELS
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    dry_keep_fraction: float = 0.1  # fraction of all-dry patches kept
    patches_per_frame: int = 8
    time_tolerance_minutes: float = 5.0  # pairs: satellite slot vs radar time
    parallax_correction: bool = False
    min_coverage: float = 0.5  # patches with less radar coverage are dropped
    radar_families: tuple[str, ...] = ("knmi", "mch", "fmi", "bom")  # --source radar
    opera_ir_draws: int = 3  # --source opera: independent simulator-parameter draws of the one event
    draws_train: int = 8  # K independent infrared draws (simulator parameters + noise) per train event
    draws_eval: int = 4  # K draws per val/test event (scores: mean and spread over draws)
    rain_weighted: bool = True  # patch origins favour rain (qpeflow.data.prepare.patch_origins)
    simulator_version: str = ""  # "" = the installed simulator; else prepare refuses another version


@dataclass(frozen=True)
class ModelConfig:
    """The network: a conditional U-Net and a temporal encoder of the IR sequence."""

    encoder: str = "early"  # early | stem3d   (qpeflow.nn.temporal)
    encoder_channels: int = 32
    base_channels: int = 32
    channel_mults: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 1
    attention: bool = True  # self-attention at the lowest resolution
    dropout: float = 0.0
    time_embed_dim: int = 128


@dataclass(frozen=True)
class MethodConfig:
    """The training objective and estimator (qpeflow.methods)."""

    kind: str = "flow"  # regression | ddpm | flow
    residual_of: str = ""  # path to a trained regression checkpoint -> Residual(mean, kind)
    loss: str = "mse"  # regression: mse | mse_quantile (distribution-aware)
    prediction: str = "eps"  # ddpm: eps | v
    schedule: str = "cosine"  # ddpm: linear | cosine
    diffusion_steps: int = 1000
    sigma_min: float = 0.0  # CFM s_min (Lipman et al. 2023, Eq. 20)
    t_sampling: str = "uniform"  # flow: uniform | logit_normal
    source: str = "gaussian"  # flow: gaussian | mean (x0 = mean + source_sigma * eps)
    source_sigma: float = 1.0


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, EMA, checkpoints, logging."""

    out: str = "runs/default"
    steps: int = 2000
    batch_size: int = 16
    lr: float = 2e-4
    weight_decay: float = 0.0
    warmup_steps: int = 100
    lr_schedule: str = "cosine"  # cosine | constant
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    ckpt_every: int = 500
    log_every: int = 10
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    time_limit_minutes: float = 0.0  # 0: no limit; else stop (and checkpoint) after this wall-clock


@dataclass(frozen=True)
class SampleConfig:
    """Estimation: ensemble size, steps, sampler."""

    members: int = 4
    steps: int = 8
    sampler: str = ""  # "" -> the method's default (euler for flow, ddim for ddpm)
    seed: int = 0
    batch_size: int = 32


@dataclass(frozen=True)
class EvalConfig:
    """Verification thresholds and scales (DESIGN.md, 'Evaluation')."""

    thresholds: tuple[float, ...] = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0)
    fss_thresholds: tuple[float, ...] = (1.0, 5.0, 10.0)
    fss_scales: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)
    brier_thresholds: tuple[float, ...] = (1.0, 5.0)
    # intensity-class edges (mm/h), the first the rain/no-rain threshold that must be in
    # ``thresholds``; () switches the class scores off (qpeflow.verify.classes)
    class_edges: tuple[float, ...] = DEFAULT_CLASS_EDGES


@dataclass(frozen=True)
class ExperimentConfig:
    data: DataConfig = field(default_factory=DataConfig)
    prepare: PrepareConfig = field(default_factory=PrepareConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Convert a YAML/override value to the annotated field type, or raise."""
    origin = typing.get_origin(tp)
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            value = [value]
        inner = args[0] if args else Any
        return tuple(_coerce(v, inner, where) for v in value)
    if origin in (typing.Union, types.UnionType):
        return value
    try:
        if tp is bool:
            if isinstance(value, str):
                if value.lower() in ("true", "1", "yes"):
                    return True
                if value.lower() in ("false", "0", "no"):
                    return False
                raise ValueError(value)
            return bool(value)
        if tp in (int, float, str):
            if tp is int and isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return tp(value)
    except (TypeError, ValueError):
        raise QpeflowError(f"config {where}: cannot use {value!r} as {tp.__name__}") from None
    return value


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise QpeflowError(f"config {where}: unknown key(s) {sorted(unknown)}; known: {sorted(names)}")
    kwargs = {}
    for k, v in values.items():
        tp = hints[k]
        if dataclasses.is_dataclass(tp):
            if not isinstance(v, dict):
                raise QpeflowError(f"config {where}.{k}: expected a mapping")
            kwargs[k] = _build(tp, v, f"{where}.{k}" if where else k)
        else:
            kwargs[k] = _coerce(v, tp, f"{where}.{k}" if where else k)
    return cls(**kwargs)


def config_from_dict(values: dict[str, Any]) -> ExperimentConfig:
    """Rebuild an :class:`ExperimentConfig` from nested plain values (YAML, checkpoint)."""
    return _build(ExperimentConfig, values or {}, "")


def config_to_dict(cfg: ExperimentConfig) -> dict[str, Any]:
    """Nested plain dict (tuples become lists) suitable for YAML / checkpoints."""

    def plain(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return v

    return plain(dataclasses.asdict(cfg))


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"train.steps=10"`` -> (["train", "steps"], 10) with YAML value parsing."""
    if "=" not in text:
        raise QpeflowError(f"override {text!r}: expected key=value, e.g. train.steps=10")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError:
        value = raw
    return key.strip().split("."), value


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """Read an experiment YAML (optional) and apply ``key=value`` overrides."""
    values: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise QpeflowError(f"{p}: config file not found")
        try:
            loaded = yaml.safe_load(p.read_text())
        except yaml.YAMLError as exc:
            raise QpeflowError(f"{p}: not valid YAML ({str(exc).splitlines()[0]})") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise QpeflowError(f"{p}: top level must be a mapping of sections")
        values = loaded or {}
    for text in overrides:
        keys, value = parse_override(text)
        node = values
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise QpeflowError(f"override {text!r}: {k} is not a section")
        node[keys[-1]] = value
    return config_from_dict(values)
