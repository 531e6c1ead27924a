"""The infrared forward operator: rain-rate sequence -> SEVIRI brightness temperatures.

The simulated infrared is deliberately *ambiguous* about rain, as the real one is
(DESIGN.md, "Measured lessons"):

1. **Cloud tops from rain** (:func:`~qpeflow.data.simulator.rain_tops.rain_cloud_top`): stratiform rain has its top where
   the profile reaches ``stratiform_top_temperature_k`` (242-243 K at 1 mm/h; ice-phase
   nimbostratus tops, Houze 2014) and it rises ``depth_km_per_decade`` (about 17 K colder
   per decade of rain rate) with random texture; convective rain climbs towards the
   tropopause and overshoots it with intensity; some light rain falls from low
   warm clouds (warm rain, below ``warm_rain_max_mmh``) with no deep shield over it. A cloud shield extends 10-16 km
   beyond the rain edge, and a **system shield** surrounds large systems, wider the larger
   the system.
   **Cloud systems that rain nothing** (:func:`~qpeflow.data.simulator.rain_tops.rain_heights`): displaced copies of the
   event's own rain systems with the same tops, a little lower, so that cold cloud without
   rain beneath scales with the event's rain and looks like it.
2. **Time**: tops start rising ``lead_minutes`` (17-23) before the rain and keep
   cooling until it arrives (:func:`~qpeflow.data.simulator.rain_tops.lead_max`; Roberts & Rutledge 2003); convective rain
   feeds an **anvil** with memory that is carried by the upper wind, spreads and
   persists 30-150 min after the rain decays (:func:`anvil_step`).
3. **Non-raining cloud**: independent advected, evolving cirrus (tops 0.5-1.5 km below the
   tropopause), mid-level (tops at 0.85-1.0 of the stratiform rain top) and low cloud fields (:mod:`qpeflow.data.simulator.cloud_fields`).
4. **Radiation**: lapse rate to a tropopause temperature, semi-transparent ice,
   water vapour / CO2 / ozone absorption per channel (:mod:`qpeflow.data.simulator.channels`);
   surface skin temperature with land/sea (the real coast, :mod:`qpeflow.data.simulator.land_sea`,
   on a georeferenced grid) and a diurnal cycle.
5. **The sensor**: parallax shift of each top by ``h * tan(satellite zenith)`` away
   from the sub-satellite point (about 1.5 h northward over Europe; Vicente et al.
   2002), a Gaussian point-spread function of 5-6 km FWHM (SEVIRI's effective
   footprint over Europe), radiometric noise.

Parameters are drawn per infrared draw of an event (:class:`SimulatorParams`, ranges and
sources in :data:`qpeflow.data.simulator.params.PARAM_RANGES`); simulate over the whole
event sequence, then cut model windows, so that leads and lags exist. Version 3.3 was
calibrated with ``benchmarks/informativeness.py`` (a converged reference learner) against
the real-data anchors of issue 10 (NOTES.md, "The benchmark"), keeping the IR_108
marginals of the real Satip scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from qpeflow.config import DEFAULT_CHANNELS
from qpeflow.data.simulator.channels import CHANNELS, Scene, brightness_temperature, channel_radiance
from qpeflow.data.simulator.cloud_fields import (
    CLOUD_OUTER_KM,
    EvolvingNoise,
    cos_solar_zenith,
    powerlaw_noise,
    surface_temperature,
    threshold_cover,
)
from qpeflow.data.simulator.land_sea import land_fraction
from qpeflow.data.simulator.params import PARAM_RANGES, SIMULATOR_VERSION, SimulatorParams
from qpeflow.data.simulator.rain_tops import lead_max, rain_heights, smooth_rain
from qpeflow.errors import QpeflowError
from qpeflow.io.grid import Grid

__all__ = ["DEFAULT_CHANNELS", "PARAM_RANGES", "SIMULATOR_VERSION", "SimulatorParams", "simulate_ir"]

_EARTH_KM, _GEO_KM = 6378.0, 35786.0


@dataclass(frozen=True)
class Geometry:
    """Per-pixel geometry of a grid, arrays (H, W).

    Attributes:
        lon, lat: degrees.
        res_km: pixel size.
        row_per_km, col_per_km: parallax displacement (pixels) per km of cloud height
            (already including ``parallax_scale``): a top at height h seen at pixel
            (r, c) lies above the ground pixel (r + h row_per_km, c - h col_per_km).
    """

    lon: np.ndarray
    lat: np.ndarray
    res_km: float
    row_per_km: np.ndarray
    col_per_km: np.ndarray


def geometry(grid: Grid, parallax_scale: float = 1.0) -> Geometry:
    """Geometry of ``grid`` for a geostationary view (Meteosat at 0 deg E, or Himawari at
    140.7 deg E for grids east of 75 deg E).

    Satellite zenith angle from ``tan(theta) = sin(g) / (cos(g) - R/(R+H))`` with ``g``
    the great-circle angle to the sub-satellite point; the displacement points away
    from that point (Vicente et al. 2002). Grid north is taken as true north.
    """
    lon, lat = grid.lonlat()
    sub = 140.7 if np.nanmean(lon) > 75 else 0.0
    phi, dlam = np.deg2rad(lat), np.deg2rad(lon - sub)
    cos_g = np.cos(phi) * np.cos(dlam)
    sin_g = np.sqrt(np.maximum(1 - cos_g**2, 0.0))
    tan_theta = sin_g / np.maximum(cos_g - _EARTH_KM / (_EARTH_KM + _GEO_KM), 0.05)
    azimuth_to_sub = np.arctan2(np.sin(-dlam), -np.sin(phi) * np.cos(dlam))
    away = azimuth_to_sub + np.pi
    res_km = float(grid.dx) / 1000.0
    scale = parallax_scale * tan_theta / res_km
    return Geometry(lon, lat, res_km, np.nan_to_num(scale * np.cos(away)), np.nan_to_num(scale * np.sin(away)))


def anvil_step(
    anvil: np.ndarray | None, drive: np.ndarray, dt_min: float, p: SimulatorParams, res_km: float
) -> np.ndarray:
    """Advance the anvil optical depth one step, (H, W) >= 0.

    ``a <- d * spread(advect(a)) + (dt / 30 min) * gain * s`` with ``d = exp(-dt / lifetime)``
    and the convective source ``s = clip(R / R_c - 1, 0, 3)``: anvils build over
    convection within about half an hour, are carried downwind by the upper wind,
    spread (Gaussian, variance growing linearly in time) and decay slowly once the
    source is gone (anvil life cycles: Houze 2014, ch. 9).
    """
    src = p.anvil_gain * np.clip(drive / p.convective_threshold_mmh - 1.0, 0, 3)
    if anvil is None:
        return src
    step_px = p.upper_wind_ms * dt_min * 60 / 1000 / res_km
    ang = np.deg2rad(p.upper_wind_direction_deg)
    moved = ndimage.shift(anvil, (-step_px * np.sin(ang), step_px * np.cos(ang)), order=1, cval=0.0)
    sigma = p.anvil_spread_km_per_h * np.sqrt(dt_min / 60.0) / res_km
    decay = np.exp(-dt_min / p.anvil_lifetime_minutes)
    return decay * ndimage.gaussian_filter(moved, sigma) + (dt_min / 30.0) * src


class CloudLayers:
    """Independent evolving noise fields: cirrus, mid cloud, low cloud, mid-cloud height
    noise, upper-level humidity. Each advected by its level's wind."""

    NAMES = ("cirrus", "mid", "low", "height", "humidity")
    WIND_FACTOR = (1.0, 0.6, 0.3, 0.5, 1.0)  # x upper wind

    def __init__(
        self, shape: tuple[int, int], res_km: float, dt_min: float, p: SimulatorParams, rng: np.random.Generator
    ) -> None:
        self.shape = shape
        self.pad = (int(0.25 * shape[0]) + 2, int(0.25 * shape[1]) + 2)
        padded = (shape[0] + 2 * self.pad[0], shape[1] + 2 * self.pad[1])
        step_px = p.upper_wind_ms * dt_min * 60 / 1000 / res_km
        ang = np.deg2rad(p.upper_wind_direction_deg)
        self.noise = {
            n: EvolvingNoise(
                padded,
                3.0,
                res_km,
                (f * step_px * np.cos(ang), f * step_px * np.sin(ang)),
                180.0 / dt_min,
                rng,
                outer_km=CLOUD_OUTER_KM,
            )
            for n, f in zip(self.NAMES, self.WIND_FACTOR)
        }
        self.started = False

    def step(self) -> dict[str, np.ndarray]:
        """The fields of the next frame, each (H, W), unit-variance Gaussian."""
        out = {}
        for name, noise in self.noise.items():
            f = noise.step() if self.started else noise.field()
            out[name] = f[self.pad[0] : self.pad[0] + self.shape[0], self.pad[1] : self.pad[1] + self.shape[1]]
        self.started = True
        return out


