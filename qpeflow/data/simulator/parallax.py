"""A simple parallax correction of geostationary infrared images (optional, off by default).

A cloud top at height h seen from a geostationary satellite appears displaced
*away* from the sub-satellite point by d = h tan(theta), theta the satellite
zenith angle at the pixel (about 7-10 km for a 10 km top over Europe). Here:

- h from IR_108 by a standard lapse rate: h = (T_ref - BT_108) / Gamma, with
  Gamma = 6.5 K/km and T_ref the 99th percentile of the scene's IR_108 (the
  warmest, clear-sky surface), clipped to [0, 15] km;
- tan(theta) = sin(g) / (cos(g) - R / (R + H)), g the great-circle angle between
  pixel and sub-satellite point, R = 6371 km, H = 35786 km;
- the corrected image at a pixel p takes the value the satellite shows at p
  displaced by d(p) away from the sub-satellite point (bilinear sampling; h is
  taken at p, one fixed-point step).

This neglects the wind drift during the scan, the Earth's oblateness and
multi-layer cloud; it moves cold (high) tops towards the satellite by the right
order of magnitude, which is its purpose. References: Vicente et al. (2002),
"An operational GOES-satellite-based parallax correction", and the lapse-rate
cloud-top height used in many SEVIRI products.
"""

from __future__ import annotations

import numpy as np

from qpeflow.io.grid import Grid

LAPSE_RATE_K_PER_KM = 6.5
EARTH_RADIUS_KM = 6371.0
GEO_ALTITUDE_KM = 35786.0
MAX_HEIGHT_KM = 15.0


def cloud_top_height_km(bt108: np.ndarray) -> np.ndarray:
    """h = (T_ref - BT) / 6.5 K/km clipped to [0, 15] km; T_ref = 99th percentile of BT (K). Shape of bt108."""
    finite = bt108[np.isfinite(bt108)]
    t_ref = float(np.percentile(finite, 99)) if finite.size else 288.0
    return np.clip((t_ref - bt108) / LAPSE_RATE_K_PER_KM, 0.0, MAX_HEIGHT_KM)


def _tan_zenith(lon: np.ndarray, lat: np.ndarray, sub_lon: float) -> np.ndarray:
    lam, phi = np.radians(lon - sub_lon), np.radians(lat)
    cos_g = np.cos(phi) * np.cos(lam)
    sin_g = np.sqrt(np.clip(1.0 - cos_g**2, 0.0, 1.0))
    denom = cos_g - EARTH_RADIUS_KM / (EARTH_RADIUS_KM + GEO_ALTITUDE_KM)
    return np.where(denom > 1e-3, sin_g / np.maximum(denom, 1e-3), np.nan)


def displaced_positions(grid: Grid, height_km: np.ndarray, sub_lon: float) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) fractional pixel positions where a top of ``height_km`` above each pixel appears, (ny, nx) each."""
    import pyproj

    lon, lat = grid.lonlat()
    geod = pyproj.Geod(ellps="WGS84")
    fwd_az, _, _ = geod.inv(lon, lat, np.full_like(lon, sub_lon), np.zeros_like(lat))
    dist_m = np.nan_to_num(height_km * _tan_zenith(lon, lat, sub_lon)) * 1000.0
    lon2, lat2, _ = geod.fwd(lon, lat, fwd_az + 180.0, dist_m)
    tr = pyproj.Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True)
    x, y = tr.transform(lon2, lat2, errcheck=False)
    return (np.asarray(y) - grid.y0) / grid.dy - 0.5, (np.asarray(x) - grid.x0) / grid.dx - 0.5


def correct_parallax(images: np.ndarray, bt108: np.ndarray, grid: Grid, sub_lon: float) -> np.ndarray:
    """Parallax-correct images (..., ny, nx) on ``grid`` with heights from ``bt108`` (ny, nx) K.

    Returns an array of the same shape; pixels sampled from outside the image are NaN.
    """
    from scipy.ndimage import map_coordinates

    rows, cols = displaced_positions(grid, cloud_top_height_km(bt108), sub_lon)
    flat = images.reshape(-1, *grid.shape)
    out = np.empty_like(flat, dtype=np.float32)
    for k, img in enumerate(flat):
        out[k] = map_coordinates(img.astype(np.float64), [rows, cols], order=1, mode="constant", cval=np.nan)
    return out.reshape(images.shape)


def sub_satellite_longitude(crs: str) -> float:
    """lon_0 of a geostationary CRS (0.0 if absent)."""
    import pyproj

    return float(pyproj.CRS.from_user_input(crs).to_dict().get("lon_0", 0.0))
