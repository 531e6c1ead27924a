"""Describe radar/satellite files: one line per field, optionally a quick-look PNG.

Each line: file, format, quantity, units, valid time, grid shape and pixel size,
CRS short name, min/mean/max, coverage % (finite pixels) and, for rain, the
percentage of covered pixels with rain > 0.1 mm/h.
"""

from __future__ import annotations

import argparse
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qpeflow.io import SATELLITE_FORMATS, detect_format, read
from qpeflow.io.field import RAIN_RATE, Field

RAIN_THRESHOLD = 0.1  # mm/h


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files (or an HRIT folder) to describe")
    parser.add_argument("--png", metavar="OUT", help="quick-look PNG; several fields -> OUT stem + _<n>_<name>.png")
    parser.add_argument(
        "--channel",
        action="append",
        metavar="NAME",
        help="SEVIRI channel(s) to read (repeatable; default IR_108 for satpy files, all for zarr)",
    )


@dataclass(frozen=True)
class FieldSummary:
    """The figures printed for one field."""

    minimum: float
    mean: float
    maximum: float
    coverage_pct: float
    wet_pct: float | None  # rain only: % of covered pixels > 0.1 mm/h


def summarise(field: Field) -> FieldSummary:
    """Min/mean/max over finite pixels, coverage % and (rain) wet %."""
    data = field.data
    finite = np.isfinite(data)
    values = data[finite]
    if values.size == 0:
        return FieldSummary(np.nan, np.nan, np.nan, 0.0, None)
    wet = float((values > RAIN_THRESHOLD).mean() * 100) if field.quantity == RAIN_RATE else None
    return FieldSummary(float(values.min()), float(values.mean()), float(values.max()), float(finite.mean() * 100), wet)


def describe(field: Field, fmt: str) -> str:
    """One line of text for ``field`` read as format ``fmt``."""
    s = summarise(field)
    ny, nx = field.grid.shape
    res_y, res_x = field.grid.resolution
    with warnings.catch_warnings():  # pyproj warns that PROJ strings are lossy
        warnings.simplefilter("ignore", UserWarning)
        crs = field.grid.crs_name
    res = f"{res_x / 1000:.3g}x{res_y / 1000:.3g}km" if res_x > 10 else f"{res_x:g}x{res_y:g}px"
    line = (
        f"{Path(field.source).name}  format={fmt}  {field.name or '-'}  {field.quantity} [{field.units}]  "
        f"time={field.valid_time}  grid={ny}x{nx} @ {res}  crs={crs}  "
        f"min/mean/max={s.minimum:.4g}/{s.mean:.4g}/{s.maximum:.4g}  coverage={s.coverage_pct:.1f}%"
    )
    if s.wet_pct is not None:
        line += f"  rain>{RAIN_THRESHOLD:g}={s.wet_pct:.2f}%"
    return line


def _png_paths(out: str, fields: list[Field]) -> list[Path]:
    base = Path(out)
    if len(fields) == 1:
        return [base]
    suffix = base.suffix or ".png"
    return [base.with_name(f"{base.stem}_{i:02d}_{f.name or f.quantity}{suffix}") for i, f in enumerate(fields)]


def platform_label(field: Field, fmt: str) -> str:
    """The quick-look title's platform: the field's own (satellite name), else what its file format holds."""
    own = field.attrs.get("platform_name") or field.attrs.get("platform")
    if own:
        return str(own)
    return f"{fmt} {'satellite' if fmt in SATELLITE_FORMATS else 'radar'}"


def run(args: argparse.Namespace) -> int:
    from qpeflow.cli.outputs import check_output_file
    from qpeflow.plots.maps import quicklook, save_figure

    check_output_file(args.png, "--png")
    all_fields: list[Field] = []
    platforms: list[str] = []
    for path in args.paths:
        fmt = detect_format(path)
        kwargs = {"channels": tuple(args.channel)} if args.channel and fmt in SATELLITE_FORMATS else {}
        fields = read(path, **kwargs)
        for field in fields:
            print(describe(field, fmt))
        all_fields.extend(fields)
        platforms.extend(platform_label(f, fmt) for f in fields)
    if args.png:
        for field, platform, out in zip(all_fields, platforms, _png_paths(args.png, all_fields)):
            print(f"wrote {save_figure(quicklook(field, platform=platform), out)}")
    return 0
