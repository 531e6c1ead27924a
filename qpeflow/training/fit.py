"""fit(cfg): train a method on a prepared store, with EMA, checkpoints, resume and DDP.

One process by default (CUDA when present, else the CPU); under ``torchrun`` each
process trains on its slice of every batch through DistributedDataParallel (NCCL
on GPUs, gloo on CPUs); ``train.batch_size`` is per process, so the global batch
is ``batch_size * WORLD_SIZE``. Checkpoints (``<train.out>/checkpoint.pt``) are written
atomically every ``train.ckpt_every`` steps, at the end, and when
``train.time_limit_minutes`` is reached; ``resume=True`` continues bit-for-bit:
the data order and all per-step noise are pure functions of (seed, rank, step)
(:mod:`qpeflow.data.order`), the LR schedule of the step, and the weights, AdamW
moments, EMA and RNG states are restored.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from qpeflow.build import InputSpec, build
from qpeflow.checkpoint import FORMAT_VERSION, load_checkpoint, rng_state, save_checkpoint, set_rng_state, versions
from qpeflow.config import RESUMABLE_KEYS, ExperimentConfig, config_to_dict
from qpeflow.data.dataset import StoreDataset, collate
from qpeflow.data.order import StepSampler
from qpeflow.data.transforms import IRNorm
from qpeflow.errors import QpeflowError, input_error
from qpeflow.training.device import pick_device
from qpeflow.training.distributed import (
    DistInfo,
    any_rank,
    barrier,
    env_info,
    init_distributed,
    mean_over_ranks,
    shutdown,
)
from qpeflow.training.ema import EMA
from qpeflow.training.log import TrainLog
from qpeflow.training.step import TrainState, make_optimizer, train_step
from qpeflow.training.validate import BEST_NAME, ValidationRun, ValidationState, Validator

log = logging.getLogger(__name__)
CHECKPOINT_NAME = "checkpoint.pt"


@dataclass(frozen=True)
class TrainResult:
    """steps: completed steps; final_loss: mean loss of the last log window; steps_per_s: this
    process's speed; checkpoint, log_csv: paths; seconds: total training time (all sessions)."""

    steps: int
    final_loss: float
    steps_per_s: float
    checkpoint: Path
    log_csv: Path
    seconds: float


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def _check_resumable(cfg: ExperimentConfig, payload: dict[str, Any], path: Path) -> None:
    old, new = _flat(payload["config"]), _flat(config_to_dict(cfg))
    changed = sorted(
        k
        for k in old.keys() | new.keys()
        if old.get(k) != new.get(k) and k not in RESUMABLE_KEYS and not k.startswith(("sample.", "eval.", "prepare."))
    )
    if changed:
        raise QpeflowError(f"{path}: cannot resume, the config differs from the checkpoint's in {changed}")


def _payload(
    state: TrainState,
    cfg: ExperimentConfig,
    data: StoreDataset,
    components: dict[str, Any],
    seconds: float,
    validation: ValidationState,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "state_dict": state.model.state_dict(),
        "ema": state.ema.state_dict(),
        "optimizer": state.optimizer.state_dict(),
        "step": state.step,
        "config": config_to_dict(cfg),
        "versions": versions(),
        "format_version": FORMAT_VERSION,
        "rng": rng_state(),
        "normalisation": {
            "ir_mean": [float(v) for v in data.ir_mean],
            "ir_std": [float(v) for v in data.ir_std],
            "channels": list(data.channels),
            "time_in": list(data.time_in),
            "cadence_minutes": int(data.attrs["cadence_minutes"]),
        },
        "data_provenance": {**data.attrs, "store": str(data.path)},
        "data_order": {"scheme": "qpeflow.data.order v1", "seed": cfg.train.seed},
        "train_seconds": seconds,
        "components": components,
        "validation": validation.to_payload(),
    }
    return payload


def _initialise(model: torch.nn.Module, path: str) -> None:
    """Start from another checkpoint's EMA weights where names and shapes match (e.g. a MeanFlow from
    the trained residual CFM: the second time embedding it adds starts at zero, so the start is the CFM)."""
    own = model.state_dict()
    theirs = load_checkpoint(path)["ema"]
    taken = {k: v.float() for k, v in theirs.items() if k in own and own[k].shape == v.shape}
    if not taken:
        raise QpeflowError(f"{path}: train.init_from shares no weight (name and shape) with this network")
    model.load_state_dict(taken, strict=False)
    log.info("initialised %d of %d tensors from %s", len(taken), len(own), path)


