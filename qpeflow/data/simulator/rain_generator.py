"""A stochastic rain generator: the embedded default data set (no files needed).

The field is the sum of

* a **background** of stratiform/embedded rain: an advected, evolving power-law
  Gaussian field (:class:`qpeflow.data.simulator.cloud_fields.EvolvingNoise`, spectral slope
  2.6-3.2) turned into rain by thresholding and an exponential transform,
  ``R = r0 (exp(s (g - q)) - 1)`` where ``g > q``: the wet fraction is set by ``q``
  and the wet intensities are close to log-normal (the classical model of
  intermittent rain, e.g. Schleiss et al. 2011; pysteps' STEPS uses the same
  Gaussian-field-then-transform idea, Seed 2003), and
* **convective cells**: Gaussian-shaped cells born at random (preferably inside the
  background rain), carried by the steering flow, that grow over 10-30 min, peak at
  10-100 mm/h and decay (life 30-120 min; the life cycle of Byers & Braham 1949),
  which gives the growth/decay the IR lead/lag needs.

Event parameters are drawn from ``rng`` (see :class:`RainEventParams`), so events
differ in wet area, intensity, motion and convective activity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from qpeflow.data.simulator.cloud_fields import EvolvingNoise

_PAD = 0.25  # periodic domain is this fraction larger on each side


@dataclass(frozen=True)
class RainEventParams:
    """Per-event parameters of :func:`simulate_rain` (ranges are those of :meth:`sample`).

    Attributes:
        wet_fraction: background area with rain, 0.08-0.4.
        beta: spectral slope of the background, 2.6-3.2.
        r0_mmh: intensity scale of the background, 0.5-2 mm/h.
        log_slope: s of the exponential transform, 0.8-1.4.
        speed_ms: steering-flow speed, 3-20 m/s.
        direction_deg: flow direction (towards, 0 = east, counter-clockwise), around 0 +- 60.
        lifetime_64km_min: lifetime of 64-km structures, 60-240 min.
        cell_rate: convective cell births per 10^4 km^2 per hour, 0-1.5.
        cell_peak_mmh: median peak intensity, 15-60 mm/h (log-normal spread per cell).
        cell_radius_km: median Gaussian radius, 2-4.5 km.
    """

    wet_fraction: float = 0.2
    beta: float = 2.9
    r0_mmh: float = 1.0
    log_slope: float = 1.1
    speed_ms: float = 10.0
    direction_deg: float = 0.0
    lifetime_64km_min: float = 120.0
    cell_rate: float = 0.7
    cell_peak_mmh: float = 30.0
    cell_radius_km: float = 3.0

    @classmethod
    def sample(cls, rng: np.random.Generator) -> RainEventParams:
        """Draw one event's parameters uniformly (log-uniform for rates) within the documented ranges."""
        return cls(
            wet_fraction=float(rng.uniform(0.08, 0.4)),
            beta=float(rng.uniform(2.6, 3.2)),
            r0_mmh=float(np.exp(rng.uniform(np.log(0.5), np.log(2.0)))),
            log_slope=float(rng.uniform(0.8, 1.4)),
            speed_ms=float(rng.uniform(3, 20)),
            direction_deg=float(rng.normal(0, 60)),
            lifetime_64km_min=float(rng.uniform(60, 240)),
            cell_rate=float(rng.uniform(0, 1.5)),
            cell_peak_mmh=float(np.exp(rng.uniform(np.log(15), np.log(60)))),
            cell_radius_km=float(rng.uniform(2, 4.5)),
        )


@dataclass
class _Cells:
    """Live convective cells (arrays of equal length), positions in pixels of the output grid."""

    row: np.ndarray
    col: np.ndarray
    age: np.ndarray  # minutes
    life: np.ndarray  # minutes
    growth: np.ndarray  # minutes to peak
    peak: np.ndarray  # mm/h
    sigma: np.ndarray  # pixels (minor axis)
    aspect: np.ndarray  # major / minor axis, 1-2.5
    angle: np.ndarray  # orientation of the major axis (radians)


def _empty_cells() -> _Cells:
    z = np.zeros(0)
    return _Cells(z, z, z, z, z, z, z, z, z)


def _cell_intensity(c: _Cells) -> np.ndarray:
    """Life cycle: sin^2 growth to the peak, cos^2 decay to zero at ``life`` (mm/h)."""
    grow = np.sin(0.5 * np.pi * np.clip(c.age / c.growth, 0, 1)) ** 2
    decay = np.cos(0.5 * np.pi * np.clip((c.age - c.growth) / (c.life - c.growth), 0, 1)) ** 2
    return c.peak * np.where(c.age < c.growth, grow, decay)


