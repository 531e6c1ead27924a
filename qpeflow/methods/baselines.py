"""Literature infrared rain-rate baselines, computed directly from the 10.8 um brightness temperature.

Pure numpy on brightness temperature T in K (NaN stays NaN), rain rate out in mm/h.

- GPI, the GOES Precipitation Index (Arkin & Meisner 1987, Mon. Wea. Rev. 115,
  51-74): 3 mm/h wherever T < 235 K, else 0.
- Auto-Estimator (Vicente, Scofield & Menzel 1998, Bull. Amer. Meteor. Soc. 79,
  1883-1898, Eq. 1): R = 1.1183e11 exp(-3.6382e-2 T^1.2) mm/h. Only the power
  law is applied: the operational corrections for precipitable water and
  relative humidity, the cloud-top growth/gradient screening and the radar
  re-calibration are not (they need data the IR alone does not hold). The curve
  gives 0.14 mm/h at 250 K, 2.7 mm/h at 227 K and 85 mm/h at 200 K; values
  below 0.1 mm/h (T above about 252.3 K) are set to 0, the wet threshold of the
  verification, so warm clear sky is not drizzle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from qpeflow.data.transforms import IRNorm
from qpeflow.errors import QpeflowError
from qpeflow.methods.base import Estimate

GPI_THRESHOLD_K = 235.0
GPI_RATE_MM_H = 3.0
AE_A = 1.1183e11  # mm/h
AE_B = 3.6382e-2  # K^-1.2
AE_MIN_MM_H = 0.1


def gpi(bt_k: np.ndarray) -> np.ndarray:
    """GOES Precipitation Index: bt_k (...) K -> (...) mm/h, float32, NaN where bt_k is NaN."""
    bt = np.asarray(bt_k, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        rain = np.where(bt < GPI_THRESHOLD_K, GPI_RATE_MM_H, 0.0)
    return np.where(np.isnan(bt), np.nan, rain).astype(np.float32)


def autoestimator(bt_k: np.ndarray) -> np.ndarray:
    """Auto-Estimator power law: bt_k (...) K -> (...) mm/h, float32, NaN where bt_k is NaN."""
    bt = np.asarray(bt_k, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        rain = AE_A * np.exp(-AE_B * np.power(np.maximum(bt, 0.0), 1.2))
        rain = np.where(rain < AE_MIN_MM_H, 0.0, rain)
    return rain.astype(np.float32)


#: baseline name -> function of brightness temperature (K) returning rain rate (mm/h)
BASELINES = {"gpi": gpi, "autoestimator": autoestimator}


class IRBaseline:
    """A literature baseline as a method without a network: rain from IR_108 at the valid time.

    It reads the normalised IR_108 of the last frame of ``cond`` (B, T, C, H, W),
    turns it back into K with the statistics it was given, applies the formula and
    returns the rain in model space (``to_model``, e.g. ``LogRain.forward``), so an
    estimator treats it like any method: nfe = 0, no noise, no training objective.

    Args:
        name: a key of :data:`BASELINES`.
        ir_index: position of IR_108 along cond's channel axis.
        ir_norm: the normalisation of cond's channels (:class:`~qpeflow.data.transforms.IRNorm`).
        to_model: rain (mm/h) -> model space.
    """

    x_channels = 0
    aux_channels = 0

    def __init__(self, name: str, ir_index: int, ir_norm: IRNorm, to_model: Callable[[Tensor], Tensor]) -> None:
        if name not in BASELINES:
            raise QpeflowError(f"baseline: unknown {name!r}; known: {sorted(BASELINES)}")
        self.label, self.fn = name, BASELINES[name]
        self.ir_index, self.ir_norm = ir_index, ir_norm
        self.to_model = to_model

    def loss(self, net: Any, batch: Any, generator: torch.Generator | None = None) -> Tensor:
        raise QpeflowError(f"{self.label}: a literature baseline has no training objective")

    def estimate(self, net: Any, cond: Tensor, steps: int = 1, noise: Any = None, sampler: str = "") -> Estimate:
        """(B, 1, H, W) model-space rain of the formula on IR_108 (K) at the valid time; nfe = 0.

        NaN infrared (no data) gives NaN rain."""
        bt = self.ir_norm.inverse(cond[:, -1].double().cpu().numpy())[:, self.ir_index]  # (B, H, W) K
        rain = torch.from_numpy(self.fn(bt)).to(cond.device)[:, None]
        return Estimate(self.to_model(rain.float()), 0)

    def map_cond_fns(self, wrap: Callable[[Any], Any]) -> IRBaseline:
        """No whole-cond callable: the baseline itself."""
        return self
