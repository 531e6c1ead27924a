"""Radiative model of the SEVIRI infrared channels for a simple two-layer scene.

A pixel is an opaque emitter (the surface, or an opaque cloud top at height ``h_o``)
under an optional semi-transparent ice layer (cirrus, anvil) of 10.8-um emissivity
``e`` at height ``h_hi``. For each channel (monochromatic at its central wavelength,
Planck function ``B``) the top-of-atmosphere radiance is the two-column mixture

    L = e_c * A_c(T_hi, h_hi) + (1 - e_c) * A_c(T_o, h_o)
    A_c(T, h) = tau_c(h) B(T) + (1 - tau_c(h)) B(T_atm,c(h))

followed by an optional constant stratospheric layer (ozone at 9.7 um; stratospheric
water vapour at 6.2 um, which makes WV_062 warmer than IR_108 over overshooting tops,
Schmetz et al. 1997). ``tau_c(h) = exp(-k_c m exp(-h / H))`` is the transmittance of
the absorber above ``h`` (water vapour, scale height H = 2 km; CO2 well mixed, H = 8 km)
and ``m`` a moisture factor. The emission temperature of the absorbing air is either
the temperature a little above the emitter (window and CO2 channels) or the fixed
temperature of the upper/middle-tropospheric moist layer (WV_062/WV_073).

Ice emissivity differs between channels through ``e_c = 1 - (1 - e)^beta_c``
(absorption optical depth ratio; Inoue 1985, Parol et al. 1991): beta > 1 at 12.0 um
gives the 2-8 K split window (IR_108 - IR_120) of thin cirrus and ~0 over opaque
cloud; beta < 1 at 8.7 um gives the positive IR_087 - IR_108 of thin ice (Strabala
et al. 1994). IR_039 adds reflected sunlight (water clouds reflect far more than ice)
and a reduced water-cloud emissivity (the night-time fog signal, Ellrod 1995).

Channel noise: NEdT of half the SEVIRI specification (Schmetz et al. 2002, Table 3),
the in-flight figures being about that good.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

C1 = 1.191042e8  # 2 h c^2, W um^4 m^-2 sr^-1
C2 = 1.4387770e4  # h c / k, um K
#: Solar spectral irradiance at 1 AU: pi * B(lambda, 5778 K) * (R_sun / AU)^2 (W m^-2 um^-1)
SUN_K, SUN_FACTOR = 5778.0, (6.957e8 / 1.496e11) ** 2


def planck(wavelength_um: float, temperature_k: np.ndarray) -> np.ndarray:
    """Spectral radiance B(lambda, T) in W m^-2 sr^-1 um^-1."""
    return C1 / wavelength_um**5 / np.expm1(C2 / (wavelength_um * np.asarray(temperature_k)))


def brightness_temperature(wavelength_um: float, radiance: np.ndarray) -> np.ndarray:
    """Inverse Planck function: brightness temperature in K."""
    return C2 / (wavelength_um * np.log1p(C1 / (wavelength_um**5 * np.maximum(radiance, 1e-12))))


@dataclass(frozen=True)
class ChannelModel:
    """Absorption and emission parameters of one channel (see module docstring).

    Attributes:
        wavelength_um: central wavelength.
        k: column absorption optical depth at moisture factor 1 (0: no absorber).
        scale_height_km: 2 (water vapour) or 8 (CO2).
        layer: "profile" (emission at T(h + dz_km)) or "wv062"/"wv073" (fixed layer temperature).
        dz_km: height of the emitting air above the emitter for "profile".
        ice_beta: emissivity exponent relative to 10.8 um for ice.
        strat_tau: transmittance of a constant stratospheric layer (1: none).
        strat_dt_k: its temperature relative to the tropopause temperature.
        nedt_k: radiometric noise (K).
    """

    wavelength_um: float
    k: float
    scale_height_km: float
    layer: str
    dz_km: float
    ice_beta: float
    strat_tau: float
    strat_dt_k: float
    nedt_k: float


CHANNELS: dict[str, ChannelModel] = {
    "IR_039": ChannelModel(3.92, 0.12, 2.0, "profile", 1.5, 0.75, 1.0, 0.0, 0.17),
    "WV_062": ChannelModel(6.25, 30.0, 2.0, "wv062", 0.0, 1.0, 0.95, 5.0, 0.37),
    "WV_073": ChannelModel(7.35, 6.0, 2.0, "wv073", 0.0, 1.0, 0.98, 5.0, 0.37),
    "IR_087": ChannelModel(8.70, 0.6, 2.0, "profile", 1.5, 0.9, 1.0, 0.0, 0.14),
    "IR_097": ChannelModel(9.66, 0.15, 2.0, "profile", 1.5, 1.0, 0.5, 12.0, 0.37),
    "IR_108": ChannelModel(10.80, 0.3, 2.0, "profile", 1.5, 1.0, 1.0, 0.0, 0.12),
    "IR_120": ChannelModel(12.00, 0.75, 2.0, "profile", 1.5, 1.15, 1.0, 0.0, 0.18),
    "IR_134": ChannelModel(13.40, 2.5, 8.0, "profile", 4.0, 1.0, 1.0, 0.0, 0.9),
}
ALL_CHANNELS = tuple(CHANNELS)


@dataclass(frozen=True)
class Scene:
    """One frame of the two-layer scene, every array (H, W).

    Attributes:
        t_skin: surface skin temperature (K).
        h_o, t_o: opaque emitter height (km, 0 = surface) and temperature (K).
        liquid: 1 where the opaque emitter is a water cloud (T > 253 K and h_o > 0).
        e_hi, h_hi, t_hi: 10.8-um emissivity, height (km), temperature (K) of the ice layer.
        wv062_k, wv073_k: emission temperatures of the moist layers (K).
        moisture: absorber amount factor (1 = mid-latitude).
        cos_sza: cosine of the solar zenith angle (0 at night).
        profile: callable height (km) -> air temperature (K), shape-preserving.
        t_trop: tropopause temperature (K).
        ice_beta_120: the split-window emissivity exponent of this event.
        t_air0, lapse_rate: surface air temperature (K) and lapse rate (K/km) of the profile.
    """

    t_skin: np.ndarray
    h_o: np.ndarray
    t_o: np.ndarray
    liquid: np.ndarray
    e_hi: np.ndarray
    h_hi: np.ndarray
    t_hi: np.ndarray
    wv062_k: np.ndarray
    wv073_k: np.ndarray
    moisture: float
    cos_sza: np.ndarray
    profile: object
    t_trop: float
    ice_beta_120: float
    t_air0: float = 285.0
    lapse_rate: float = 6.5


def _column(ch: ChannelModel, s: Scene, t: np.ndarray, h: np.ndarray) -> np.ndarray:
    """A_c(T, h): emitter radiance attenuated by, plus emission of, the absorber above.

    Water-vapour channels see an emitter only once it rises through their moist layer:
    ``tau = 1 / (1 + exp(-(h - h_w) / 0.8 km))`` with ``h_w`` the height where the air is
    as cold as the layer's emission temperature, so cloud below the layer leaves the
    clear-sky value (a moist upper troposphere hides it) and tops above it are seen.
    """
    if ch.layer == "profile":
        tau = np.exp(-ch.k * s.moisture * np.exp(-h / ch.scale_height_km))
        t_atm = s.profile(h + ch.dz_km)  # type: ignore[operator]
    else:
        t_atm = s.wv062_k if ch.layer == "wv062" else s.wv073_k
        h_w = (s.t_air0 - t_atm) / s.lapse_rate
        tau = 1.0 / (1.0 + np.exp(-(h - h_w) / 0.8))
    return tau * planck(ch.wavelength_um, t) + (1 - tau) * planck(ch.wavelength_um, t_atm)


def channel_radiance(name: str, s: Scene) -> np.ndarray:
    """Top-of-atmosphere radiance (W m^-2 sr^-1 um^-1) of channel ``name``, (H, W)."""
    ch = CHANNELS[name]
    beta = s.ice_beta_120 if name == "IR_120" else ch.ice_beta
    e_c = 1.0 - (1.0 - s.e_hi) ** beta
    opaque_t = s.t_o
    if name == "IR_039":  # water clouds emit less (and reflect the cold sky) at 3.9 um
        e_w = np.where(s.liquid > 0.5, 0.85, 0.97)
        opaque_t = brightness_temperature(ch.wavelength_um, e_w * planck(ch.wavelength_um, s.t_o))
    lo = _column(ch, s, opaque_t, s.h_o)
    hi = _column(ch, s, s.t_hi, s.h_hi)
    rad = e_c * hi + (1 - e_c) * lo
    if ch.strat_tau < 1.0:
        rad = ch.strat_tau * rad + (1 - ch.strat_tau) * planck(ch.wavelength_um, s.t_trop + ch.strat_dt_k)
    if name == "IR_039":
        refl = e_c * 0.06 + (1 - e_c) * np.where(s.liquid > 0.5, 0.15, 0.03)
        sun = np.pi * planck(ch.wavelength_um, SUN_K) * SUN_FACTOR
        rad = rad + refl * s.cos_sza * sun / np.pi
    return rad
