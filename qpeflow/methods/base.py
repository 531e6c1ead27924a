"""What every method is: a loss for training and an estimator for inference.

A method never builds or owns a network; it receives one with the call
signature of :class:`qpeflow.nn.conditional.ConditionalNet`:
``net(x: Tensor (B, x_channels, H, W) | None, t: Tensor (B,), cond: Tensor
(B, T, C, H, W), aux: Tensor (B, aux_channels, H, W) | None = None) -> (B, 1, H, W)``.
Everything is in *model space* (:class:`qpeflow.data.transforms.LogRain`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from qpeflow.data.batch import Batch
from qpeflow.errors import QpeflowError

Net = Callable[..., Tensor]


@dataclass(frozen=True)
class Estimate:
    """samples: (M, B, 1, H, W) members in model space; nfe: network evaluations per member."""

    samples: Tensor
    nfe: int


@runtime_checkable
class Method(Protocol):
    """A training objective plus an estimator.

    Attributes:
        x_channels: channels of the state the net receives as x (0: no state).
        aux_channels: channels of auxiliary fields the net receives as aux.
    """

    x_channels: int
    aux_channels: int

    def loss(self, net: Net, batch: Batch, generator: torch.Generator | None = None) -> Tensor:
        """Scalar loss, a mean over pixels with batch.mask == 1 only."""
        ...

    def estimate(
        self,
        net: Net,
        cond: Tensor,
        n_members: int,
        steps: int,
        generators: Sequence[torch.Generator] | None = None,
        sampler: str = "",
    ) -> Estimate:
        """n_members estimates for each sequence of cond (B, T, C, H, W).

        Member m draws all its noise from ``generators[m]`` (one per member), so
        it is reproducible from that generator's seed alone. ``sampler=""``
        picks the method's default.
        """
        ...


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of values (B, C, H, W) over pixels where mask (B, 1, H, W) == 1.

    Masked-out pixels are removed with ``where`` (not multiplied by 0), so even a
    NaN or inf there cannot reach the loss or its gradient. An all-masked batch
    gives 0.
    """
    keep = (mask > 0).expand_as(values)
    total = torch.where(keep, values, torch.zeros_like(values)).sum()
    return total / keep.sum().clamp(min=1)


def check_generators(generators: Sequence[torch.Generator] | None, n_members: int) -> None:
    """One generator per member, or None (torch's global generator)."""
    if n_members < 1:
        raise QpeflowError(f"estimate: need at least one member, got {n_members}")
    if generators is not None and len(generators) != n_members:
        raise QpeflowError(f"estimate: got {len(generators)} generator(s) for {n_members} member(s); need one each")


def repeat_members(x: Tensor, n_members: int) -> Tensor:
    """(B, ...) -> (M B, ...), member-major: rows m B .. (m + 1) B - 1 are member m."""
    return x.repeat(n_members, *([1] * (x.ndim - 1)))


def split_members(x: Tensor, n_members: int) -> Tensor:
    """(M B, ...) member-major -> (M, B, ...)."""
    return x.reshape(n_members, x.shape[0] // n_members, *x.shape[1:])


def member_groups(n_members: int, batch: int, max_batch: int) -> list[range]:
    """Split members into consecutive groups of at most max(1, max_batch // batch) members."""
    size = max(1, max_batch // max(batch, 1)) if max_batch > 0 else n_members
    return [range(s, min(s + size, n_members)) for s in range(0, n_members, size)]


def randn(shape: Sequence[int], generator: torch.Generator | None, device: torch.device | str) -> Tensor:
    """Standard normal float32 drawn on the generator's device (or torch's global one), moved to ``device``."""
    if generator is None:
        return torch.randn(tuple(shape), device=device)
    return torch.randn(tuple(shape), generator=generator, device=generator.device).to(device)


def rand(shape: Sequence[int], generator: torch.Generator | None, device: torch.device | str) -> Tensor:
    """Uniform [0, 1) float32, drawn like :func:`randn`."""
    if generator is None:
        return torch.rand(tuple(shape), device=device)
    return torch.rand(tuple(shape), generator=generator, device=generator.device).to(device)
