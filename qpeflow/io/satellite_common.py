"""What every SEVIRI reader shares: channel names, orientation, unit checks.

SEVIRI files store the image as scanned: south first and east first (satpy's
area extents then run "backwards"). :func:`orient_north_up` flips an image by
its coordinate vectors so that row 0 is north and column 0 is west, which is
what :class:`qpeflow.io.field.Field` promises.
"""

from __future__ import annotations

from os import PathLike

import numpy as np

from qpeflow.errors import input_error
from qpeflow.io.field import BRIGHTNESS_TEMPERATURE, Field
from qpeflow.io.grid import Grid

#: The 11 low-resolution SEVIRI channels, in the (alphabetical) order used by the
#: Satip zarr stores and the Weather4cast ``REFL-BT`` arrays.
SEVIRI_CHANNELS: tuple[str, ...] = (
    "IR_016",
    "IR_039",
    "IR_087",
    "IR_097",
    "IR_108",
    "IR_120",
    "IR_134",
    "VIS006",
    "VIS008",
    "WV_062",
    "WV_073",
)
#: Channels whose calibrated value is a reflectance in % (the others are BT in K).
REFLECTANCE_CHANNELS: frozenset[str] = frozenset({"IR_016", "VIS006", "VIS008", "HRV"})
BT_RANGE_K = (150.0, 350.0)


def is_thermal(channel: str) -> bool:
    """True for IR/WV channels calibrated to brightness temperature (K)."""
    return channel.upper() not in REFLECTANCE_CHANNELS


def orient_north_up(data: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flip ``data`` (..., ny, nx) so that x increases along columns and y decreases along rows.

    Returns the flipped data and the matching pixel-centre vectors ``x`` (nx,), ``y`` (ny,).
    """
    if x.size > 1 and x[0] > x[-1]:
        data, x = data[..., ::-1], x[::-1]
    if y.size > 1 and y[0] < y[-1]:
        data, y = data[..., ::-1, :], y[::-1]
    return data, x, y


def grid_from_centres(crs: str, x: np.ndarray, y: np.ndarray) -> Grid:
    """Grid from regularly spaced pixel-centre vectors (x increasing, y decreasing), CRS units."""
    if x.size < 2 or y.size < 2:
        raise ValueError("need at least 2 x 2 pixels to infer the pixel size")
    dx = float(x[-1] - x[0]) / (x.size - 1)
    dy = float(y[-1] - y[0]) / (y.size - 1)
    return Grid(crs, float(x[0]) - dx / 2, dx, float(y[0]) - dy / 2, dy, (y.size, x.size))


def check_brightness_temperature(data: np.ndarray, channel: str, path: str | PathLike[str]) -> None:
    """Raise if IR values are not plausible brightness temperatures in K.

    A median below 100 means deg C (or counts scaled wrongly); robust extremes
    (0.1th / 99.9th percentiles) outside 150-350 K mean wrong units or calibration.
    """
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return
    median = float(np.median(finite))
    if median < 100.0:
        raise input_error(path, f"wrong units for {channel}: median {median:.1f} looks like deg C, expected K")
    lo, hi = (float(v) for v in np.percentile(finite, [0.1, 99.9]))
    if lo < BT_RANGE_K[0] or hi > BT_RANGE_K[1]:
        raise input_error(
            path,
            f"wrong units for {channel}: values {lo:.1f}..{hi:.1f} outside {BT_RANGE_K[0]:.0f}-{BT_RANGE_K[1]:.0f} K",
        )


def channel_field(
    data: np.ndarray, channel: str, time: np.datetime64, grid: Grid, path: str, attrs: dict[str, object]
) -> Field:
    """A SEVIRI Field: BT in K (checked) for thermal channels, reflectance in % otherwise."""
    data = np.ascontiguousarray(data, dtype=np.float32)
    if is_thermal(channel):
        check_brightness_temperature(data, channel, path)
        return Field(data, BRIGHTNESS_TEMPERATURE, "K", time, grid, path, channel, attrs)
    return Field(data, "reflectance", "%", time, grid, path, channel, attrs)


def missing_channel(path: str | PathLike[str], channel: str, available: list[str]) -> Exception:
    """The error for an asked channel the file does not hold."""
    return input_error(path, f"channel {channel!r} not in file (available: {', '.join(sorted(available))})")