def _births(bg: np.ndarray, p: RainEventParams, dt_min: float, res_km: float, rng: np.random.Generator) -> _Cells:
    """New cells: Poisson number, positions favouring raining background (4:1)."""
    ny, nx = bg.shape
    area = ny * nx * res_km**2 / 1e4
    n = rng.poisson(p.cell_rate * area * dt_min / 60.0)
    if n == 0:
        return _empty_cells()
    rows, cols = rng.uniform(0, ny, 4 * n), rng.uniform(0, nx, 4 * n)
    weight = np.where(bg[rows.astype(int), cols.astype(int)] > 0, 4.0, 1.0)
    pick = rng.choice(4 * n, size=n, replace=False, p=weight / weight.sum())
    life = rng.uniform(30, 120, n)
    return _Cells(
        rows[pick],
        cols[pick],
        np.zeros(n),
        life,
        life * rng.uniform(0.2, 0.45, n),
        p.cell_peak_mmh * np.exp(0.5 * rng.standard_normal(n)),
        p.cell_radius_km * np.exp(0.3 * rng.standard_normal(n)) / res_km,
        rng.uniform(1.0, 2.5, n),
        rng.uniform(0, np.pi, n),
    )


def _render(cells: _Cells, shape: tuple[int, int]) -> np.ndarray:
    """Sum of elliptical Gaussian cells, (ny, nx) mm/h; each drawn in a +-3 sigma window."""
    out = np.zeros(shape)
    for r, c, s, a, th, i in zip(cells.row, cells.col, cells.sigma, cells.aspect, cells.angle, _cell_intensity(cells)):
        h = int(np.ceil(3 * s * a))
        r0, r1 = max(int(r) - h, 0), min(int(r) + h + 1, shape[0])
        c0, c1 = max(int(c) - h, 0), min(int(c) + h + 1, shape[1])
        if r0 >= r1 or c0 >= c1:
            continue
        yy, xx = np.mgrid[r0:r1, c0:c1]
        u = (xx - c) * np.cos(th) + (yy - r) * np.sin(th)
        v = -(xx - c) * np.sin(th) + (yy - r) * np.cos(th)
        out[r0:r1, c0:c1] += i * np.exp(-((u / a) ** 2 + v**2) / (2 * s * s))
    return out


def _advance(
    cells: _Cells, dt_min: float, vel_px: tuple[float, float], shape: tuple[int, int], rng: np.random.Generator
) -> _Cells:
    """Age and move the cells (steering flow plus a small random drift); drop dead/far ones."""
    n = cells.row.size
    row = cells.row - vel_px[1] + 0.2 * rng.standard_normal(n)
    col = cells.col + vel_px[0] + 0.2 * rng.standard_normal(n)
    age = cells.age + dt_min
    m = 3 * cells.sigma
    keep = (age < cells.life) & (row > -m) & (row < shape[0] + m) & (col > -m) & (col < shape[1] + m)
    return _Cells(
        row[keep],
        col[keep],
        age[keep],
        cells.life[keep],
        cells.growth[keep],
        cells.peak[keep],
        cells.sigma[keep],
        cells.aspect[keep],
        cells.angle[keep],
    )


def _concat(a: _Cells, b: _Cells) -> _Cells:
    return _Cells(*(np.concatenate([getattr(a, f), getattr(b, f)]) for f in _Cells.__dataclass_fields__))


def simulate_rain(
    n_times: int,
    shape: tuple[int, int],
    cadence_minutes: float,
    resolution_km: float,
    rng: np.random.Generator,
    params: RainEventParams | None = None,
) -> np.ndarray:
    """A sequence of advected, evolving rain fields with growing and decaying cells.

    Args:
        n_times: number of frames T.
        shape: (H, W) pixels.
        cadence_minutes: time between frames.
        resolution_km: pixel size.
        rng: random generator (all randomness comes from it).
        params: event parameters; drawn with ``RainEventParams.sample(rng)`` if None.

    Returns:
        (T, H, W) float32 rain rate in mm/h, >= 0.
    """
    p = params if params is not None else RainEventParams.sample(rng)
    ny, nx = shape
    py, px = int(_PAD * ny) + 2, int(_PAD * nx) + 2
    step_km = p.speed_ms * cadence_minutes * 60 / 1000.0
    ang = np.deg2rad(p.direction_deg)
    vel = (step_km * np.cos(ang) / resolution_km, step_km * np.sin(ang) / resolution_km)
    noise = EvolvingNoise(
        (ny + 2 * py, nx + 2 * px), p.beta, resolution_km, vel, p.lifetime_64km_min / cadence_minutes, rng
    )
    q = float(ndtri(1.0 - p.wet_fraction))
    cells = _empty_cells()
    out = np.empty((n_times, ny, nx), np.float32)
    g = noise.field()
    n_spin = int(np.ceil(90.0 / cadence_minutes))  # cells already alive at the first frame
    for t in range(-n_spin, n_times):
        if t > -n_spin:
            g = noise.step()
        gi = g[py : py + ny, px : px + nx]
        bg = np.where(gi > q, p.r0_mmh * np.expm1(p.log_slope * (gi - q)), 0.0)
        cells = _concat(
            _advance(cells, cadence_minutes, vel, shape, rng), _births(bg, p, cadence_minutes, resolution_km, rng)
        )
        if t >= 0:
            # cells inherit the background's texture (log-normal modulation): no perfect discs
            out[t] = bg + _render(cells, shape) * np.exp(0.6 * gi - 0.18)
    return out
