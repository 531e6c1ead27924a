"""The one in-memory type every reader returns: a 2-D field on a grid."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

import numpy as np

from qpeflow.io.grid import Grid

#: Canonical quantity names used across readers.
RAIN_RATE = "rain_rate"  # mm/h
BRIGHTNESS_TEMPERATURE = "brightness_temperature"  # K
REFLECTIVITY = "reflectivity"  # dBZ
ACCUMULATION = "accumulation"  # mm over `attrs["accumulation_minutes"]`


@dataclass(frozen=True)
class Field:
    """One 2-D geophysical field at one valid time.

    Attributes:
        data: shape (ny, nx) float32 in physical ``units``; NaN outside coverage
            (radar nodata, space pixels). Row 0 is the *north* (top) edge; column 0
            the *west* edge, whatever the file's own storage order.
        quantity: one of the canonical names above.
        units: "mm/h", "K", "dBZ", "mm".
        valid_time: numpy datetime64[s] (UTC) of the observation (end of the
            accumulation window for accumulations).
        grid: the grid of ``data`` (``grid.shape == data.shape``).
        source: path of the file it was read from (for error messages, provenance).
        name: product/channel name ("RATE", "IR_108", ...).
        attrs: anything else worth keeping (product, radars, calibration, ...).
    """

    data: np.ndarray
    quantity: str
    units: str
    valid_time: np.datetime64
    grid: Grid
    source: str
    name: str = ""
    attrs: dict[str, Any] = dc_field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.data.ndim != 2:
            raise ValueError(f"{self.source}: Field data must be 2-D, got shape {self.data.shape}")
        if tuple(self.data.shape) != tuple(self.grid.shape):
            raise ValueError(f"{self.source}: data shape {self.data.shape} does not match grid shape {self.grid.shape}")

    @property
    def coverage(self) -> float:
        """Fraction of finite pixels, in [0, 1]."""
        return float(np.isfinite(self.data).mean())
