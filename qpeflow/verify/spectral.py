"""Radially averaged power spectral density (RAPSD) of rain fields and its ratio to the truth.

Per field (Ruzanski & Chandrasekar 2011; pysteps ``utils.spectral.rapsd`` with
``fft_method=numpy.fft``): ``P = |fftshift(fft2(R))|^2 / (Y X)``, averaged over
the pixels of each integer radius ``r = round(sqrt(kx^2 + ky^2))`` for
``r = 0 .. L/2 - 1`` (L = max(Y, X); ``L//2`` radii when L is odd), frequency
``r / L`` cycles/px, wavelength ``L / r`` px.

NaN (masked) pixels are filled with 0 mm/h before the transform, in the
prediction and the truth alike (a field with masked pixels is scored as
"no rain there" in both, so the ratio stays fair; the mask itself adds power
at the mask edge in both spectra).

Accumulates the sum of per-field spectra; ``rapsd_compute`` gives the mean over
fields, the ratio prediction / truth per wavelength, and the mean of that ratio
over wavelengths shorter than ``small_scale_px`` (16 px by default).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qpeflow.verify.value import ScoreValue, divide, undefined


@dataclass
class RAPSDState:
    """Accumulator: field shape, sums of per-field RAPSD (R,) of prediction and truth, field count."""

    shape: tuple[int, int]
    sum_pred: np.ndarray
    sum_obs: np.ndarray
    n: int = 0


@dataclass(frozen=True)
class RAPSDResult:
    """Mean spectra over fields at radii r >= 1 (the mean, r = 0, has no wavelength)."""

    wavelength: np.ndarray  # (R-1,) px, decreasing
    truth: np.ndarray  # (R-1,) mean RAPSD of the truth, (mm/h)^2
    prediction: np.ndarray  # (R-1,) mean RAPSD of the prediction
    ratio: np.ndarray  # (R-1,) prediction / truth, NaN where the truth has no power
    small_scale_ratio: ScoreValue  # mean of ratio over wavelength < small_scale_px
    small_scale_px: float


def _radii(shape: tuple[int, int]) -> tuple[np.ndarray, int]:
    """Integer radius of each pixel of the shifted spectrum, and the number of radii kept."""
    m, n = shape
    yc = np.arange(-(m // 2), m - m // 2)[:, None]
    xc = np.arange(-(n // 2), n - n // 2)[None, :]
    length = max(m, n)
    n_r = length // 2 + 1 if length % 2 == 1 else length // 2
    return np.sqrt(xc * xc + yc * yc).round().astype(int), n_r


def rapsd_fields(fields: np.ndarray) -> np.ndarray:
    """RAPSD of each field: (N, Y, X) or (Y, X) mm/h -> (N, R) or (R,); NaN -> 0 first."""
    fields = np.asarray(fields, dtype=np.float64)
    single = fields.ndim == 2
    f = np.nan_to_num(fields[None] if single else fields, nan=0.0)
    radius, n_r = _radii(f.shape[-2:])
    power = np.abs(np.fft.fftshift(np.fft.fft2(f), axes=(-2, -1))) ** 2 / (f.shape[-2] * f.shape[-1])
    flat_r = radius.ravel()
    keep = flat_r < n_r
    onehot = np.zeros((flat_r.size, n_r))
    onehot[np.nonzero(keep)[0], flat_r[keep]] = 1.0
    counts = onehot.sum(axis=0)
    out = power.reshape(power.shape[0], -1) @ onehot / counts
    return out[0] if single else out


def rapsd_init(shape: tuple[int, int]) -> RAPSDState:
    """Empty accumulator for fields of ``shape`` (Y, X)."""
    _, n_r = _radii(shape)
    return RAPSDState(tuple(shape), np.zeros(n_r), np.zeros(n_r))


def rapsd_accum(state: RAPSDState, pred: np.ndarray, obs: np.ndarray) -> None:
    """Add fields ``pred``, ``obs``: (N, Y, X) or (Y, X) mm/h; pred is NaN-filled where obs is NaN too."""
    pred, obs = np.asarray(pred, dtype=np.float64), np.asarray(obs, dtype=np.float64)
    if pred.shape != obs.shape or pred.shape[-2:] != state.shape:
        raise ValueError(f"RAPSD of shape {state.shape}: got prediction {pred.shape}, observation {obs.shape}")
    masked = ~(np.isfinite(pred) & np.isfinite(obs))
    pred, obs = np.where(masked, 0.0, pred), np.where(masked, 0.0, obs)
    state.sum_pred += rapsd_fields(pred.reshape((-1,) + state.shape)).sum(axis=0)
    state.sum_obs += rapsd_fields(obs.reshape((-1,) + state.shape)).sum(axis=0)
    state.n += int(np.prod(pred.shape[:-2], dtype=int))


def rapsd_merge(a: RAPSDState, b: RAPSDState) -> RAPSDState:
    """Sum of two accumulators for the same field shape (inputs unchanged)."""
    if a.shape != b.shape:
        raise ValueError(f"cannot merge RAPSD of shapes {a.shape} and {b.shape}")
    return RAPSDState(a.shape, a.sum_pred + b.sum_pred, a.sum_obs + b.sum_obs, a.n + b.n)


def rapsd_compute(state: RAPSDState, small_scale_px: float = 16.0) -> RAPSDResult:
    """Mean spectra, ratio per wavelength and the mean small-scale ratio (see module docstring)."""
    length = max(state.shape)
    radius = np.arange(1, state.sum_obs.size)
    wavelength = length / radius
    n = max(state.n, 1)
    truth, pred = state.sum_obs[1:] / n, state.sum_pred[1:] / n
    has_power = truth > 0
    ratio = np.full(truth.shape, np.nan)
    ratio[has_power] = pred[has_power] / truth[has_power]
    small = wavelength < small_scale_px
    if state.n == 0:
        score = undefined("no field accumulated")
    elif not small.any():
        score = undefined(f"fields too small for wavelengths < {small_scale_px:g} px")
    elif not has_power[small].all():
        score = undefined(f"the truth has no power at wavelengths < {small_scale_px:g} px (no rain)")
    else:
        score = divide(float(ratio[small].sum()), float(small.sum()), "no wavelength")
    return RAPSDResult(wavelength, truth, pred, ratio, score, float(small_scale_px))
