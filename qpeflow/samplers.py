"""Pure integrators that receive a callable; one integrator serves every method.

Two families, each entry a function returning :class:`SamplerResult`:

- ODE integrators from t = t_grid[0] to t_grid[-1] of dx/dt = velocity(x, t)
  (flow matching, Lipman et al. 2023): ``f(velocity, x0, t_grid) -> SamplerResult``
  with ``velocity(x: Tensor (N, ...), t: Tensor 0-d) -> Tensor (N, ...)``.
- Diffusion samplers over a decreasing subsequence ``timesteps`` of training
  steps 0..N-1 (0-based: index i is Ho et al.'s t = i + 1):
  ``f(denoise, x_T, alphas_cumprod, timesteps, randn) -> SamplerResult`` with
  ``denoise(x: Tensor (N, ...), i: int) -> Denoised(eps, x0)`` and the noise source
  ``randn(shape) -> Tensor`` passed in (EDM's ``randn_like`` idea; None: torch's
  global generator).

The registry :data:`SAMPLERS` maps names to these functions; :data:`ODE_SAMPLERS`
and :data:`DIFFUSION_SAMPLERS` split it by signature. Nothing here knows about
networks, rain or schedules' formulas: a schedule arrives as ``alphas_cumprod``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

Velocity = Callable[[Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class SamplerResult:
    """x: the final state, same shape as the start; nfe: callable evaluations made."""

    x: Tensor
    nfe: int


@dataclass(frozen=True)
class Denoised:
    """What a diffusion model predicts at one step: noise and clean sample, both (N, ...)."""

    eps: Tensor
    x0: Tensor


Denoiser = Callable[[Tensor, int], Denoised]


def uniform_grid(steps: int, device: torch.device | str = "cpu") -> Tensor:
    """(steps + 1,) float64 times 0, 1/steps, ..., 1."""
    if steps < 1:
        raise ValueError(f"need at least 1 step, got {steps}")
    return torch.linspace(0.0, 1.0, steps + 1, dtype=torch.float64, device=device)


def _time(t: Tensor, like: Tensor) -> Tensor:
    return t.to(dtype=like.dtype, device=like.device)


def euler(velocity: Velocity, x0: Tensor, t_grid: Tensor) -> SamplerResult:
    """Explicit Euler: x <- x + h v(x, t). One evaluation per step."""
    x = x0
    for t0, t1 in zip(t_grid[:-1], t_grid[1:], strict=True):
        x = x + _time(t1 - t0, x) * velocity(x, _time(t0, x))
    return SamplerResult(x, len(t_grid) - 1)


def heun(velocity: Velocity, x0: Tensor, t_grid: Tensor) -> SamplerResult:
    """Heun (explicit trapezoid, 2nd order): predictor Euler, corrector the mean slope. Two evaluations per step."""
    x = x0
    for t0, t1 in zip(t_grid[:-1], t_grid[1:], strict=True):
        h = _time(t1 - t0, x)
        k1 = velocity(x, _time(t0, x))
        k2 = velocity(x + h * k1, _time(t1, x))
        x = x + 0.5 * h * (k1 + k2)
    return SamplerResult(x, 2 * (len(t_grid) - 1))


def midpoint(velocity: Velocity, x0: Tensor, t_grid: Tensor) -> SamplerResult:
    """Explicit midpoint (2nd order): slope at the half step. Two evaluations per step."""
    x = x0
    for t0, t1 in zip(t_grid[:-1], t_grid[1:], strict=True):
        h = _time(t1 - t0, x)
        k1 = velocity(x, _time(t0, x))
        x = x + h * velocity(x + 0.5 * h * k1, _time(t0 + 0.5 * (t1 - t0), x))
    return SamplerResult(x, 2 * (len(t_grid) - 1))


Randn = Callable[[Sequence[int]], Tensor]


def _noise(randn: Randn | None, like: Tensor) -> Tensor:
    """Standard normal shaped like ``like`` from ``randn`` (or torch's global generator)."""
    if randn is None:
        return torch.randn_like(like)
    return randn(tuple(like.shape)).to(device=like.device, dtype=like.dtype)


def _check_timesteps(timesteps: Sequence[int], n: int) -> list[int]:
    steps = [int(i) for i in timesteps]
    if not steps or any(b >= a for a, b in zip(steps[:-1], steps[1:], strict=True)) or steps[0] >= n or steps[-1] < 0:
        raise ValueError(f"timesteps must decrease strictly within 0..{n - 1}, got {steps[:3]}...{steps[-3:]}")
    return steps


def ddim(
    denoise: Denoiser,
    x: Tensor,
    alphas_cumprod: Tensor,
    timesteps: Sequence[int],
    randn: Randn | None = None,
) -> SamplerResult:
    """Deterministic DDIM (Song et al. 2021, Eq. 12 with eta = 0).

    x_prev = sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev) eps_hat, with abar_prev = 1
    after the last step (so the result is x0_hat). ``randn`` is accepted for a
    common signature and unused (no noise is drawn).

    Args:
        denoise: (x, i) -> Denoised at training step i.
        x: (N, ...) start noise at timesteps[0].
        alphas_cumprod: (N_train,) abar_i of the training schedule.
        timesteps: strictly decreasing training-step indices, e.g. [999, 979, ..., 19].
    """
    steps = _check_timesteps(timesteps, len(alphas_cumprod))
    for k, i in enumerate(steps):
        pred = denoise(x, i)
        a_prev = float(alphas_cumprod[steps[k + 1]]) if k + 1 < len(steps) else 1.0
        x = a_prev**0.5 * pred.x0 + (1.0 - a_prev) ** 0.5 * pred.eps
    return SamplerResult(x, len(steps))


def ddpm_ancestral(
    denoise: Denoiser,
    x: Tensor,
    alphas_cumprod: Tensor,
    timesteps: Sequence[int],
    randn: Randn | None = None,
) -> SamplerResult:
    """Ancestral sampling from the posterior q(x_prev | x_t, x0_hat) (Ho et al. 2020, Eqs. 6-7).

    mean = sqrt(abar_prev) beta / (1 - abar) x0_hat + sqrt(alpha) (1 - abar_prev) / (1 - abar) x_t,
    variance beta_tilde = (1 - abar_prev) / (1 - abar) beta, with alpha = abar / abar_prev
    and beta = 1 - alpha; no noise is added at the last step. With all training
    steps this is Ho et al.'s Algorithm 2 (sigma^2 = beta_tilde); a shorter
    ``timesteps`` gives the respaced sampler of Nichol & Dhariwal (2021, Sec. 4).
    The noise of every step comes from ``randn`` (shape of x).
    """
    steps = _check_timesteps(timesteps, len(alphas_cumprod))
    for k, i in enumerate(steps):
        pred = denoise(x, i)
        a = float(alphas_cumprod[i])
        a_prev = float(alphas_cumprod[steps[k + 1]]) if k + 1 < len(steps) else 1.0
        beta = 1.0 - a / a_prev
        mean = (a_prev**0.5 * beta / (1.0 - a)) * pred.x0 + ((1.0 - beta) ** 0.5 * (1.0 - a_prev) / (1.0 - a)) * x
        if k + 1 < len(steps):
            var = (1.0 - a_prev) / (1.0 - a) * beta
            x = mean + var**0.5 * _noise(randn, x)
        else:
            x = mean
    return SamplerResult(x, len(steps))


ODE_SAMPLERS: dict[str, Callable[[Velocity, Tensor, Tensor], SamplerResult]] = {
    "euler": euler,
    "heun": heun,
    "midpoint": midpoint,
}

DIFFUSION_SAMPLERS: dict[str, Callable[..., SamplerResult]] = {
    "ddim": ddim,
    "ancestral": ddpm_ancestral,
}

SAMPLERS: dict[str, Callable[..., SamplerResult]] = {**ODE_SAMPLERS, **DIFFUSION_SAMPLERS}
