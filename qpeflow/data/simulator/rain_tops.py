"""Cloud-top heights of raining cloud, from the rain itself (the first stage of the forward operator).

:func:`rain_heights` gives every frame's top height (km) over the rain, with the lead of
cooling applied (:func:`lead_max`): stratiform tops set by temperature and rate,
convective tops towards the tropopause, light warm rain from low tops
(:func:`_shallow`), the cloud shield and the system shield (:func:`rain_cloud_top`),
and rainless displaced copies of the rain systems. Parameters and their sources:
:mod:`qpeflow.data.simulator.params`; how the tops become radiances:
:mod:`qpeflow.data.simulator.forward`.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from qpeflow.data.simulator.cloud_fields import CLOUD_OUTER_KM, TOP_OUTER_KM, EvolvingNoise, threshold_cover
from qpeflow.data.simulator.params import SimulatorParams

#: The shield's top below the highest raining top within ``shield_km`` (km): the
#: cloud around a core is thinner than the core, so light rain beside heavy rain shows
#: a warmer top than the core does.
SHIELD_DROP_KM = 1.0

#: How much lower (km) the system shield's top is at its outer edge than where half the
#: surroundings rain (:func:`rain_cloud_top`): shields thin and sink away from the system.
SYSTEM_SHIELD_THINNING_KM = 2.0


def smooth_rain(rain: np.ndarray, sigma_px: float = 1.0) -> np.ndarray:
    """(T, H, W) rain with NaN as 0, smoothed in space (tops are smoother than rain), float64."""
    return ndimage.gaussian_filter(np.nan_to_num(rain.astype(np.float64)), (0, sigma_px, sigma_px))


def lead_max(x: np.ndarray, dt_min: float, lead_min: float) -> np.ndarray:
    """``max_k w_k x(t + k dt)`` over the frames up to ``lead`` ahead, ``w_k = 1 - 0.6 k dt / lead``.

    Applied to cloud-top heights: a cell's top starts rising ``lead`` minutes before its
    rain and keeps rising (cooling) until the rain arrives, so cooling leads heavy rain
    by 15-30 min (Roberts & Rutledge 2003) and the cooling over the lead time grows with
    the final top height. Frames past the end repeat the last one.

    Args:
        x: (T, H, W).
    """
    n = x.shape[0]
    out = x.astype(np.float64, copy=True)
    for k in range(1, int(lead_min // dt_min) + 1):
        w = 1.0 - 0.6 * k * dt_min / lead_min
        np.maximum(out, w * x[np.minimum(np.arange(n) + k, n - 1)], out=out)
    return out


def rain_heights(
    rain: np.ndarray, dt_min: float, p: SimulatorParams, res_km: float, rng: np.random.Generator
) -> np.ndarray:
    """Cloud-top heights (km) of the raining cloud for every frame, with the lead applied.

    **Cloud systems that do not rain at the ground.** Beside the event's rain, each frame
    carries ``dry_system_copies`` copies of its rain systems displaced by
    ``dry_system_offset_km`` in evenly spaced directions (the first one random per draw;
    periodic; three copies by default: with one, whether the copy fell along a frontal band or
    beside it moved a test event's CSI by 0.06 between draws, issue 10) that rain nothing: the same cloud tops
    (:func:`rain_cloud_top`), ``dry_system_drop_km`` lower. Cold cloud without rain beneath
    is the first ambiguity of infrared rain retrieval (virga, decaying and non-precipitating
    systems: the cold-cloud area of a system is several times its rain area, e.g. Houze
    2014, ch. 9-11). Tying that cloud to the event's own rain keeps its amount and its look
    (showers or fronts) in proportion to the rain in every event, so that the
    infrared-to-rain mapping learnt on some events holds on others (independent cloud
    fields with a fixed cover made a dry day's cold cloud mostly rainless and a wet day's
    mostly raining: CSI 0.26 vs 0.67 on the two FMI days, issue 10).

    The event's own cloud (its rain's tops and shields, with the lead) hides the rainless
    systems, as separate systems do not overlap: fully where its top reaches half the 1 mm/h
    stratiform top height (and over shallow rain), fading to nothing over the thin fringe of
    its shield, ``h = max(h_own, (1 - clip(2 h_own / h_s1, 0, 1)) h_copies)``. (With the
    higher top winning everywhere, the copies hid the cooling of growing cells: 0.6 K over
    30 min instead of 7 K without copies, ``tests/data/simulator/test_calibration.py``.)

    Args:
        rain: (T, H, W) smoothed rain mm/h.
    Returns:
        (T, H, W) float32 km (0 = no raining cloud).
    """
    shape = rain.shape[1:]
    pad = (int(0.25 * shape[0]) + 2, int(0.25 * shape[1]) + 2)
    padded = (shape[0] + 2 * pad[0], shape[1] + 2 * pad[1])
    step_px = 0.5 * p.upper_wind_ms * dt_min * 60 / 1000 / res_km
    ang = np.deg2rad(p.upper_wind_direction_deg)
    vel = (step_px * np.cos(ang), step_px * np.sin(ang))
    noise = [
        EvolvingNoise(padded, 3.0, res_km, vel, 180.0 / dt_min, rng, outer_km=o) for o in (TOP_OUTER_KM, CLOUD_OUTER_KM)
    ]
    angles = rng.uniform(0, 2 * np.pi) + 2 * np.pi / max(p.dry_system_copies, 1) * np.arange(p.dry_system_copies)
    shifts = [tuple(int(round(p.dry_system_offset_km / res_km * f)) for f in (np.sin(a), np.cos(a))) for a in angles]
    own, dry = np.empty(rain.shape, np.float32), np.empty(rain.shape, np.float32)
    shallow = np.zeros(rain.shape, bool)
    for t in range(rain.shape[0]):
        h_n, w_n = (n.field() if t == 0 else n.step() for n in noise)
        crop = (slice(pad[0], pad[0] + shape[0]), slice(pad[1], pad[1] + shape[1]))
        warm = threshold_cover(w_n[crop], p.warm_rain_fraction) > 0
        own[t] = rain_cloud_top(rain[t], h_n[crop], warm, p, res_km)
        shallow[t] = _shallow(rain[t], warm, p)
        dry[t] = 0.0
        for shift in shifts:
            h_dry = rain_cloud_top(np.roll(rain[t], shift, axis=(0, 1)), h_n[crop], warm, p, res_km)
            dry[t] = np.maximum(dry[t], np.where(h_dry > 0, h_dry - p.dry_system_drop_km, 0.0))
    own, dry = lead_max(own, dt_min, p.lead_minutes), lead_max(dry, dt_min, p.lead_minutes)
    # how much of a copy the event's own cloud hides: all of it where that cloud's top reaches half
    # the 1 mm/h stratiform top or is shallow rain's, less over its shield's thinning fringe (a hard
    # rule cut warm rings into the copies along the fringe)
    hide = np.where(shallow, 1.0, np.clip(2.0 * own / p.stratiform_top_km, 0.0, 1.0))
    return np.maximum(own, (1.0 - hide) * dry).astype(np.float32)


def rain_cloud_top(
    drive: np.ndarray, h_noise: np.ndarray, warm: np.ndarray, p: SimulatorParams, res_km: float
) -> np.ndarray:
    """Cloud-top height (km) of raining cloud, (H, W); 0 where no cloud.

    ``h = h_s + (h_trop + overshoot c^2 - h_s) c`` with the stratiform top
    ``h_s = stratiform_top + top_texture n + depth_per_decade log10(R)`` (R in mm/h, so 1 mm/h rain has the nominal top) and the convective fraction
    ``c = clip(log(R / R_c) / log 5, 0, 1)`` (tops rise with the log of the rain rate); warm rain (where ``warm`` and c = 0) has
    low tops, and no shield of deeper cloud covers it (a region of shallow rain is a shallow-cloud regime),
    except a convective cell's (c > 0) over its own light-rain fringe. The shield (grey dilation + blur over ``shield_km``) widens the cloud.

    The **system shield**: wherever more than ``system_shield_fraction`` of the
    surroundings (a Gaussian of ``system_shield_scale_km``) rains, non-raining cloud with
    tops ``system_shield_drop_km`` below the stratiform rain top (up to
    ``SYSTEM_SHIELD_THINNING_KM`` lower at its outer edge) covers the gaps and a band around
    the system, a band that widens with the system's size: the cloud shield of a
    frontal or mesoscale system is several times its rain area (the frontal cloud head, the
    precipitation-free stratiform and anvil cloud; Houze 2014, ch. 9-11), whereas an
    isolated shower has only its ``shield_km`` rim.
    """
    r = np.maximum(drive, 0.1)
    c = _convective_fraction(r, p)
    h_s = p.stratiform_top_km + p.top_texture_km * h_noise + p.depth_km_per_decade * np.log10(r)
    h = h_s + (p.tropopause_km + p.overshoot_km * c**2 - h_s) * c
    shallow = _shallow(drive, warm, p)
    h = np.where(shallow, _warm_top(h_noise, p), h)
    h = np.where(drive >= 0.1, np.maximum(h, 0.5), 0.0)
    size = max(int(round(p.shield_km / res_km)), 1)
    yy, xx = np.mgrid[-size : size + 1, -size : size + 1]
    disk = yy**2 + xx**2 <= size**2  # round shields, not squares

    def shield(tops: np.ndarray) -> np.ndarray:
        return ndimage.gaussian_filter(ndimage.grey_dilation(tops, footprint=disk), size / 2) - SHIELD_DROP_KM

    h = np.maximum(h, shield(h))
    convective_shield = shield(np.where(c > 0, h, 0.0))  # convective cells only
    frac = ndimage.gaussian_filter(
        (drive >= 0.1).astype(np.float64), p.system_shield_scale_km / res_km, mode="constant"
    )
    thinning = SYSTEM_SHIELD_THINNING_KM * (1.0 - np.clip(frac / 0.5, 0.0, 1.0))  # lower away from the system
    h_sys = p.stratiform_top_km - p.system_shield_drop_km - thinning + p.top_texture_km * h_noise
    h = np.maximum(h, np.where(frac > p.system_shield_fraction, np.maximum(h_sys, 0.5), 0.0))
    # no deep shield over shallow rain (a region of shallow rain is a shallow-cloud regime), except a
    # convective cell's over its own light-rain fringe (3.3; with warm tops there, a growing cell's mean
    # top warmed with the warm-rain area: 2.8 K of cooling over 30 min, test_calibration)
    return np.where(shallow, np.maximum(_warm_top(h_noise, p), convective_shield), h)


def _convective_fraction(r: np.ndarray, p: SimulatorParams) -> np.ndarray:
    """``c = clip(log(R / R_c) / log 5, 0, 1)`` of :func:`rain_cloud_top`, R >= 0.1 mm/h."""
    return np.clip(np.log(r / p.convective_threshold_mmh) / np.log(5.0), 0, 1)


def _shallow(drive: np.ndarray, warm: np.ndarray, p: SimulatorParams) -> np.ndarray:
    """Light rain (0.1 to ``warm_rain_max_mmh``) inside the warm-rain regions that is not
    convective (c = 0): it falls from low, warm cloud (:func:`rain_cloud_top`).

    Shallow warm cloud drizzles or showers lightly: over mid-latitude land most rain, and
    nearly all of the heavier rain, falls from ice-phase cloud (Mülmenstädt et al. 2015,
    GRL 42, from A-Train retrievals). (Up to version 3.0 all rain below the
    convective threshold, 5-7 mm/h, could fall from 2-3 km tops: a quarter of the test day's
    rain >= 1 mm/h was invisible, and a learner under-forecast it, bias 0.36, issue 10.)
    """
    r = np.maximum(drive, 0.1)
    return warm & (drive >= 0.1) & (drive < p.warm_rain_max_mmh) & (_convective_fraction(r, p) == 0)


def _warm_top(h_noise: np.ndarray, p: SimulatorParams) -> np.ndarray:
    """Top height (km) of shallow (warm) rain: ``warm_top_km`` with a little texture."""
    return p.warm_top_km + 0.3 * h_noise