def _setup(
    cfg: ExperimentConfig, info: DistInfo, device: torch.device, resume: bool
) -> tuple[TrainState, StoreDataset, dict[str, Any], float, ValidationState]:
    """Data, network, method, optimizer, EMA, validation record; restored from the checkpoint when resuming."""
    data = StoreDataset(cfg.data.store, cfg.data, "train").load()
    ckpt = Path(cfg.train.out) / CHECKPOINT_NAME
    payload = load_checkpoint(ckpt) if resume and ckpt.is_file() else None
    if payload is not None and payload.get("exported"):
        raise QpeflowError(f"{ckpt}: an exported checkpoint (EMA weights only) cannot be resumed")
    if payload is not None:
        _check_resumable(cfg, payload, ckpt)
    spec = InputSpec(tuple(data.channels), len(data.time_in), IRNorm(tuple(data.ir_mean), tuple(data.ir_std)))
    torch.manual_seed(cfg.train.seed)  # identical initial weights on every rank
    built = build(cfg, spec, payload.get("components") if payload is not None else None)
    model, method = built.net, built.method
    if payload is None and cfg.train.init_from:
        _initialise(model, cfg.train.init_from)
    model.to(device, memory_format=torch.channels_last)
    state = TrainState(model, model, method, make_optimizer(model, cfg.train), EMA(model, cfg.train.ema_decay), device)
    seconds = 0.0
    if payload is not None:
        model.load_state_dict(payload["state_dict"])
        state.optimizer.load_state_dict(payload["optimizer"])
        state.step = int(payload["step"])
        state.ema.load_state_dict(payload["ema"], n=state.step)
        set_rng_state(payload["rng"])
        seconds = float(payload.get("train_seconds", 0.0))
    elif resume and info.main:
        log.info("no checkpoint at %s: starting from step 0", ckpt)
    if info.enabled:
        ids = [device.index] if device.type == "cuda" else None
        state.net = DistributedDataParallel(model, device_ids=ids)
    validation = ValidationState.from_payload(payload.get("validation") if payload is not None else None)
    return state, data, built.components, seconds, validation


def _loader(cfg: ExperimentConfig, data: StoreDataset, info: DistInfo, start: int) -> DataLoader:
    sampler = StepSampler(
        len(data), cfg.train.batch_size, cfg.train.seed, start, cfg.train.steps, info.rank, info.world_size
    )
    return DataLoader(
        data,
        batch_sampler=sampler,
        collate_fn=collate,
        num_workers=cfg.data.num_workers,
        pin_memory=torch.cuda.is_available(),
    )


@dataclass
class _LossWindow:
    """Loss accumulated since the last log row (kept on the device: no sync per step)."""

    total: torch.Tensor
    n: int
    since: float


def _log_row(
    cfg: ExperimentConfig,
    state: TrainState,
    w: _LossWindow,
    lr: float,
    info: DistInfo,
    writer: TrainLog | None,
    seconds: float,
) -> tuple[float, float]:
    """Write one CSV row (main process); returns (mean loss over ranks, steps/s)."""
    loss = mean_over_ranks(float(w.total) / max(w.n, 1), info, state.device)
    if not math.isfinite(loss):
        raise QpeflowError(
            f"training diverged at step {state.step} (loss {loss}); lower train.lr "
            f"(now {cfg.train.lr}) or check the store {cfg.data.store}"
        )
    sps = w.n / max(time.perf_counter() - w.since, 1e-9)
    if writer is not None:
        writer.write(state.step, loss, lr, sps, seconds)
    return loss, sps


def _loop(
    cfg: ExperimentConfig,
    state: TrainState,
    data: StoreDataset,
    info: DistInfo,
    writer: TrainLog | None,
    save: Any,
    seconds0: float,
    validate: Any = None,
) -> tuple[float, float]:
    """Train until train.steps, the time limit or a validation plateau; returns (last logged loss,
    steps/s of this session). ``validate()`` (when given) runs every ``train.val_every`` steps and
    returns whether the plateau rule says stop."""
    t0 = time.perf_counter()
    limit, start = cfg.train.time_limit_minutes * 60.0, state.step
    window, loss = _LossWindow(torch.zeros((), device=state.device), 0, t0), float("nan")
    bar = tqdm(total=cfg.train.steps, initial=start, disable=not info.main, desc="train", dynamic_ncols=True)
    for batch in _loader(cfg, data, info, start):
        step_loss, lr = train_step(state, batch, cfg.train, info.rank)
        window.total += step_loss
        window.n += 1
        bar.update(1)
        done = state.step >= cfg.train.steps
        stop = limit > 0 and any_rank(time.perf_counter() - t0 >= limit, info, state.device)
        if state.step % cfg.train.log_every == 0 or done or stop:
            loss, sps = _log_row(cfg, state, window, lr, info, writer, seconds0 + time.perf_counter() - t0)
            bar.set_postfix(loss=f"{loss:.4g}", steps_per_s=f"{sps:.2f}")
            window = _LossWindow(torch.zeros((), device=state.device), 0, time.perf_counter())
        every = cfg.train.val_every
        if validate is not None and (state.step % every == 0 or done or stop):
            plateau = any_rank(validate(seconds0 + time.perf_counter() - t0), info, state.device)
            if plateau and info.main and not (done or stop):
                log.info("validation plateau at step %d (patience %d)", state.step, cfg.train.patience)
            stop = stop or plateau
        if state.step % cfg.train.ckpt_every == 0 or done or stop:
            save(seconds0 + time.perf_counter() - t0)
        if stop:
            if info.main and limit > 0 and time.perf_counter() - t0 >= limit:
                log.info("time limit of %.1f min reached at step %d", cfg.train.time_limit_minutes, state.step)
            break
    bar.close()
    return loss, (state.step - start) / max(time.perf_counter() - t0, 1e-9)


