"""DDPM on rain in model space (Ho et al. 2020), reference 2 of DESIGN.md.

Training (Ho et al. 2020, Algorithm 1): i ~ U{0..N-1}, eps ~ N(0, I),
x_i = sqrt(abar_i) x0 + sqrt(1 - abar_i) eps, and a masked MSE between the
network output and either eps (``prediction="eps"``) or
v = sqrt(abar_i) eps - sqrt(1 - abar_i) x0 (``"v"``, Salimans & Ho 2022, Sec. 4).
The network receives the step as the continuous value t = i / N in [0, 1)
(0-based i, so i / N = (Ho's t - 1) / N); it never sees the schedule.

Estimation: ``sampler="ddim"`` (default; deterministic, Song et al. 2021,
eta = 0) with any number of steps 1..N, or ``"ancestral"`` (Ho et al. 2020,
Algorithm 2 with all N steps; fewer steps give the respaced sampler of Nichol &
Dhariwal 2021). Timesteps are spaced "trailing" (i = N - 1, ..., evenly down;
Lin et al. 2024, Table 2), so the first step always starts from pure noise.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from qpeflow.data.batch import Batch
from qpeflow.errors import QpeflowError
from qpeflow.methods.base import (
    Estimate,
    Net,
    check_generators,
    masked_mean,
    member_groups,
    rand,
    randn,
    repeat_members,
    split_members,
)
from qpeflow.methods.noise_schedules import SCHEDULES, NoiseSchedule
from qpeflow.samplers import DIFFUSION_SAMPLERS, Denoised, Denoiser, randn_members

PREDICTIONS = ("eps", "v")


def trailing_timesteps(n_train: int, steps: int) -> list[int]:
    """``steps`` decreasing indices from n_train - 1, evenly spaced (Lin et al. 2024, "trailing")."""
    if not 1 <= steps <= n_train:
        raise QpeflowError(f"sample.steps: DDPM needs 1..{n_train} steps, got {steps}")
    return [round(n_train - k * n_train / steps) - 1 for k in range(steps)]


class DDPM:
    """Denoising diffusion (x_channels = 1, aux_channels = 0).

    Args:
        prediction: ``"eps"`` or ``"v"``.
        schedule: ``"linear"`` or ``"cosine"`` (:mod:`qpeflow.methods.noise_schedules`).
        diffusion_steps: N training steps (1000 in Ho et al.).
        x0_limit: predicted clean samples are clamped to [-x0_limit, x0_limit]
            during sampling (eps is recomputed to match). 8 in model space is
            about 9e5 mm/h, far above any real rain, so it only stops blow-ups
            of eps-prediction near pure noise (1 / sqrt(abar) ~ 2e4 at i = N - 1).
        max_batch: at most this many fields per network call when sampling
            (members are grouped); 0: all members at once.
    """

    x_channels = 1
    aux_channels = 0

    def __init__(
        self,
        prediction: str = "eps",
        schedule: str = "cosine",
        diffusion_steps: int = 1000,
        x0_limit: float = 8.0,
        max_batch: int = 256,
    ) -> None:
        if prediction not in PREDICTIONS:
            raise QpeflowError(f"method.prediction: unknown {prediction!r}; known: {list(PREDICTIONS)}")
        if schedule not in SCHEDULES:
            raise QpeflowError(f"method.schedule: unknown {schedule!r}; known: {sorted(SCHEDULES)}")
        if diffusion_steps < 1:
            raise QpeflowError(f"method.diffusion_steps: need >= 1, got {diffusion_steps}")
        self.prediction = prediction
        self.schedule: NoiseSchedule = SCHEDULES[schedule](diffusion_steps)
        self.x0_limit = x0_limit
        self.max_batch = max_batch

    def _abar(self, i: Tensor, device: torch.device) -> Tensor:
        return self.schedule.alphas_cumprod.to(device)[i].float().reshape(-1, 1, 1, 1)

    def loss(self, net: Net, batch: Batch, generator: torch.Generator | None = None) -> Tensor:
        """Masked MSE of the eps or v prediction at a random step per sample."""
        x0 = torch.where(batch.mask > 0, batch.target, torch.zeros_like(batch.target))  # masked: no leak via x_i
        n, dev = self.schedule.n_steps, x0.device
        i = (rand((x0.shape[0],), generator, dev) * n).long().clamp(max=n - 1)
        eps = randn(x0.shape, generator, dev)
        a = self._abar(i, dev)
        x_i = a.sqrt() * x0 + (1 - a).sqrt() * eps
        out = net(x_i, i.float() / n, batch.cond)
        target = eps if self.prediction == "eps" else a.sqrt() * eps - (1 - a).sqrt() * x0
        return masked_mean((out.float() - target).square(), batch.mask)

    def denoiser(self, net: Net, cond: Tensor) -> Denoiser:
        """(x_i, i) -> Denoised(eps, x0) from one network call, x0 clamped (see ``x0_limit``)."""
        n = self.schedule.n_steps

        def denoise(x: Tensor, i: int) -> Denoised:
            a = float(self.schedule.alphas_cumprod[i])
            out = net(x, torch.full((x.shape[0],), i / n, device=x.device), cond).float()
            if self.prediction == "eps":
                x0 = (x - (1 - a) ** 0.5 * out) / a**0.5
            else:
                x0 = a**0.5 * x - (1 - a) ** 0.5 * out
            x0 = x0.clamp(-self.x0_limit, self.x0_limit)
            return Denoised((x - a**0.5 * x0) / (1 - a) ** 0.5, x0)

        return denoise

    def estimate(
        self,
        net: Net,
        cond: Tensor,
        n_members: int,
        steps: int,
        generators: Sequence[torch.Generator] | None = None,
        sampler: str = "",
    ) -> Estimate:
        """Members (M, B, 1, H, W) by DDIM (default) or ancestral sampling with ``steps`` steps; nfe = steps."""
        check_generators(generators, n_members)
        name = sampler or "ddim"
        if name not in DIFFUSION_SAMPLERS:
            raise QpeflowError(f"sample.sampler: {name!r} is not a DDPM sampler; known: {sorted(DIFFUSION_SAMPLERS)}")
        timesteps = trailing_timesteps(self.schedule.n_steps, steps)
        b, (h, w) = cond.shape[0], cond.shape[-2:]
        out = []
        for group in member_groups(n_members, b, self.max_batch):
            gens = [generators[m] for m in group] if generators is not None else None
            x = randn_members((b if gens else len(group) * b, 1, h, w), gens, cond.device)
            c = repeat_members(cond, len(group))
            res = DIFFUSION_SAMPLERS[name](self.denoiser(net, c), x, self.schedule.alphas_cumprod, timesteps, gens)
            out.append(split_members(res.x, len(group)))
        return Estimate(torch.cat(out), len(timesteps))
