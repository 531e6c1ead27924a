"""Reflectivity <-> rain rate conversions (Z-R relations).

The Marshall-Palmer relation ``Z = a R^b`` with ``a = 200``, ``b = 1.6``
(Marshall & Palmer 1948; Marshall, Langille & Palmer 1955), where ``Z`` is the
linear reflectivity factor in mm^6 m^-3 and ``R`` the rain rate in mm/h.
"""

from __future__ import annotations

import numpy as np

MARSHALL_PALMER = (200.0, 1.6)


def dbz_to_rain(
    dbz: np.ndarray, a: float = MARSHALL_PALMER[0], b: float = MARSHALL_PALMER[1], min_dbz: float | None = None
) -> np.ndarray:
    """Rain rate R = (10^(dBZ/10) / a)^(1/b) in mm/h, same shape as ``dbz``.

    NaN stays NaN. Values ``<= min_dbz`` (the product's "no echo" level) become 0.
    """
    dbz = np.asarray(dbz, dtype=np.float64)
    rain = (10.0 ** (dbz / 10.0) / a) ** (1.0 / b)
    if min_dbz is not None:
        rain = np.where(dbz <= min_dbz, 0.0, rain)
    return rain.astype(np.float32)


def rain_to_dbz(rain: np.ndarray, a: float = MARSHALL_PALMER[0], b: float = MARSHALL_PALMER[1]) -> np.ndarray:
    """Inverse of :func:`dbz_to_rain` for R > 0: dBZ = 10 log10(a R^b)."""
    rain = np.asarray(rain, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return (10.0 * np.log10(a * rain**b)).astype(np.float32)
