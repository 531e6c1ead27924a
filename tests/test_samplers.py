"""ODE integrators (exactness, order, NFE) and diffusion samplers (oracle denoiser, noise per generator)."""

from __future__ import annotations

import math

import pytest
import torch

from qpeflow.errors import QpeflowError
from qpeflow.methods import Noise
from qpeflow.methods.noise_schedules import cosine_schedule, linear_schedule
from qpeflow.samplers import (
    DIFFUSION_SAMPLERS,
    ODE_SAMPLERS,
    SAMPLERS,
    Denoised,
    ddim,
    ddpm_ancestral,
    uniform_grid,
)


@pytest.mark.parametrize("name", sorted(ODE_SAMPLERS))
def test_one_step_reproduces_x1_on_linear_path(name: str) -> None:
    x0, x1 = torch.randn(3, 1, 4, 4), torch.randn(3, 1, 4, 4)
    res = ODE_SAMPLERS[name](lambda x, t: x1 - x0, x0, uniform_grid(1))
    torch.testing.assert_close(res.x, x1)
    assert res.nfe == (1 if name == "euler" else 2)


@pytest.mark.parametrize("name,order", [("euler", 1), ("heun", 2), ("midpoint", 2)])
def test_convergence_order(name: str, order: int) -> None:
    """dx/dt = x from x(0) = 1: x(1) = e; halving h divides the error by about 2**order."""
    x0 = torch.ones(1, dtype=torch.float64)
    errors = [abs(float(ODE_SAMPLERS[name](lambda x, t: x, x0, uniform_grid(n).double()).x) - math.e) for n in (8, 16)]
    assert errors[0] / errors[1] == pytest.approx(2**order, rel=0.15)


def test_time_dependent_velocity_uses_grid_times() -> None:
    """dx/dt = 2 t from 0: x(1) = 1; heun and midpoint are exact for a linear-in-t slope."""
    x0 = torch.zeros(1, dtype=torch.float64)
    for name in ("heun", "midpoint"):
        res = ODE_SAMPLERS[name](lambda x, t: 2 * t * torch.ones_like(x), x0, uniform_grid(3).double())
        assert float(res.x) == pytest.approx(1.0, abs=1e-12)


def _oracle(x0_true: torch.Tensor, abar: torch.Tensor):
    def denoise(x: torch.Tensor, i: int) -> Denoised:
        a = float(abar[i])
        return Denoised((x - a**0.5 * x0_true) / (1 - a) ** 0.5, x0_true)

    return denoise


@pytest.mark.parametrize("schedule", [linear_schedule(100), cosine_schedule(100)])
@pytest.mark.parametrize("name", sorted(DIFFUSION_SAMPLERS))
def test_diffusion_samplers_with_oracle_return_x0(schedule, name: str) -> None:
    x0 = torch.randn(4, 1, 6, 6, dtype=torch.float64)
    noise = Noise.seeded([1, 2, 3, 4])
    x_t = noise.randn((4, 1, 6, 6)).double()
    steps = list(range(99, -1, -7))
    res = DIFFUSION_SAMPLERS[name](
        _oracle(x0, schedule.alphas_cumprod), x_t, schedule.alphas_cumprod, steps, noise.randn
    )
    torch.testing.assert_close(res.x, x0)
    assert res.nfe == len(steps)


def test_ancestral_noise_comes_from_each_generator() -> None:
    """A row's trajectory depends only on its own generator, whatever the other rows are."""
    sched = linear_schedule(50)
    shape = (1, 4, 4)

    def denoise(x: torch.Tensor, i: int) -> Denoised:  # a deliberately wrong model: the noise survives
        return Denoised(torch.zeros_like(x), 0.5 * x)

    def run(seeds: list[int]) -> torch.Tensor:
        noise = Noise.seeded(seeds)
        x = noise.randn((len(seeds), *shape))
        return ddpm_ancestral(denoise, x, sched.alphas_cumprod, list(range(49, -1, -1)), noise.randn).x

    both, alone = run([3, 4]), run([4])
    torch.testing.assert_close(both[1:], alone)
    assert not torch.allclose(both[0], both[1])


def test_ddim_rejects_bad_timesteps_and_registry_is_complete() -> None:
    sched = linear_schedule(10)
    with pytest.raises(ValueError):
        ddim(lambda x, i: Denoised(x, x), torch.zeros(1), sched.alphas_cumprod, [3, 5])
    with pytest.raises(ValueError):
        ddim(lambda x, i: Denoised(x, x), torch.zeros(1), sched.alphas_cumprod, [10, 5])
    assert set(SAMPLERS) == {"euler", "heun", "midpoint", "ddim", "ancestral"}


def test_noise_rows_match_single_draws_and_cpu_generators() -> None:
    x = Noise.seeded([5, 6]).randn((2, 3))
    torch.testing.assert_close(x[1], torch.randn(3, generator=torch.Generator().manual_seed(6)))
    assert x.shape == (2, 3)
    with pytest.raises(QpeflowError, match="row"):
        Noise.seeded([5, 6]).randn((3, 3))
