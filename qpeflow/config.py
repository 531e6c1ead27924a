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
import math
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


class _Range(typing.NamedTuple):
    """An allowed interval of a numeric setting (None: unbounded)."""

    lo: float | None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def holds(self, v: float) -> bool:
        low = self.lo is None or (v > self.lo if self.lo_open else v >= self.lo)
        high = self.hi is None or (v < self.hi if self.hi_open else v <= self.hi)
        return math.isfinite(v) and low and high

    def text(self) -> str:
        low = "" if self.lo is None else f"{'>' if self.lo_open else '>='} {self.lo:g}"
        high = "" if self.hi is None else f"{'<' if self.hi_open else '<='} {self.hi:g}"
        return "a finite number " + " and ".join(t for t in (low, high) if t)


_AT_LEAST_1, _AT_LEAST_0, _POSITIVE = _Range(1), _Range(0), _Range(0, lo_open=True)
_FRACTION = _Range(0, 1)
#: section -> field -> allowed range; a tuple field is checked element by element.
#: Checked in every dataclass's ``__post_init__``, so YAML, ``--set``, checkpoints and
#: ``dataclasses.replace`` all go through it.
RANGES: dict[str, dict[str, _Range]] = {
    "data": {
        **dict.fromkeys(("time_steps", "cadence_minutes", "patch"), _AT_LEAST_1),
        **dict.fromkeys(("rain_offset", "rain_scale"), _POSITIVE),
        "num_workers": _AT_LEAST_0,
    },
    "prepare": {
        **dict.fromkeys(("n_events", "patch", "time_steps", "cadence_minutes", "patches_per_frame"), _AT_LEAST_1),
        **dict.fromkeys(("opera_ir_draws", "draws_train", "draws_eval"), _AT_LEAST_1),
        **dict.fromkeys(("val_fraction", "test_fraction", "dry_keep_fraction", "min_coverage"), _FRACTION),
        "resolution_km": _POSITIVE,
        "time_tolerance_minutes": _AT_LEAST_0,
        "quality_threshold": _Range(0, 100),
    },
    "model": {
        **dict.fromkeys(("encoder_channels", "base_channels", "channel_mults", "num_res_blocks"), _AT_LEAST_1),
        "time_embed_dim": _AT_LEAST_1,
        "dropout": _Range(0, 1, hi_open=True),
    },
    "method": {
        "diffusion_steps": _AT_LEAST_1,
        "sigma_min": _AT_LEAST_0,
        "source_sigma": _AT_LEAST_0,
        "x0_limit": _POSITIVE,
        "max_beta": _FRACTION,
        "meanflow_equal_fraction": _FRACTION,
        **dict.fromkeys(("meanflow_t_std", "meanflow_weight_eps"), _POSITIVE),
        "meanflow_weight_power": _AT_LEAST_0,
    },
    "train": {
        **dict.fromkeys(("steps", "batch_size", "ckpt_every", "log_every", "val_batches"), _AT_LEAST_1),
        **dict.fromkeys(("val_every", "patience", "min_delta"), _AT_LEAST_0),
        **dict.fromkeys(("weight_decay", "warmup_steps", "grad_clip", "time_limit_minutes"), _AT_LEAST_0),
        "lr": _POSITIVE,
        "ema_decay": _FRACTION,
    },
    "sample": dict.fromkeys(("members", "steps", "batch_size"), _AT_LEAST_1),
    "eval": {
        **dict.fromkeys(("thresholds", "fss_thresholds", "brier_thresholds", "class_edges"), _POSITIVE),
        "fss_scales": _AT_LEAST_1,
    },
}
#: tuple settings that may not be empty
NON_EMPTY = {"data": ("channels",), "prepare": ("channels",), "model": ("channel_mults",), "eval": ("thresholds",)}


def _section(cfg: Any) -> str:
    return type(cfg).__name__.removesuffix("Config").lower()


def check_ranges(cfg: Any) -> None:
    """Raise a one-line QpeflowError for the first setting of ``cfg`` outside :data:`RANGES`."""
    section = _section(cfg)
    for name in NON_EMPTY.get(section, ()):
        if not getattr(cfg, name, (None,)):
            raise QpeflowError(f"config {section}.{name}: must not be empty")
    for name, allowed in RANGES.get(section, {}).items():
        value = getattr(cfg, name, None)
        for v in value if isinstance(value, tuple) else (value,):
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not allowed.holds(float(v)):
                raise QpeflowError(f"config {section}.{name}: {v!r} is out of range; must be {allowed.text()}")
    if section == "prepare" and cfg.val_fraction + cfg.test_fraction >= 1:
        raise QpeflowError(
            f"config prepare.val_fraction + prepare.test_fraction = {cfg.val_fraction + cfg.test_fraction:g}: "
            "must be < 1, or no event is left for training"
        )


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

    def __post_init__(self) -> None:
        check_ranges(self)


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
    opera_ir_draws: int = 1  # --source opera: copies of the one event (each then gets draws_eval infrared draws)
    quality_threshold: float = 50.0  # radar pixels with quality (QIND/QUALITY/rain_quality, %) below are masked
    draws_train: int = 8  # K independent infrared draws (simulator parameters + noise) per train event
    draws_eval: int = 4  # K draws per val/test event (scores: mean and spread over draws)
    # splits whose patch origins favour rain (qpeflow.data.prepare.patch_origins); val/test stay
    # uniform by default, so that their scores estimate the radar domain, not rain-centred crops
    rain_weighted_splits: tuple[str, ...] = ("train",)
    # every event of a split gets the same expected number of crops (qpeflow.data.prepare.event_weights),
    # whatever its number of frames and radar size; False: every radar pixel-time weighs the same
    balance_events: bool = True
    simulator_version: str = ""  # "" = the installed simulator; else prepare refuses another version
    val_events: tuple[str, ...] = ()  # held-out events (else shuffled by seed with val/test_fraction)
    test_events: tuple[str, ...] = ()
    only_splits: tuple[str, ...] = ()  # () = all; e.g. ("test",): the same test samples, without building train/val

    def __post_init__(self) -> None:
        check_ranges(self)


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

    def __post_init__(self) -> None:
        check_ranges(self)


