"""Diffusion noise schedules: beta_i and abar_i = prod_{j <= i} (1 - beta_j), i = 0..N-1.

Index i is 0-based: it is Ho et al.'s t = i + 1. Registry signature:
``SCHEDULES[name](n_steps: int) -> NoiseSchedule`` (the cosine schedule also takes
``max_beta``); :func:`zero_terminal_snr` rescales any of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class NoiseSchedule:
    """betas, alphas_cumprod: (N,) float64.

    x_i = sqrt(abar_i) x0 + sqrt(1 - abar_i) eps (Ho et al. 2020, Eq. 4).
    """

    betas: Tensor
    alphas_cumprod: Tensor

    @property
    def n_steps(self) -> int:
        return len(self.betas)

    @staticmethod
    def from_betas(betas: Tensor) -> NoiseSchedule:
        betas = betas.to(torch.float64)
        return NoiseSchedule(betas, torch.cumprod(1.0 - betas, dim=0))


def linear_schedule(n_steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> NoiseSchedule:
    """beta linear from 1e-4 to 0.02 over N steps (Ho et al. 2020, Sec. 4; values for N = 1000).

    For N != 1000 the end points are rescaled by 1000 / N so the total noise
    stays comparable (Nichol & Dhariwal 2021, improved-diffusion code).
    """
    scale = 1000.0 / n_steps
    return NoiseSchedule.from_betas(torch.linspace(beta_start * scale, beta_end * scale, n_steps, dtype=torch.float64))


def cosine_schedule(n_steps: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> NoiseSchedule:
    """abar(t) = f(t) / f(0), f(t) = cos^2(((t / N + s) / (1 + s)) pi / 2) (Nichol & Dhariwal 2021, Eq. 17).

    beta_t = 1 - abar(t) / abar(t - 1), clipped to <= 0.999 to avoid the
    singularity at t = N (their Sec. 3.2); abar is then the product of (1 - beta).
    """

    def f(t: float) -> float:
        return math.cos((t / n_steps + s) / (1 + s) * math.pi / 2) ** 2

    betas = [min(1.0 - f(t) / f(t - 1), max_beta) for t in range(1, n_steps + 1)]
    return NoiseSchedule.from_betas(torch.tensor(betas, dtype=torch.float64))


def zero_terminal_snr(schedule: NoiseSchedule) -> NoiseSchedule:
    """Rescale so that abar at the last step is exactly 0 (Lin et al. 2024, "Common diffusion noise schedules
    and sample steps are flawed", Algorithm 1).

    sqrt(abar) is shifted and scaled linearly so that its first value is kept and
    its last becomes 0: the model then trains on pure noise at i = N - 1, the state
    sampling starts from. Needs v-prediction (eps is undefined where abar = 0).
    """
    root = schedule.alphas_cumprod.sqrt()
    first, last = root[0].clone(), root[-1].clone()
    root = (root - last) * first / (first - last)
    abar = root.square()
    betas = 1.0 - abar / torch.cat([torch.ones(1, dtype=abar.dtype), abar[:-1]])
    return NoiseSchedule(betas, abar)


SCHEDULES: dict[str, Callable[..., NoiseSchedule]] = {
    "linear": linear_schedule,
    "cosine": cosine_schedule,
}
