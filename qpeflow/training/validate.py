"""Validation loss during training, the best checkpoint, and the plateau rule.

The validation loss is the method's own training objective, computed with the
EMA weights (what estimation uses) on a fixed, evenly spaced subset of the
store's ``val`` split (centre crops of ``data.patch``), with the noise of batch
b drawn from a generator seeded by ``(train.seed, b)``. The same samples and the
same noise at every evaluation make successive values comparable: for a
generative method the objective is a Monte-Carlo estimate over t and noise, and
fixing them removes that sampling noise from the curve (the estimate keeps its
bias, not its jitter).

Selection is by validation loss only, never by test scores: ``best.pt`` beside
``checkpoint.pt`` holds the step with the lowest validation loss. The plateau
rule stops training after ``train.patience`` validations without an improvement
of at least ``train.min_delta`` (relative) over the loss of the last such
improvement. The two are apart: a lower loss always becomes ``best.pt``, even
when it is too small a gain to reset the plateau count (with one rule for both, a
flat validation curve kept the first validation as the best: a U-Net stopped at
step 500 shipped its step-100 weights, issue 10).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from qpeflow.config import ExperimentConfig
from qpeflow.data.batch import Batch
from qpeflow.data.dataset import StoreDataset, collate
from qpeflow.errors import QpeflowError
from qpeflow.methods import Method
from qpeflow.training.device import autocast

BEST_NAME = "best.pt"


class Validator:
    """``validator(ema_state_dict) -> float``: the mean validation loss of those weights.

    Args:
        cfg: the experiment (data, train.seed, train.val_batches, train.batch_size).
        model: the bare training network (copied once; the copy receives the EMA weights).
        method: the method whose ``loss`` is evaluated.
        device: where to evaluate.
    """

    def __init__(self, cfg: ExperimentConfig, model: nn.Module, method: Method, device: torch.device) -> None:
        data = StoreDataset(cfg.data.store, cfg.data, "val", crop=True)
        n = min(len(data), cfg.train.val_batches * cfg.train.batch_size)
        if n < 1:
            raise QpeflowError(f"{cfg.data.store}: no validation samples for train.val_every")
        data.thin(n).load()
        size = cfg.train.batch_size
        self.batches: list[Batch] = [
            collate([data[i] for i in range(s, min(s + size, len(data)))]) for s in range(0, len(data), size)
        ]
        self.net = copy.deepcopy(model).eval().requires_grad_(False)
        self.method, self.device, self.seed = method, device, cfg.train.seed
        self.n_samples = len(data)

    @torch.no_grad()
    def __call__(self, weights: dict[str, torch.Tensor]) -> float:
        self.net.load_state_dict(weights)
        total, count = 0.0, 0
        for b, batch in enumerate(self.batches):
            seed = int(np.random.SeedSequence([self.seed, b]).generate_state(1)[0])
            gen = torch.Generator(self.device).manual_seed(seed)
            with autocast(self.device):
                loss = self.method.loss(self.net, batch.to(self.device, channels_last=True), gen)
            total += float(loss) * batch.cond.shape[0]
            count += batch.cond.shape[0]
        return total / max(count, 1)


@dataclass(frozen=True)
class ValidationState:
    """best_loss / best_step: the lowest validation loss so far and its step; since_best:
    validations since the last improvement of at least ``min_delta`` over ``ref_loss`` (the
    plateau count); ref_loss: the loss of that improvement; history: (step, loss) of every
    validation."""

    best_loss: float = math.inf
    best_step: int = -1
    since_best: int = 0
    history: tuple[tuple[int, float], ...] = field(default_factory=tuple)
    ref_loss: float = math.inf

    def update(self, step: int, loss: float, min_delta: float) -> ValidationState:
        """The state after a validation at ``step``; ``improved`` tells whether it is the new best."""
        history = (*self.history, (step, loss))
        lowest = loss < self.best_loss or not math.isfinite(self.best_loss)
        gain = loss < self.ref_loss * (1.0 - min_delta) or not math.isfinite(self.ref_loss)
        return ValidationState(
            loss if lowest else self.best_loss,
            step if lowest else self.best_step,
            0 if gain else self.since_best + 1,
            history,
            loss if gain else self.ref_loss,
        )

    @property
    def improved(self) -> bool:
        """The last validation gave the lowest loss so far (``best.pt`` is saved)."""
        return bool(self.history) and self.best_step == self.history[-1][0]

    def plateaued(self, patience: int) -> bool:
        """True once ``patience`` (> 0) validations in a row brought no improvement."""
        return patience > 0 and self.since_best >= patience

    def to_payload(self) -> dict[str, Any]:
        return {
            "best_loss": self.best_loss if math.isfinite(self.best_loss) else None,
            "best_step": self.best_step,
            "since_best": self.since_best,
            "history": [[s, v] for s, v in self.history],
            "ref_loss": self.ref_loss if math.isfinite(self.ref_loss) else None,
        }

    @classmethod
    def from_payload(cls, d: dict[str, Any] | None) -> ValidationState:
        if not d:
            return cls()
        best = d.get("best_loss")
        ref = d.get("ref_loss", best)  # checkpoints before the two rules were apart: one loss for both
        return cls(
            math.inf if best is None else float(best),
            int(d.get("best_step", -1)),
            int(d.get("since_best", 0)),
            tuple((int(s), float(v)) for s, v in d.get("history", [])),
            math.inf if ref is None else float(ref),
        )


class ValidationRun:
    """What a training loop calls every ``train.val_every`` steps.

    ``run(step, ema_weights, save_best)`` evaluates the loss, appends a row to
    ``val.csv`` (through ``log``), calls ``save_best()`` when the loss is a new best,
    and returns whether the plateau rule says stop.
    """

    def __init__(self, cfg: ExperimentConfig, validator: Validator, state: ValidationState, log: Any) -> None:
        self.cfg, self.validator, self.state, self.log = cfg, validator, state, log

    def run(self, step: int, weights: dict[str, torch.Tensor], save_best: Any) -> bool:
        if self.state.history and self.state.history[-1][0] == step:
            return self.state.plateaued(self.cfg.train.patience)  # this step was already validated
        loss = self.validator(weights)
        if not math.isfinite(loss):
            raise QpeflowError(f"validation loss is {loss} at step {step}; lower train.lr (now {self.cfg.train.lr})")
        self.state = self.state.update(step, loss, self.cfg.train.min_delta)
        if self.log is not None:
            self.log.write_val(step, loss, self.state.best_step)
        if self.state.improved:
            save_best()
        return self.state.plateaued(self.cfg.train.patience)
