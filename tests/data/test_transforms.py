"""LogRain and IRNorm: formulas, round trips on numpy and torch, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from qpeflow.data.transforms import IRNorm, LogRain
from qpeflow.errors import QpeflowError


def test_lograin_formula_and_zero() -> None:
    t = LogRain(offset=0.1, scale=2.0)
    r = np.array([0.0, 0.1, 1.0, 10.0, 200.0])
    expected = (np.log(r + 0.1) - math.log(0.1)) / 2.0
    np.testing.assert_allclose(t.forward(r), expected, rtol=1e-6)
    assert t.forward(np.zeros(3)).tolist() == [0.0, 0.0, 0.0]
    assert float(t.forward(torch.tensor(200.0))) < 4.0


@pytest.mark.parametrize("offset,scale", [(0.1, 2.0), (0.01, 1.0), (1.0, 3.0)])
def test_lograin_round_trip_numpy_and_torch(offset: float, scale: float) -> None:
    t = LogRain(offset, scale)
    rng = np.random.default_rng(0)
    r = np.where(rng.random(500) < 0.6, 0.0, rng.lognormal(0.0, 1.5, 500)).astype(np.float32)
    np.testing.assert_allclose(t.inverse(t.forward(r)), r, rtol=1e-5, atol=1e-6)
    rt = torch.from_numpy(r)
    back = t.inverse(t.forward(rt))
    assert isinstance(back, torch.Tensor) and back.dtype == torch.float32
    torch.testing.assert_close(back, rt, rtol=1e-5, atol=1e-6)
    assert t.forward(r).dtype == np.float32


def test_lograin_inverse_clamps_and_keeps_nan() -> None:
    t = LogRain()
    assert float(t.inverse(torch.tensor(-1.0))) == 0.0
    assert t.inverse(np.array([-3.0]))[0] == 0.0
    assert np.isnan(t.forward(np.array([np.nan]))[0])
    with pytest.raises(QpeflowError):
        LogRain(offset=0.0)


def test_irnorm_per_channel_round_trip() -> None:
    norm = IRNorm((250.0, 230.0, 260.0), (20.0, 10.0, 5.0))
    bt = np.random.default_rng(1).normal(240, 15, size=(2, 4, 3, 5, 6)).astype(np.float32)
    z = norm.forward(bt)
    np.testing.assert_allclose(z[:, :, 1], (bt[:, :, 1] - 230.0) / 10.0, rtol=1e-5)
    np.testing.assert_allclose(norm.inverse(z), bt, rtol=1e-5)
    zt = norm.forward(torch.from_numpy(bt))
    torch.testing.assert_close(zt, torch.from_numpy(z))
    torch.testing.assert_close(norm.inverse(zt), torch.from_numpy(bt))


def test_irnorm_from_attrs_and_errors() -> None:
    a = IRNorm.from_attrs({"ir_mean": [250.0, 240.0], "ir_std": [10.0, 12.0]})
    b = IRNorm.from_attrs({"ir_mean": json.dumps([250.0, 240.0]), "ir_std": json.dumps([10.0, 12.0])})
    assert a == b and a.mean == (250.0, 240.0)
    with pytest.raises(QpeflowError, match="ir_std"):
        IRNorm.from_attrs({"ir_mean": [250.0]})
    with pytest.raises(QpeflowError, match="channels"):
        a.forward(np.zeros((4, 3, 8, 8)))
    with pytest.raises(QpeflowError):
        IRNorm((1.0,), (0.0,))


def test_lograin_inverse_caps_overshoot_at_max_rate() -> None:
    t = LogRain(0.1, 2.0, max_rate=500.0)
    huge = np.array([20.0], dtype=np.float32)  # 0.1 * expm1(40) ~ 2e16 mm/h without the cap
    assert t.inverse(huge)[0] == 500.0
    assert float(t.inverse(torch.tensor([20.0]))[0]) == 500.0
    below = t.inverse(t.forward(np.array([499.0], dtype=np.float32)))[0]
    assert abs(float(below) - 499.0) < 1e-2  # rates under the cap are untouched
