"""Random fields shared by the rain generator and the infrared simulator.

* :func:`powerlaw_noise` — a Gaussian random field with an isotropic power
  spectrum ``P(k) ~ k^-beta`` (rain and cloud fields are close to power laws with
  beta about 2.5-3.5 over 10-500 km; Seed 2003, Germann et al. 2006).
* :class:`EvolvingNoise` — the same field advected by a uniform wind and evolving
  with a scale-dependent autoregressive process in Fourier space: large scales live
  longer than small ones (Germann et al. 2006, lifetime roughly proportional to the
  scale; the "S-PROG"/STEPS cascade idea of Seed 2003 in one spectral AR(1)).
* :func:`surface_temperature` — skin temperature with a land/sea pattern and a
  diurnal cycle (land amplitude several K, sea about a tenth).
* :func:`cos_solar_zenith` — for the solar part of IR_039.

Fields are periodic in the padded domain; callers crop a margin so the wrap-around
is not seen at once.
"""

from __future__ import annotations

import numpy as np

#: Outer scales (km) of the random field of rain-top texture and of the warm-rain regions
#: and non-raining cloud layers (:func:`_amplitude`) used by the infrared simulator.
#: Without one, a k^-3 field puts its variance into one or two domain-sized blobs, so a
#: draw's cloud cover over the rain was a lottery (CSI on one test event moved by 0.28
#: between draws, issue 10); with them a scene holds tens of independent cloud systems.
TOP_OUTER_KM, CLOUD_OUTER_KM = 60.0, 100.0


def _wavenumber(shape: tuple[int, int]) -> np.ndarray:
    """Radial wavenumber (cycles per pixel) on the rfft2 half plane, shape (ny, nx//2+1)."""
    ky = np.fft.fftfreq(shape[0])[:, None]
    kx = np.fft.rfftfreq(shape[1])[None, :]
    return np.hypot(ky, kx)


def _amplitude(shape: tuple[int, int], beta: float, outer_px: float | None = None) -> np.ndarray:
    """Spectral amplitude ``k^(-beta/2)``, or ``(k^2 + k0^2)^(-beta/4)`` with an outer scale
    (``k0 = 1 / outer_px``: a von Karman spectrum, flat above the outer scale), mean removed;
    shape of the rfft2 output."""
    k = _wavenumber(shape)
    k[0, 0] = 1.0
    amp = k ** (-beta / 2.0) if outer_px is None else (k**2 + outer_px**-2.0) ** (-beta / 4.0)
    amp[0, 0] = 0.0
    return amp


