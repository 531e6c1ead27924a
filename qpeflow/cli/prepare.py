"""Build a prepared zarr store: rain targets + infrared sequences as normalised patches.

Sources: ``synthetic`` (embedded rain generator + simulated IR, no files), ``radar``
(national radar sequences under $QPEFLOW_DATA/radar + simulated IR), ``opera``
(OPERA 2018-08-24 + simulated IR, all in the test split), ``pairs`` (a real SEVIRI +
radar archive: --sat DIR --radar DIR, observed IR), ``sevmos`` (the team's collocated
SEVIRI + Meteo-France files: --sat-dir DIR, observed IR; in time blocks on dask.distributed,
resumable: --scheduler ADDRESS, --workers N, --block-files N).
"""

from __future__ import annotations

import argparse
import importlib
import time
from pathlib import Path

from qpeflow.cli import add_overrides
from qpeflow.cli.outputs import check_output_store
from qpeflow.config import load_config
from qpeflow.errors import QpeflowError

SOURCE_CHOICES = ("synthetic", "radar", "opera", "pairs", "sevmos")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        choices=SOURCE_CHOICES,
        default=None,
        help="data source (default: prepare.source of the config, 'synthetic')",
    )
    parser.add_argument(
        "--out",
        required=True,
        help="output STORE.zarr (an existing qpeflow store is replaced atomically; anything else only with --overwrite)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace --out even if it is not a qpeflow store (its content is lost)"
    )
    parser.add_argument("--n-events", type=int, default=None, help="synthetic events to generate")
    parser.add_argument("--seed", type=int, default=None, help="random seed (deterministic output)")
    parser.add_argument("--config", default=None, help="experiment YAML (its 'prepare' section is used)")
    add_overrides(parser, "--set prepare.patches_per_frame=4")
    parser.add_argument(
        "--sat",
        "--sat-dir",
        dest="sat",
        default=None,
        help="pairs: folder of SEVIRI files; sevmos: folder of sevmos_*.nc",
    )
    parser.add_argument("--radar", default=None, help="pairs: folder of radar files")
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="sevmos: dask.distributed scheduler (tcp://host:8786) whose workers see the same paths "
        "(default: a local cluster of --workers processes)",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="sevmos: local worker processes (default: cores, <= 4)"
    )
    parser.add_argument(
        "--block-files", type=int, default=None, help="sevmos: files per time block (memory and resume unit; 96)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _overrides(args: argparse.Namespace) -> list[str]:
    extra = list(args.overrides)
    if args.source is not None:
        extra.append(f"prepare.source={args.source}")
    if args.n_events is not None:
        extra.append(f"prepare.n_events={args.n_events}")
    if args.seed is not None:
        extra.append(f"prepare.seed={args.seed}")
    return extra


def run(args: argparse.Namespace) -> int:
    from qpeflow.data.store import check_store_target

    cfg = load_config(args.config, _overrides(args)).prepare
    out = check_output_store(args.out, "--out")
    check_store_target(out, args.overwrite)  # before any work: never discover it after minutes
    start = time.perf_counter()
    progress = not args.no_progress
    if cfg.source == "pairs":
        if not args.sat or not args.radar:
            raise QpeflowError("prepare --source pairs needs --sat DIR and --radar DIR")
        pairs = importlib.import_module("qpeflow.data.pairs")
        summary = pairs.prepare_pairs(
            cfg, Path(args.sat), Path(args.radar), out, progress=progress, overwrite=args.overwrite
        )
    elif cfg.source == "sevmos":
        if not args.sat:
            raise QpeflowError("prepare --source sevmos needs --sat-dir DIR (a folder of sevmos_*.nc files)")
        archive = importlib.import_module("qpeflow.data.archive_prepare")
        if args.workers is not None and args.workers < 1:
            raise QpeflowError(f"--workers {args.workers}: must be >= 1")
        summary = archive.prepare_sevmos_archive(
            cfg,
            Path(args.sat),
            out,
            scheduler=args.scheduler,
            workers=args.workers,
            block_files=args.block_files or archive.DEFAULT_BLOCK_FILES,
            progress=progress,
            overwrite=args.overwrite,
        )
    else:
        from qpeflow.data.prepare import prepare

        summary = prepare(cfg, out, progress=progress, overwrite=args.overwrite)
    seconds = time.perf_counter() - start
    counts = " ".join(f"{k}={v}" for k, v in summary.counts.items())
    print(
        f"prepared {summary.path}: source={cfg.source} samples {counts} "
        f"wet_fraction={summary.wet_fraction:.3f} seconds={seconds:.1f}"
    )
    return 0