def _train(cfg: ExperimentConfig, resume: bool, info: DistInfo, device: torch.device) -> TrainResult:
    state, data, components, seconds0, validation = _setup(cfg, info, device, resume)
    out = Path(cfg.train.out)
    ckpt = out / CHECKPOINT_NAME
    writer = TrainLog(out, state.step if resume else None) if info.main else None
    if info.main:
        n_params = sum(p.numel() for p in state.model.parameters())
        log.info(
            "training %s (%.2f M parameters) on %d samples of %s, %s x%d, from step %d",
            state.method.label,
            n_params / 1e6,
            len(data),
            data.path,
            device,
            info.world_size,
            state.step,
        )
    total = {"seconds": seconds0}
    val_run = (
        ValidationRun(cfg, Validator(cfg, state.model, state.method, device), validation, writer)
        if cfg.train.val_every > 0
        else None
    )

    def payload(seconds: float) -> dict[str, Any]:
        return _payload(state, cfg, data, components, seconds, val_run.state if val_run else validation)

    def save(seconds: float) -> None:
        total["seconds"] = seconds
        if info.main:
            save_checkpoint(ckpt, payload(seconds))
        barrier(info)

    def validate(seconds: float) -> bool:
        assert val_run is not None
        best = out / BEST_NAME
        return val_run.run(
            state.step, state.ema.state_dict(), lambda: info.main and save_checkpoint(best, payload(seconds))
        )

    try:
        loss, sps = _loop(cfg, state, data, info, writer, save, seconds0, validate if val_run else None)
    finally:
        if writer is not None:
            writer.close()
    result = TrainResult(state.step, loss, sps, ckpt, out / "log.csv", total["seconds"])
    if info.main:
        log.info(
            "trained %d steps: final loss %.4g, %.2f steps/s, checkpoint %s",
            result.steps,
            result.final_loss,
            result.steps_per_s,
            result.checkpoint,
        )
    return result


#: files whose presence in ``train.out`` means a run is already there
RUN_FILES = (CHECKPOINT_NAME, "log.csv")


def check_run_folder(out: str | Path, resume: bool, overwrite: bool) -> None:
    """Refuse to start a new run over an existing one unless ``resume`` or ``overwrite``.

    Raises:
        QpeflowError: both flags, ``out`` is a file, or ``out`` holds a checkpoint or
            log and neither flag is given (its log would be truncated, its checkpoint replaced).
    """
    folder = Path(out)
    if resume and overwrite:
        raise QpeflowError("give --resume (continue the run) or --overwrite (start it again), not both")
    if folder.exists() and not folder.is_dir():
        raise input_error(folder, "train.out is a file, not a run folder")
    found = [name for name in RUN_FILES if (folder / name).exists()]
    if found and not (resume or overwrite):
        raise input_error(
            folder,
            f"holds a run already ({', '.join(found)}); pass --resume to continue it or --overwrite to start it again",
        )


def fit(cfg: ExperimentConfig, resume: bool = False, overwrite: bool = False) -> TrainResult:
    """Train ``cfg`` (one process, or one of torchrun's); see the module docstring.

    A ``train.out`` that already holds a run is continued with ``resume``, replaced
    with ``overwrite``, and refused otherwise (:func:`check_run_folder`).
    """
    check_run_folder(cfg.train.out, resume, overwrite)
    if cfg.train.steps < 1 or cfg.train.batch_size < 1 or cfg.train.ckpt_every < 1 or cfg.train.log_every < 1:
        raise QpeflowError("train.steps, train.batch_size, train.ckpt_every and train.log_every must be >= 1")
    device = pick_device(cfg.train.device, env_info().local_rank)
    owned = env_info().enabled and not torch.distributed.is_initialized()
    info = init_distributed(device)
    try:
        return _train(cfg, resume, info, device)
    finally:
        if owned:
            shutdown(info)