def powerlaw_noise(shape: tuple[int, int], beta: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, unit-variance Gaussian field with power spectrum ~ k^-beta.

    Args:
        shape: (ny, nx) pixels.
        beta: spectral slope of the 2-D power spectrum (2.5-3.5 for rain/cloud).
        rng: random generator.

    Returns:
        (ny, nx) float64.
    """
    spec = np.fft.rfft2(rng.standard_normal(shape)) * _amplitude(shape, beta)
    field = np.fft.irfft2(spec, s=shape)
    return (field - field.mean()) / max(float(field.std()), 1e-12)


class EvolvingNoise:
    """A power-law Gaussian field advected and evolving in time (spectral AR(1)).

    Each Fourier mode follows ``F_t = phi(k) * shift(F_{t-1}) + sqrt(1 - phi^2) * A(k) W_t``
    with ``phi(k) = exp(-dt / tau(k))`` and ``tau(l) = tau_ref * (l / l_ref)`` for the
    scale ``l = 1 / k`` (lifetime proportional to scale, Germann et al. 2006) and the
    advection an exact phase shift. The marginal stays unit-variance Gaussian.

    Args:
        shape: (ny, nx) of the (padded, periodic) domain.
        beta: spectral slope.
        resolution_km: pixel size.
        velocity_px: (u east, v north) displacement in pixels per step.
        tau_ref_steps: lifetime (steps) of the scale ``l_ref_km``.
        rng: random generator (kept and used at every step).
        l_ref_km: reference scale for ``tau_ref_steps``.
        outer_km: outer scale of the spectrum (:func:`_amplitude`); None = a pure power law,
            whose variance sits in the domain-size scales (one or two blobs per scene).
    """

    def __init__(
        self,
        shape: tuple[int, int],
        beta: float,
        resolution_km: float,
        velocity_px: tuple[float, float],
        tau_ref_steps: float,
        rng: np.random.Generator,
        l_ref_km: float = 64.0,
        outer_km: float | None = None,
    ) -> None:
        self.shape = shape
        self.rng = rng
        self.amp = _amplitude(shape, beta, None if outer_km is None else outer_km / resolution_km)
        k = _wavenumber(shape)
        scale_km = resolution_km / np.maximum(k, 1.0 / max(shape))
        tau = np.maximum(tau_ref_steps * scale_km / l_ref_km, 0.3)
        self.phi = np.exp(-1.0 / tau)
        ky = np.fft.fftfreq(shape[0])[:, None]
        kx = np.fft.rfftfreq(shape[1])[None, :]
        # rows run south, so a northward displacement v is a shift of -v rows
        self.phase = np.exp(-2j * np.pi * (kx * velocity_px[0] - ky * velocity_px[1]))
        self.norm = float(np.sqrt(np.sum(self._weights() * self.amp**2)) / np.sqrt(np.prod(shape)))
        self.spec = self._innovation()

    def _weights(self) -> np.ndarray:
        w = np.full(self.amp.shape, 2.0)
        w[:, 0] = 1.0
        if self.shape[1] % 2 == 0:
            w[:, -1] = 1.0
        return w

    def _innovation(self) -> np.ndarray:
        return np.fft.rfft2(self.rng.standard_normal(self.shape)) * self.amp

    def field(self) -> np.ndarray:
        """The current field, (ny, nx) float64, approximately zero-mean unit-variance."""
        return np.fft.irfft2(self.spec, s=self.shape) / max(self.norm, 1e-12)

    def step(self) -> np.ndarray:
        """Advance one step and return the new field."""
        self.spec = self.phi * self.spec * self.phase + np.sqrt(1 - self.phi**2) * self._innovation()
        return self.field()


def threshold_cover(field: np.ndarray, cover: float) -> np.ndarray:
    """Excess of a unit-variance Gaussian field over the level exceeded on ``cover`` of an
    ideal Gaussian (not of this one realisation, so coverage itself varies in time).

    Returns:
        Same shape, >= 0; zero where the field is below the level.
    """
    from scipy.special import ndtri

    level = float(ndtri(1.0 - np.clip(cover, 1e-4, 1 - 1e-4)))
    return np.maximum(field - level, 0.0)


def surface_temperature(
    base_k: float,
    land: np.ndarray,
    lon: np.ndarray,
    time: np.datetime64,
    diurnal_amplitude_k: float,
    land_offset_k: float = 1.0,
) -> np.ndarray:
    """Skin temperature in K with a diurnal cycle, shape of ``land``.

    ``T = base + land * (offset + A cos(2 pi (LST - 14 h) / 24 h)) + (1 - land) * A/10 cos(...)``
    with LST the local solar time from longitude; the land maximum about 14 LST and a
    sea amplitude a tenth of the land one follow the observed climatology of skin
    temperature (e.g. Göttsche & Olesen 2001 for the SEVIRI diurnal land-surface
    temperature model).

    Args:
        base_k: domain-mean daily-mean temperature (K).
        land: land fraction per pixel in [0, 1].
        lon: longitude (degrees) per pixel or scalar.
        time: UTC time.
        diurnal_amplitude_k: half-range over land (K).
        land_offset_k: daily-mean land-minus-sea difference (K).
    """
    hours = (time.astype("datetime64[s]").astype(np.int64) % 86400) / 3600.0
    lst = hours + np.nan_to_num(lon, nan=0.0) / 15.0
    cycle = np.cos(2 * np.pi * (lst - 14.0) / 24.0)
    amp = diurnal_amplitude_k * (land + 0.1 * (1.0 - land))
    return base_k + land * land_offset_k + amp * cycle


def cos_solar_zenith(lon: np.ndarray, lat: np.ndarray, time: np.datetime64) -> np.ndarray:
    """Cosine of the solar zenith angle (clipped at 0 at night), shape of ``lon``.

    Declination and hour angle from the simple formulae of Cooper (1969) / Spencer (1971).
    """
    t = time.astype("datetime64[s]")
    doy = (t - t.astype("datetime64[Y]")).astype("timedelta64[s]").astype(np.int64) / 86400.0
    decl = np.deg2rad(23.44) * np.sin(2 * np.pi * (284 + doy) / 365.0)
    hours = (t.astype(np.int64) % 86400) / 3600.0
    hour_angle = np.deg2rad(15.0 * (hours + np.nan_to_num(lon) / 15.0 - 12.0))
    phi = np.deg2rad(np.nan_to_num(lat))
    cz = np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.cos(hour_angle)
    return np.clip(cz, 0.0, 1.0)
