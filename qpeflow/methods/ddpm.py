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

from collections.abc import Callable

import torch
from torch import Tensor

from qpeflow.data.batch import Batch
from qpeflow.errors import QpeflowError
from qpeflow.methods.base import CondFn, Estimate, Net, Noise, masked_mean, noise_or_global, rand, randn
from qpeflow.methods.noise_schedules import SCHEDULES, NoiseSchedule
from qpeflow.methods.noise_schedules import zero_terminal_snr as zero_terminal_snr_schedule
from qpeflow.samplers import DIFFUSION_SAMPLERS, Denoised, Denoiser

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
            during sampling (eps is recomputed to match). The default 4.3 is the
            model-space value of 500 mm/h (``LogRain``'s cap): the data range, so a
            poor eps estimate near pure noise (x0 = eps error / sqrt(abar)) cannot
            saturate a sample at an absurd rate; a residual lives in [-4.3, 4.3] too.
        zero_terminal_snr: rescale the schedule so abar = 0 at the last step
            (Lin et al. 2024); needs ``prediction="v"``.
        max_beta: the cosine schedule's clip of beta (0.999 in Nichol & Dhariwal 2021).
    """

    x_channels = 1
    aux_channels = 0
    label = "ddpm"

    def __init__(
        self,
        prediction: str = "v",
        schedule: str = "cosine",
        diffusion_steps: int = 1000,
        x0_limit: float = 4.3,
        zero_terminal_snr: bool = True,
        max_beta: float = 0.999,
    ) -> None:
        if prediction not in PREDICTIONS:
            raise QpeflowError(f"method.prediction: unknown {prediction!r}; known: {list(PREDICTIONS)}")
        if schedule not in SCHEDULES:
            raise QpeflowError(f"method.schedule: unknown {schedule!r}; known: {sorted(SCHEDULES)}")
        if diffusion_steps < 1:
            raise QpeflowError(f"method.diffusion_steps: need >= 1, got {diffusion_steps}")
        if zero_terminal_snr and prediction == "eps":
            raise QpeflowError(
                "method.zero_terminal_snr needs method.prediction: v (eps is undefined where abar = 0, Lin et al. 2024)"
            )
        if not x0_limit > 0:
            raise QpeflowError(f"method.x0_limit: must be > 0, got {x0_limit}")
        self.prediction = prediction
        self.label = "ddpm" if prediction == "v" else "ddpm_eps"  # two DDPMs in one report stay apart
        base = SCHEDULES[schedule](diffusion_steps, **({"max_beta": max_beta} if schedule == "cosine" else {}))
        self.schedule: NoiseSchedule = zero_terminal_snr_schedule(base) if zero_terminal_snr else base
        self.x0_limit = x0_limit

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

    def estimate(self, net: Net, cond: Tensor, steps: int, noise: Noise | None = None, sampler: str = "") -> Estimate:
        """One sample (B, 1, H, W) per condition by DDIM (default) or ancestral sampling; nfe = steps."""
        name = sampler or "ddim"
        if name not in DIFFUSION_SAMPLERS:
            raise QpeflowError(f"sample.sampler: {name!r} is not a DDPM sampler; known: {sorted(DIFFUSION_SAMPLERS)}")
        timesteps = trailing_timesteps(self.schedule.n_steps, steps)
        b, (h, w) = cond.shape[0], cond.shape[-2:]
        rows = noise_or_global(noise, b, cond.device)
        x = rows.randn((b, 1, h, w)).to(cond.device)
        res = DIFFUSION_SAMPLERS[name](self.denoiser(net, cond), x, self.schedule.alphas_cumprod, timesteps, rows.randn)
        return Estimate(res.x, len(timesteps))

    def map_cond_fns(self, wrap: Callable[[CondFn], CondFn]) -> DDPM:
        """No whole-cond callable: the method itself."""
        return self
