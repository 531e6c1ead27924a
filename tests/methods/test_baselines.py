"""GPI and Auto-Estimator: the published formulas, NaN handling, no warnings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qpeflow.methods.baselines import BASELINES, autoestimator, gpi


def test_gpi_is_3_mm_h_below_235_k():
    bt = np.array([[200.0, 234.99], [235.0, 290.0]])
    np.testing.assert_array_equal(gpi(bt), [[3.0, 3.0], [0.0, 0.0]])
    assert gpi(bt).dtype == np.float32


@pytest.mark.parametrize("t", [190.0, 200.0, 215.0, 227.0, 240.0, 250.0])
def test_autoestimator_matches_vicente_1998(t):
    expected = 1.1183e11 * math.exp(-3.6382e-2 * t**1.2)
    assert autoestimator(np.array([t]))[0] == pytest.approx(expected, rel=1e-6)


def test_autoestimator_decreases_and_is_dry_when_warm():
    bt = np.linspace(180, 300, 121)
    rain = autoestimator(bt)
    assert np.all(np.diff(rain) <= 0) and rain[0] > 100
    assert np.all(rain[bt > 252.5] == 0.0) and np.all(rain[bt < 252.0] > 0.1)


@pytest.mark.filterwarnings("error")
def test_nan_stays_nan_and_no_warning():
    bt = np.array([np.nan, 0.0, 1e4, 220.0])
    for fn in BASELINES.values():
        out = fn(bt)
        assert np.isnan(out[0]) and np.all(np.isfinite(out[1:])) and out.shape == bt.shape