@dataclass(frozen=True)
class MethodConfig:
    """The training objective and estimator (qpeflow.methods)."""

    kind: str = "flow"  # regression | ddpm | flow | meanflow
    residual_of: str = ""  # path to a trained regression checkpoint -> Residual(mean, kind)
    loss: str = "mse"  # regression: mse | mse_quantile (distribution-aware)
    prediction: str = "v"  # ddpm: eps | v
    zero_terminal_snr: bool = True  # ddpm: abar = 0 at the last step (Lin et al. 2024); needs v
    max_beta: float = 0.999  # ddpm cosine schedule: beta clip (the team's DDPM uses 0.8)
    x0_limit: float = 4.3  # ddpm: predicted x0 clamped to +-x0_limit (4.3 = 500 mm/h in model space)
    schedule: str = "cosine"  # ddpm: linear | cosine
    diffusion_steps: int = 1000
    sigma_min: float = 0.0  # CFM s_min (Lipman et al. 2023, Eq. 20)
    t_sampling: str = "uniform"  # flow: uniform | logit_normal
    source: str = "gaussian"  # flow: gaussian | mean (x0 = mean + source_sigma * eps)
    source_sigma: float = 1.0
    # meanflow (Geng et al. 2025; qpeflow.methods.meanflow); source / source_sigma apply as for flow
    meanflow_equal_fraction: float = 0.75  # training samples with s = t (flow matching); paper ImageNet: 0.75
    meanflow_t_mean: float = 0.4  # logit-normal times, qpeflow's time (data at 1): the paper's -0.4
    meanflow_t_std: float = 1.0
    meanflow_weight_power: float = 1.0  # adaptive weight 1 / (mse + c)^p; 0: plain squared loss
    meanflow_weight_eps: float = 1e-3  # c

    def __post_init__(self) -> None:
        check_ranges(self)


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
    ckpt_every: int = 250
    log_every: int = 10
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    time_limit_minutes: float = 0.0  # 0: no limit; else stop (and checkpoint) after this wall-clock
    val_every: int = 0  # validation loss (EMA weights) every N steps; 0: never (qpeflow.training.validate)
    val_batches: int = 4  # batches of the val split used for it (fixed samples, fixed noise)
    patience: int = 0  # stop after this many validations without improvement; 0: never
    min_delta: float = 0.0  # relative improvement that counts for the plateau rule
    init_from: str = ""  # start from this checkpoint's EMA weights where names and shapes match

    def __post_init__(self) -> None:
        check_ranges(self)


@dataclass(frozen=True)
class SampleConfig:
    """Estimation: ensemble size, steps, sampler."""

    members: int = 4
    steps: int = 8
    sampler: str = ""  # "" -> the method's default (euler for flow, ddim for ddpm)
    seed: int = 0
    batch_size: int = 32

    def __post_init__(self) -> None:
        check_ranges(self)


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

    def __post_init__(self) -> None:
        check_ranges(self)


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


def _migrate(values: dict[str, Any]) -> dict[str, Any]:
    """Keys renamed since a config or checkpoint was written, read as they mean now:
    ``prepare.rain_weighted`` (one flag for every split) -> ``prepare.rain_weighted_splits``."""
    prep = values.get("prepare")
    if isinstance(prep, dict) and "rain_weighted" in prep:
        prep = dict(prep)
        old = prep.pop("rain_weighted")
        prep.setdefault("rain_weighted_splits", ["train", "val", "test"] if old else [])
        values = {**values, "prepare": prep}
    return values


def config_from_dict(values: dict[str, Any]) -> ExperimentConfig:
    """Rebuild an :class:`ExperimentConfig` from nested plain values (YAML, checkpoint);
    keys of earlier versions are migrated (:func:`_migrate`)."""
    return _build(ExperimentConfig, _migrate(values or {}), "")


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
            loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise QpeflowError(f"{p}: not UTF-8 text (byte {exc.start}); a config file is UTF-8 YAML") from None
        except yaml.YAMLError as exc:
            raise QpeflowError(f"{p}: not valid YAML ({str(exc).splitlines()[0]})") from None
        except OSError as exc:
            raise QpeflowError(f"{p}: cannot read the config file ({exc.strerror or exc})") from None
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


#: config keys that may change between a training run and its resumption (``qpeflow train --resume``);
#: ``sample.*``, ``eval.*`` and ``prepare.*`` never affect training and may change too.
RESUMABLE_KEYS = frozenset(
    {
        "train.steps",
        "train.out",
        "train.device",
        "train.ckpt_every",
        "train.log_every",
        "train.time_limit_minutes",
        "data.store",
        "data.num_workers",
        "method.residual_of",
        "train.val_every",
        "train.val_batches",
        "train.patience",
        "train.min_delta",
        "train.init_from",
    }
)
