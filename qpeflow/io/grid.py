"""Grid: a CRS, an affine transform and a shape; pixel-centre coordinates.

Regridding between grids lives in :mod:`qpeflow.io.regrid`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class Grid:
    """A regular grid in a projected (or geostationary) CRS.

    Attributes:
        crs: PROJ string (e.g. ``"+proj=laea +lat_0=55 ..."``) or WKT.
        x0: x of the *outer* left (west) edge of column 0, in CRS units (m).
        dx: pixel width in CRS units, > 0 (columns run west -> east).
        y0: y of the *outer* top (north) edge of row 0, in CRS units (m).
        dy: pixel height in CRS units, < 0 (rows run north -> south).
        shape: (ny, nx).

    The affine map from (row, col) of a pixel centre to CRS coordinates is
    ``x = x0 + (col + 0.5) * dx``, ``y = y0 + (row + 0.5) * dy`` (GDAL convention).
    """

    crs: str
    x0: float
    dx: float
    y0: float
    dy: float
    shape: tuple[int, int]

    def __post_init__(self) -> None:
        if self.dx <= 0 or self.dy >= 0:
            raise ValueError(f"Grid needs dx > 0 and dy < 0 (north-up), got dx={self.dx}, dy={self.dy}")
        if len(self.shape) != 2 or min(self.shape) < 1:
            raise ValueError(f"Grid shape must be (ny, nx) with positive sizes, got {self.shape}")
        object.__setattr__(self, "shape", (int(self.shape[0]), int(self.shape[1])))

    @classmethod
    def from_extent(cls, crs: str, extent: tuple[float, float, float, float], shape: tuple[int, int]) -> Grid:
        """Build from ``extent = (xmin, ymin, xmax, ymax)`` (outer edges) and ``shape = (ny, nx)``."""
        xmin, ymin, xmax, ymax = extent
        ny, nx = shape
        return cls(crs, xmin, (xmax - xmin) / nx, ymax, -(ymax - ymin) / ny, (ny, nx))

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """(xmin, ymin, xmax, ymax) of the outer edges, CRS units."""
        ny, nx = self.shape
        return (self.x0, self.y0 + ny * self.dy, self.x0 + nx * self.dx, self.y0)

    @property
    def resolution(self) -> tuple[float, float]:
        """(|dy|, dx) pixel size in CRS units."""
        return (abs(self.dy), self.dx)

    @property
    def x(self) -> np.ndarray:
        """Pixel-centre x coordinates, shape (nx,)."""
        return self.x0 + (np.arange(self.shape[1]) + 0.5) * self.dx

    @property
    def y(self) -> np.ndarray:
        """Pixel-centre y coordinates, shape (ny,), decreasing (north first)."""
        return self.y0 + (np.arange(self.shape[0]) + 0.5) * self.dy

    @cached_property
    def _pyproj_crs(self):  # type: ignore[no-untyped-def]
        import pyproj

        return pyproj.CRS.from_user_input(self.crs)

    @property
    def crs_name(self) -> str:
        """Short CRS name, e.g. ``"laea"``, ``"geos"``, ``"stere"``, ``"aea"``."""
        import warnings

        with warnings.catch_warnings():  # to_dict() warns that it drops datum details; we want only 'proj'
            warnings.simplefilter("ignore", UserWarning)
            proj = self._pyproj_crs.to_dict().get("proj")
        return str(proj) if proj else self._pyproj_crs.name

    def lonlat(self) -> tuple[np.ndarray, np.ndarray]:
        """Longitude and latitude (degrees) of pixel centres, each shape (ny, nx).

        Points off the Earth (geostationary space pixels) are NaN.
        """
        import pyproj

        tr = pyproj.Transformer.from_crs(self._pyproj_crs, "EPSG:4326", always_xy=True)
        xx, yy = np.meshgrid(self.x, self.y)
        lon, lat = tr.transform(xx, yy, errcheck=False)
        lon = np.where(np.isfinite(lon) & (np.abs(lon) <= 360), lon, np.nan)
        lat = np.where(np.isfinite(lat) & (np.abs(lat) <= 90), lat, np.nan)
        return lon.astype(np.float64), lat.astype(np.float64)

    def crop(self, row: int, col: int, ny: int, nx: int) -> Grid:
        """The sub-grid of rows ``row:row+ny`` and columns ``col:col+nx``."""
        if row < 0 or col < 0 or row + ny > self.shape[0] or col + nx > self.shape[1]:
            raise ValueError(f"crop {(row, col, ny, nx)} outside grid of shape {self.shape}")
        return Grid(self.crs, self.x0 + col * self.dx, self.dx, self.y0 + row * self.dy, self.dy, (ny, nx))

    def to_area_definition(self, area_id: str = "qpeflow"):  # type: ignore[no-untyped-def]
        """The equivalent ``pyresample.geometry.AreaDefinition``."""
        from pyresample.geometry import AreaDefinition

        ny, nx = self.shape
        return AreaDefinition(area_id, area_id, area_id, self.crs, nx, ny, self.extent)

    def to_attrs(self) -> dict[str, object]:
        """Plain attributes for netCDF/zarr metadata (round-trips with :meth:`from_attrs`)."""
        return {
            "grid_crs": self.crs,
            "grid_x0": self.x0,
            "grid_dx": self.dx,
            "grid_y0": self.y0,
            "grid_dy": self.dy,
            "grid_shape": list(self.shape),
        }

    @classmethod
    def from_attrs(cls, attrs: dict[str, object]) -> Grid:
        shape = attrs["grid_shape"]
        return cls(
            str(attrs["grid_crs"]),
            float(attrs["grid_x0"]),
            float(attrs["grid_dx"]),  # type: ignore[arg-type]
            float(attrs["grid_y0"]),
            float(attrs["grid_dy"]),
            (int(shape[0]), int(shape[1])),
        )  # type: ignore[index]


#: The OPERA pan-European composite grid (2 km LAEA, 1900 x 2200), ODIM corners.
OPERA_CRS = "+proj=laea +lat_0=55 +lon_0=10 +x_0=1950000 +y_0=-2100000 +ellps=WGS84 +units=m +no_defs"
