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

import numpy as np

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