def _parallax(fields: list[np.ndarray], h_vis: np.ndarray, geo: Geometry) -> list[np.ndarray]:
    """Resample each field so that a top at height h appears displaced away from the
    sub-satellite point (see :class:`Geometry`); the heights of ``h_vis`` (smoothed)."""
    h = ndimage.gaussian_filter(h_vis, 1.0)
    rows, cols = np.indices(h.shape, dtype=np.float64)
    coords = np.stack([rows + h * geo.row_per_km, cols - h * geo.col_per_km])
    return [ndimage.map_coordinates(f, coords, order=1, mode="nearest") for f in fields]


def build_scene(
    h_rain: np.ndarray,
    anvil: np.ndarray,
    layers: dict[str, np.ndarray],
    land: np.ndarray,
    geo: Geometry,
    time: np.datetime64,
    p: SimulatorParams,
) -> Scene:
    """Assemble one frame's two-layer scene (see :class:`qpeflow.data.simulator.channels.Scene`).

    Args:
        h_rain: (H, W) raining-cloud top height (km), from :func:`~qpeflow.data.simulator.rain_tops.rain_heights`.
        anvil: (H, W) anvil optical depth, from :func:`anvil_step`.
    """
    mid = threshold_cover(layers["mid"], p.midcloud_cover)
    low = threshold_cover(layers["low"], p.lowcloud_cover)
    # thicker cloud has higher tops: texture instead of flat decks
    h_mid = np.where(mid > 0, p.midcloud_top_km + 0.5 * layers["height"] + np.minimum(mid, 2.0), 0.0)
    h_low = np.where(low > 0, p.lowcloud_top_km + 0.5 * np.minimum(low, 2.0), 0.0)
    h_o = np.maximum.reduce([h_rain, h_mid, h_low])
    tau_ci = p.cirrus_optical_depth * threshold_cover(layers["cirrus"], p.cirrus_cover)
    h_an = p.tropopause_km - 0.5
    tau = tau_ci + anvil
    h_ci = p.tropopause_km - p.cirrus_below_tropopause_km  # tied to the tropopause: the same look in every draw
    h_hi = (tau_ci * h_ci + anvil * h_an) / np.maximum(tau, 1e-6)
    e_hi = np.where(h_hi > h_o + 0.5, 1.0 - np.exp(-tau), 0.0)
    h_vis = np.maximum(h_o, np.where(e_hi > 0.3, h_hi, 0.0))
    h_o, e_hi, h_hi = _parallax([h_o, e_hi, h_hi], h_vis, geo)
    t_skin = surface_temperature(p.surface_temperature_k, land, geo.lon, time, p.diurnal_amplitude_k)
    t_o = np.where(h_o > 0.05, p.cloud_top_temperature(h_o), t_skin)
    # warmer air holds more water vapour (Clausius-Clapeyron, ~7 %/K, damped: column not saturated)
    moist = p.moisture * float(np.clip(np.exp((p.surface_temperature_k - 285.0) / 25.0), 0.6, 1.5))
    return Scene(
        t_skin=t_skin,
        h_o=h_o,
        t_o=t_o,
        liquid=((t_o > 253) & (h_o > 0.05)).astype(float),
        e_hi=e_hi,
        h_hi=h_hi,
        t_hi=p.air_temperature(h_hi),
        wv062_k=p.wv062_k + 3.0 * layers["humidity"],
        wv073_k=p.wv073_k + 4.0 * layers["humidity"],
        moisture=moist,
        cos_sza=cos_solar_zenith(geo.lon, geo.lat, time),
        profile=p.air_temperature,
        t_trop=p.tropopause_temperature_k,
        ice_beta_120=p.ice_beta_120,
        t_air0=p.surface_temperature_k,
        lapse_rate=p.lapse_rate_k_per_km,
    )


