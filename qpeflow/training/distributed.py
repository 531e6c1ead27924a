"""Process-group helpers for ``torchrun`` (DistributedDataParallel).

torchrun sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; without them (or with
``WORLD_SIZE=1``) everything runs in one process and these helpers do nothing.
The backend is NCCL on CUDA and gloo on the CPU, so the same code trains on a
laptop with 2 processes and on several GPU nodes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    """rank (global), world_size, local_rank (the GPU index on this node)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        """True on the process that writes files and shows progress."""
        return self.rank == 0


def env_info() -> DistInfo:
    """What torchrun's environment says (before the group exists)."""
    env = os.environ
    return DistInfo(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)))


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group if torchrun started several processes; NCCL on CUDA, else gloo."""
    info = env_info()
    if not info.enabled:
        return info
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), info.local_rank)


def shutdown(info: DistInfo) -> None:
    """Leave the process group (call once, at the end)."""
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def mean_over_ranks(value: float, info: DistInfo, device: torch.device) -> float:
    """Average a scalar over all processes (the value itself when not distributed)."""
    if not info.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t.item()) / info.world_size


def any_rank(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True when any process says True (so all stop at the same step)."""
    if not info.enabled:
        return flag
    t = torch.tensor([int(flag)], dtype=torch.int32, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()
