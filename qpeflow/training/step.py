"""One optimisation step and the state it updates (used by :func:`qpeflow.training.fit.fit`).

A step is: learning rate from the schedule, ``method.loss(net, batch, generator)``
under autocast (bf16 on CUDA), backward, gradient-norm clipping, AdamW, EMA update.
All randomness of step ``s`` on rank ``r`` comes from a generator seeded by
(seed, r, s) — and the global torch RNG is reseeded the same way for dropout — so
a resumed run repeats exactly what an uninterrupted one would have done.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from qpeflow.config import TrainConfig
from qpeflow.data.batch import Batch
from qpeflow.data.order import step_seed
from qpeflow.methods import Method
from qpeflow.training.device import autocast
from qpeflow.training.ema import EMA
from qpeflow.training.lr_schedule import learning_rate


@dataclass
class TrainState:
    """What a step reads and changes.

    Attributes:
        net: the module called by the loss (DDP-wrapped when distributed).
        model: the bare network (its weights are saved; the EMA follows it).
        method, optimizer, ema, device.
        step: completed steps.
    """

    net: nn.Module
    model: nn.Module
    method: Method
    optimizer: torch.optim.Optimizer
    ema: EMA
    device: torch.device
    step: int = 0


def make_optimizer(model: nn.Module, train: TrainConfig) -> torch.optim.AdamW:
    """AdamW (Loshchilov & Hutter 2019) over all trainable parameters."""
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW(params, lr=train.lr, weight_decay=train.weight_decay)


def train_step(state: TrainState, batch: Batch, train: TrainConfig, rank: int) -> tuple[torch.Tensor, float]:
    """Run step ``state.step``; returns (detached loss, learning rate used) and advances the step."""
    lr = learning_rate(train.lr_schedule, state.step, train.lr, train.warmup_steps, train.steps)
    for group in state.optimizer.param_groups:
        group["lr"] = lr
    seed = step_seed(train.seed, rank, state.step)
    torch.manual_seed(seed)
    gen = torch.Generator(state.device).manual_seed(seed)
    batch = batch.to(state.device, channels_last=True)
    with autocast(state.device):
        loss = state.method.loss(state.net, batch, generator=gen)
    state.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if train.grad_clip > 0:
        nn.utils.clip_grad_norm_(state.model.parameters(), train.grad_clip)
    state.optimizer.step()
    state.ema.update(state.model)
    state.step += 1
    return loss.detach().float(), lr