def observe(
    scene: Scene, channels: tuple[str, ...], p: SimulatorParams, res_km: float, rng: np.random.Generator
) -> np.ndarray:
    """Channel radiances -> PSF blur (in radiance) -> brightness temperature + noise.

    Returns:
        (C, H, W) float32 K.
    """
    sigma = p.psf_fwhm_km / 2.3548 / res_km
    out = np.empty((len(channels),) + scene.h_o.shape, np.float32)
    for i, name in enumerate(channels):
        rad = ndimage.gaussian_filter(channel_radiance(name, scene), sigma)
        bt = brightness_temperature(CHANNELS[name].wavelength_um, rad)
        out[i] = bt + CHANNELS[name].nedt_k * p.noise_scale * rng.standard_normal(bt.shape)
    return out


def _cadence_minutes(times: np.ndarray) -> float:
    if len(times) < 2:
        return 15.0
    dt = np.diff(times.astype("datetime64[s]").astype(np.int64)) / 60.0
    if np.any(dt <= 0):
        raise QpeflowError("simulate_ir: times must increase strictly")
    return float(np.median(dt))


def simulate_ir(
    rain_sequence: np.ndarray,
    grid: Grid,
    times: np.ndarray,
    params: SimulatorParams,
    rng: np.random.Generator,
    channels: tuple[str, ...] = DEFAULT_CHANNELS,
) -> np.ndarray:
    """Simulated SEVIRI brightness temperatures for a rain sequence.

    Args:
        rain_sequence: (T, H, W) rain rate in mm/h on ``grid``; NaN (no radar) counts as dry.
            Give the whole event (longer than a model window) so leads/lags exist.
        grid: the grid of the rain (used for pixel size, parallax, local solar time and land/sea).
        times: (T,) datetime64 valid times (UTC), strictly increasing.
        params: forward-operator parameters (draw per event with ``SimulatorParams.sample``).
        rng: all randomness (cloud fields, noise).
        channels: names from :data:`qpeflow.data.simulator.channels.CHANNELS`.

    Returns:
        (T, C, H, W) float32 brightness temperature in K.
    """
    rain = np.asarray(rain_sequence)
    if rain.ndim != 3 or tuple(rain.shape[1:]) != tuple(grid.shape) or len(times) != rain.shape[0]:
        raise QpeflowError(f"simulate_ir: rain {rain.shape} does not match grid {grid.shape} and {len(times)} times")
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        raise QpeflowError(f"simulate_ir: unknown channel(s) {unknown}; known: {list(CHANNELS)}")
    times = np.asarray(times).astype("datetime64[s]")
    dt = _cadence_minutes(times)
    geo = geometry(grid, params.parallax_scale)
    smooth = smooth_rain(rain)
    h_rain = rain_heights(smooth, dt, params, geo.res_km, rng)
    drive = lead_max(smooth, dt, params.lead_minutes)  # anvils build as the tops rise
    layers = CloudLayers(grid.shape, geo.res_km, dt, params, rng)
    land_noise = powerlaw_noise(grid.shape, 3.5, rng)  # drawn either way: the same random stream after it
    land = land_fraction(grid)  # the real coast where the grid is georeferenced
    if land is None:  # else a random pattern with params.land_fraction of land
        land = np.clip(threshold_cover(land_noise, params.land_fraction) * 3.0, 0.0, 1.0)
    out = np.empty((rain.shape[0], len(channels)) + tuple(grid.shape), np.float32)
    anvil = None
    for t in range(rain.shape[0]):
        anvil = anvil_step(anvil, drive[t], dt, params, geo.res_km)
        scene = build_scene(h_rain[t], anvil, layers.step(), land, geo, times[t], params)
        out[t] = observe(scene, tuple(channels), params, geo.res_km, rng)
    return out
