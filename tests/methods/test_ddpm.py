"""DDPM: published schedules, eps/v targets, training on a tiny batch, masks, samplers, seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from qpeflow.errors import QpeflowError
from qpeflow.methods import Noise
from qpeflow.methods.ddpm import DDPM, trailing_timesteps
from qpeflow.methods.noise_schedules import cosine_schedule, linear_schedule, zero_terminal_snr
from tests.methods.tiny import tiny_batch


def test_linear_alphas_cumprod_brute_force() -> None:
    sched = linear_schedule(1000)
    abar, expected = 1.0, []
    for t in range(1, 1001):  # Ho et al. 2020: beta_t linear from 1e-4 (t = 1) to 0.02 (t = T)
        abar *= 1.0 - (1e-4 + (0.02 - 1e-4) * (t - 1) / 999)
        expected.append(abar)
    np.testing.assert_allclose(sched.alphas_cumprod.numpy(), expected, rtol=1e-10)


def test_cosine_alphas_cumprod_brute_force() -> None:
    sched = cosine_schedule(1000)

    def f(t: float) -> float:  # Nichol & Dhariwal 2021, Eq. 17, s = 0.008
        return math.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2

    expected = [f(t) / f(0) for t in range(1, 1000)]
    np.testing.assert_allclose(sched.alphas_cumprod[:-1].numpy(), expected, rtol=1e-9)
    assert float(sched.betas[-1]) == pytest.approx(0.999)  # the clipped last step
    assert float(sched.betas.max()) <= 0.999


def test_trailing_timesteps() -> None:
    assert trailing_timesteps(1000, 1000) == list(range(999, -1, -1))
    assert trailing_timesteps(1000, 1) == [999]
    ts = trailing_timesteps(1000, 50)
    assert ts[0] == 999 and ts[-1] == 19 and len(set(ts)) == 50
    with pytest.raises(QpeflowError):
        trailing_timesteps(1000, 0)


@pytest.mark.parametrize("prediction", ["eps", "v"])
def test_loss_target_matches_formula(prediction: str) -> None:
    """A net that outputs the true eps / v target gives a zero loss."""
    method = DDPM(prediction, "linear", 100, zero_terminal_snr=prediction == "v")
    batch = tiny_batch()
    seen = {}

    def oracle(x, t, cond, aux=None):
        i = torch.round(t * 100).long()
        a = method.schedule.alphas_cumprod[i].float().reshape(-1, 1, 1, 1)
        eps = (x - a.sqrt() * batch.target) / (1 - a).sqrt()
        seen["t"] = t
        return eps if prediction == "eps" else a.sqrt() * eps - (1 - a).sqrt() * batch.target

    assert float(method.loss(oracle, batch, torch.Generator().manual_seed(0))) < 1e-8
    assert float(seen["t"].min()) >= 0.0 and float(seen["t"].max()) < 1.0


def test_estimate_errors() -> None:
    method = DDPM()
    cond = torch.zeros(1, 1, 1, 8, 8)
    with pytest.raises(QpeflowError, match="not a DDPM sampler"):
        method.estimate(lambda *a: a[0], cond, 4, None, "heun")
    with pytest.raises(QpeflowError, match="2 row"):
        method.estimate(lambda *a: a[0], cond, 4, Noise.seeded([1, 2]))
    with pytest.raises(QpeflowError, match="prediction"):
        DDPM("x0")


@pytest.mark.parametrize("prediction", ["eps", "v"])
@pytest.mark.parametrize("schedule", ["linear", "cosine"])
@pytest.mark.parametrize("sampler,steps", [("ddim", 1), ("ddim", 10), ("ancestral", 100)])
def test_estimate_with_an_oracle_net_returns_the_target(
    prediction: str, schedule: str, sampler: str, steps: int
) -> None:
    """A net that knows x0 and outputs the exact eps or v at t = i / N: every member ends on x0."""
    method = DDPM(prediction, schedule, 100, zero_terminal_snr=prediction == "v")
    x0 = tiny_batch().target[:2]

    def oracle(x, t, cond, aux=None):
        i = torch.round(t * 100).long()
        a = method.schedule.alphas_cumprod[i].float().reshape(-1, 1, 1, 1)
        eps = (x - a.sqrt() * x0) / (1 - a).sqrt()
        return eps if prediction == "eps" else a.sqrt() * eps - (1 - a).sqrt() * x0

    for seeds in ([1, 2], [3, 4]):
        est = method.estimate(oracle, torch.zeros(2, 1, 1, 16, 16), steps, Noise.seeded(seeds), sampler)
        torch.testing.assert_close(est.sample, x0, rtol=1e-3, atol=1e-3)


def test_zero_terminal_snr_rescaling_follows_lin_et_al() -> None:
    """Lin et al. 2024, Algorithm 1: sqrt(abar) shifted and scaled, first value kept, last exactly 0."""
    base = cosine_schedule(200)
    z = zero_terminal_snr(base)
    root, new = base.alphas_cumprod.sqrt(), z.alphas_cumprod.sqrt()
    assert float(z.alphas_cumprod[-1]) == 0.0 and float(new[0]) == pytest.approx(float(root[0]), rel=1e-12)
    brute = (root - root[-1]) * root[0] / (root[0] - root[-1])
    torch.testing.assert_close(new, brute)
    torch.testing.assert_close(torch.cumprod(1 - z.betas, 0), z.alphas_cumprod)
    assert float(DDPM("v", "cosine", 200).schedule.alphas_cumprod[-1]) == 0.0  # the default
    with pytest.raises(QpeflowError, match="needs method.prediction: v"):
        DDPM("eps", "cosine", 200, zero_terminal_snr=True)


def test_max_beta_clips_the_cosine_schedule_and_x0_stays_in_the_data_range() -> None:
    team = DDPM("eps", "cosine", 500, zero_terminal_snr=False, max_beta=0.8)
    assert float(team.schedule.betas.max()) == pytest.approx(0.8)
    # a wildly wrong eps net: x0 = (x - sqrt(1 - a) out) / sqrt(a) would explode; the clamp keeps +-x0_limit
    denoise = team.denoiser(lambda x, t, c, aux=None: torch.full_like(x, -50.0), torch.zeros(1, 1, 1, 4, 4))
    pred = denoise(torch.zeros(1, 1, 4, 4), 499)
    assert float(pred.x0.abs().max()) == pytest.approx(team.x0_limit) and team.x0_limit == pytest.approx(4.3)
