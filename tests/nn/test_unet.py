"""The conditional network: shapes, t handling, size checks, channels-last, build_network."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from qpeflow.config import ModelConfig
from qpeflow.errors import QpeflowError
from qpeflow.nn import build_network
from qpeflow.nn.unet import UNet, sinusoidal_embedding

TINY = ModelConfig(encoder_channels=8, base_channels=8, channel_mults=(1, 2), time_embed_dim=16)


def _perturb(net: torch.nn.Module) -> None:
    """Zero-initialised output layers make a fresh net return 0: give every weight some value."""
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))


@pytest.mark.parametrize("encoder", ["early", "stem3d"])
@pytest.mark.parametrize("x_channels,aux_channels", [(0, 0), (1, 0), (1, 1)])
def test_shapes(encoder: str, x_channels: int, aux_channels: int) -> None:
    net = build_network(replace(TINY, encoder=encoder), 3, 2, x_channels, aux_channels)
    cond = torch.randn(2, 3, 2, 16, 16)
    x = torch.randn(2, 1, 16, 16) if x_channels else None
    aux = torch.randn(2, 1, 16, 16) if aux_channels else None
    assert net(x, torch.rand(2), cond, aux).shape == (2, 1, 16, 16)


def test_fresh_net_is_zero_and_t_matters() -> None:
    net = build_network(TINY, 2, 2, 1, 0)
    cond, x = torch.randn(2, 2, 2, 16, 16), torch.randn(2, 1, 16, 16)
    assert torch.count_nonzero(net(x, torch.rand(2), cond)) == 0
    _perturb(net)
    a, b = net(x, torch.zeros(2), cond), net(x, torch.full((2,), 0.5), cond)
    assert not torch.allclose(a, b)
    torch.testing.assert_close(net(x, torch.tensor(0.5), cond), b)  # a 0-d t is broadcast


def test_size_and_channel_errors_are_clear() -> None:
    net = build_network(ModelConfig(channel_mults=(1, 2, 2), base_channels=8, encoder_channels=8), 1, 2, 1, 0)
    with pytest.raises(QpeflowError, match="divisible by 4"):
        net(torch.zeros(1, 1, 18, 16), torch.zeros(1), torch.zeros(1, 1, 2, 18, 16))
    with pytest.raises(QpeflowError, match="aux has 1"):
        net(torch.zeros(1, 1, 16, 16), torch.zeros(1), torch.zeros(1, 1, 2, 16, 16), torch.zeros(1, 1, 16, 16))
    with pytest.raises(QpeflowError, match="x has 0"):
        net(None, torch.zeros(1), torch.zeros(1, 1, 2, 16, 16))
    with pytest.raises(QpeflowError, match="infrared sequence"):
        net(torch.zeros(1, 1, 16, 16), torch.zeros(1), torch.zeros(1, 2, 2, 16, 16))
    with pytest.raises(QpeflowError, match="unknown 'lstm'"):
        build_network(ModelConfig(encoder="lstm"), 1, 2, 1, 0)


@pytest.mark.parametrize("encoder", ["early", "stem3d"])
def test_channels_last_gives_the_same_result(encoder: str) -> None:
    torch.manual_seed(0)
    net = build_network(replace(TINY, encoder=encoder), 2, 2, 1, 1)
    _perturb(net)
    args = (torch.randn(2, 1, 16, 16), torch.rand(2), torch.randn(2, 2, 2, 16, 16), torch.randn(2, 1, 16, 16))
    ref = net(*args)
    net = net.to(memory_format=torch.channels_last)
    out = net(args[0].contiguous(memory_format=torch.channels_last), *args[1:])
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)


def test_unet_attention_and_depth_options() -> None:
    for attention, blocks in ((False, 1), (True, 2)):
        unet = UNet(
            3,
            1,
            base_channels=8,
            channel_mults=(1, 2, 4),
            num_res_blocks=blocks,
            attention=attention,
            time_embed_dim=16,
        )
        assert unet(torch.randn(2, 3, 32, 32), torch.rand(2)).shape == (2, 1, 32, 32)


def test_sinusoidal_embedding_values() -> None:
    emb = sinusoidal_embedding(torch.tensor([0.0, 0.001]), 8)
    assert emb.shape == (2, 8)
    torch.testing.assert_close(emb[0], torch.tensor([1.0] * 4 + [0.0] * 4))
    assert float(emb[1, 4]) == pytest.approx(torch.sin(torch.tensor(1.0)).item())  # 1000 t at frequency 1


def test_two_time_inputs_add_a_zero_started_embedding_and_keep_one_input_nets_unchanged() -> None:
    """time_inputs=2: t (B, 2); a fresh second embedding is 0, so a one-input net's weights load (strict=False,
    only unet.embed2.* missing) and give the same output whatever the second scalar; the default is unchanged."""
    one = build_network(TINY, 2, 2, 1, 0)
    _perturb(one)
    assert not any("embed2" in k for k in one.state_dict())
    two = build_network(TINY, 2, 2, 1, 0, time_inputs=2)
    missing = two.load_state_dict(one.state_dict(), strict=False).missing_keys
    assert missing and all(k.startswith("unet.embed2.") for k in missing)
    cond, x, t = torch.randn(2, 2, 2, 16, 16), torch.randn(2, 1, 16, 16), torch.tensor([0.2, 0.7])
    ref = one(x, t, cond)
    for h in (0.0, 0.5):
        torch.testing.assert_close(two(x, torch.stack([t, torch.full_like(t, h)], 1), cond), ref)
    _perturb(two)  # trained: the second scalar now matters, and a (1, 2) t is broadcast
    a, b = two(x, torch.tensor([[0.2, 0.1]] * 2), cond), two(x, torch.tensor([[0.2, 0.6]] * 2), cond)
    assert not torch.allclose(a, b)
    torch.testing.assert_close(two(x, torch.tensor([[0.2, 0.1]]), cond), a)
    with pytest.raises(QpeflowError, match="built for 2 time inputs"):
        two(x, t, cond)
    with pytest.raises(QpeflowError, match="built for 1 time input"):
        one(x, torch.zeros(2, 2), cond)
    with pytest.raises(QpeflowError, match="1 or 2 time inputs"):
        build_network(TINY, 2, 2, 1, 0, time_inputs=3)


def test_jvp_through_a_channels_last_net_matches_the_contiguous_one() -> None:
    """Forward-mode AD (MeanFlow's JVP) through GroupNorm works on a channels-last network, with the same result
    (attention on the math backend, as MeanFlow runs it: the fused CPU kernel has no forward-mode formula)."""
    net = build_network(TINY, 2, 2, 1, 1, time_inputs=2)
    _perturb(net)
    cond, aux, z, v = (torch.randn(2, *s) for s in ((2, 2, 16, 16), (1, 16, 16), (1, 16, 16), (1, 16, 16)))
    times, tangent = torch.tensor([[0.3, 0.4], [0.6, 0.1]]), torch.tensor([[1.0, -1.0]] * 2)

    def jvp(memory_format: torch.memory_format) -> tuple[torch.Tensor, torch.Tensor]:
        net.to(memory_format=memory_format)
        cl = [a.contiguous(memory_format=memory_format) for a in (z, v, aux)]
        with sdpa_kernel(SDPBackend.MATH):
            return torch.func.jvp(lambda zz, tt: net(zz, tt, cond, cl[2]), (cl[0], times), (cl[1], tangent))

    ref, last = jvp(torch.contiguous_format), jvp(torch.channels_last)
    for a, b in zip(ref, last, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-4)
    assert float(ref[1].abs().max()) > 0
