"""Rain maps from SEVIRI files with a trained checkpoint.

Reads a time sequence of SEVIRI files (satpy native / HRIT / netCDF, Satip zarr
zip, Weather4cast HDF5), takes the slots the checkpoint was trained on (e.g.
t0-45, -30, -15, 0 min; a 5-min rapid-scan sequence is subsampled), regrids to
the target grid at the checkpoint's training resolution, estimates over
overlapping tiles with blended seams and writes CF-1.8 netCDF: rain_rate
(member, y, x) mm/h, rain_rate_mean, probability_of_exceedance (0.1, 1, 5 mm/h),
lon/lat, grid mapping, provenance.

Example:
  qpeflow estimate --checkpoint runs/cfm/ckpt.pt --sat data/seviri/*.zarr.zip \\
      --grid opera --members 8 --steps 8 -o rain.nc --png rain.png
"""

from __future__ import annotations

import argparse
import math

from qpeflow.cli.outputs import check_output_file
from qpeflow.errors import QpeflowError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--checkpoint", required=True, help="trained checkpoint (.pt)")
    parser.add_argument(
        "--sat",
        nargs="+",
        required=True,
        metavar="FILE",
        help="SEVIRI files of the input sequence (any order; the latest slot is t0)",
    )
    parser.add_argument(
        "--grid",
        default="opera",
        help="opera (OPERA 2 km LAEA grid cropped to the data), native (satellite grid) "
        "or a YAML grid file (crs, extent, shape); default opera",
    )
    parser.add_argument(
        "--resolution-km",
        type=float,
        default=None,
        help="coarsen the grid to this resolution (default: the checkpoint's training "
        "resolution; 0 keeps the grid's own)",
    )
    parser.add_argument(
        "--bbox",
        type=float,
        nargs=4,
        default=None,
        metavar=("LON_MIN", "LAT_MIN", "LON_MAX", "LAT_MAX"),
        help="crop the grid to a lon/lat box",
    )
    parser.add_argument("--members", type=int, default=4, help="ensemble members (default 4)")
    parser.add_argument("--steps", type=int, default=8, help="sampler steps (default 8)")
    parser.add_argument("--sampler", default="", help="sampler name (default: the method's)")
    parser.add_argument("--seed", type=int, default=0, help="member m uses seed + m (default 0)")
    parser.add_argument("--tile", type=int, default=64, help="tile size in px (default 64)")
    parser.add_argument("--overlap", type=int, default=16, help="tile overlap in px (default 16)")
    parser.add_argument("--batch", type=int, default=8, help="tiles per network call (default 8)")
    parser.add_argument(
        "--time",
        default=None,
        metavar="ISO",
        help="valid time t0, e.g. 2023-12-20T12:15 (default: the latest slot given)",
    )
    parser.add_argument(
        "--tolerance", type=float, default=2.0, help="max minutes between a file's slot and t0 + offset (default 2)"
    )
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("-o", "--out", required=True, help="output netCDF file")
    parser.add_argument("--png", default=None, help="quick-look PNG (IR_108, ensemble mean, P(>1 mm/h))")


def _check(args: argparse.Namespace) -> None:
    """Option ranges and both output paths, before the checkpoint or any file is read."""
    for flag, value in (("--members", args.members), ("--steps", args.steps), ("--tile", args.tile)):
        if value < 1:
            raise QpeflowError(f"{flag} {value}: must be >= 1")
    if args.batch < 1:
        raise QpeflowError(f"--batch {args.batch}: must be >= 1")
    if args.overlap < 0 or args.overlap >= args.tile:
        raise QpeflowError(f"--overlap {args.overlap}: must be >= 0 and smaller than --tile {args.tile}")
    if not math.isfinite(args.tolerance) or args.tolerance < 0:
        raise QpeflowError(f"--tolerance {args.tolerance:g}: must be a number of minutes >= 0")
    if args.resolution_km is not None and (not math.isfinite(args.resolution_km) or args.resolution_km < 0):
        raise QpeflowError(f"--resolution-km {args.resolution_km:g}: must be >= 0 (0 keeps the grid's own)")
    out = check_output_file(args.out, "-o")
    png = check_output_file(args.png, "--png")
    if png is not None and out is not None and png.absolute() == out.absolute():
        raise QpeflowError(f"{png}: -o and --png name the same file")


def run(args: argparse.Namespace) -> int:
    from qpeflow.inference.estimate import EstimateOptions, estimate_files

    _check(args)
    options = EstimateOptions(
        grid=args.grid,
        members=args.members,
        steps=args.steps,
        sampler=args.sampler,
        seed=args.seed,
        tile=args.tile,
        overlap=args.overlap,
        batch=args.batch,
        resolution_km=args.resolution_km,
        bbox=tuple(args.bbox) if args.bbox else None,
        tolerance_minutes=args.tolerance,
        device=args.device,
        valid_time=args.time,
    )
    path = estimate_files(args.checkpoint, args.sat, args.out, options, png=args.png)
    print(path)
    return 0
