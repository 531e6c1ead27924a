"""Score a predictions file (member, time, y, x) against its truth -> ``scores/<name>.json``.

The predictions file is read in chunks of ``chunk`` time steps with xarray, so a
set larger than memory can be scored; every score of :mod:`qpeflow.verify`
accumulates over the chunks. Pixels where ``mask == 0`` or the truth is NaN are
left out. The scores file (written atomically) holds

- ``meta``: name, predictions path, method, nfe, steps, sampler, members,
  n_fields, data_source, infrared, events, cost, qpeflow_version;
- ``scalars``: named numbers with threshold / scale / what they are computed on,
  definition, and the reason when a value is null (NaN);
- ``curves``: x, series and definition of every curve of the report.

Cost: the predictions attribute ``seconds_per_member`` (one number per member)
is read as the wall-clock seconds spent producing that member for all the
file's fields; ``seconds_per_field`` = their sum / n_fields (a whole ensemble
for one field) and ``seconds_per_member`` = their mean / n_fields (one member,
one field).

Every predictions file is treated alike: a method without a network (the GPI and
Auto-Estimator baselines of :mod:`qpeflow.methods.baselines`, written by
``qpeflow predict`` with ``nfe = 0``) is simply a row with NFE 0. ``meta.eval``
records the evaluation settings (thresholds, FSS scales, Brier thresholds, the
localisation threshold and window) from which the report writes its captions.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from tqdm import tqdm

from qpeflow.config import EvalConfig
from qpeflow.errors import QpeflowError, input_error
from qpeflow.io.atomic import write_text
from qpeflow.verify import SuiteScores, SuiteSettings, suite_accum, suite_compute, suite_init, summarise
from qpeflow.verify.classes import check_edges

log = logging.getLogger(__name__)

DIMS = ("member", "time", "y", "x")


def _open(path: Path) -> xr.Dataset:
    if not path.is_file():
        raise input_error(path, "predictions file not found")
    try:
        return xr.open_dataset(path, mask_and_scale=True)
    except (OSError, ValueError) as exc:
        raise input_error(
            path, f"cannot read as netCDF ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
        ) from None


def _field_var(ds: xr.Dataset, path: Path, name: str, dims: tuple[str, ...], why: str) -> xr.DataArray:
    """Variable ``name`` transposed to ``dims``, or a QpeflowError naming the file."""
    if name not in ds.data_vars:
        raise input_error(path, f"no '{name}' variable ({why}); found {sorted(ds.data_vars)}")
    da = ds[name]
    if set(da.dims) != set(dims):
        lacking = [d for d in dims if d not in da.dims]
        hint = f" (it lacks {lacking}: a predictions file of `qpeflow predict` holds (member, time, y, x)"
        hint += "; an estimate file has no time and no truth, it cannot be scored)" if "time" in lacking else ")"
        hint = hint if name == "rain_rate" else ""
        raise input_error(path, f"'{name}' has dimensions {da.dims}, expected {dims}{hint}")
    return da.transpose(*dims)


def _same_coords(a: xr.DataArray, b: xr.DataArray, path: Path, truth_path: Path) -> None:
    """Sizes, and coordinates present in both, of time / y / x must agree."""
    for dim in ("time", "y", "x"):
        if a.sizes[dim] != b.sizes[dim]:
            raise input_error(
                truth_path,
                f"truth has {b.sizes[dim]} along '{dim}' but the predictions {path} have "
                f"{a.sizes[dim]}: grids or times differ",
            )
    for coord in ("valid_time", "time", "y", "x"):
        if coord in a.coords and coord in b.coords and not np.array_equal(a[coord].values, b[coord].values):
            kind = "times" if "time" in coord else "grids"
            raise input_error(
                truth_path, f"'{coord}' of the truth differs from that of the predictions {path}: {kind} differ"
            )


class PredictionsInput:
    """A validated predictions file (and its truth, from the same file or ``truth_path``), read by time slices."""

    def __init__(self, path: str | Path, truth_path: str | Path | None = None) -> None:
        self.path = Path(path)
        self.truth_path = Path(truth_path) if truth_path is not None else self.path
        self.ds = _open(self.path)
        self.tds = self.ds
        try:
            self.tds = self.ds if truth_path is None else _open(self.truth_path)
            self._validate()
        except BaseException:
            self.close()
            raise

    def _validate(self) -> None:
        self.rain = _field_var(self.ds, self.path, "rain_rate", DIMS, "estimated rain rate, mm/h")
        self.truth = _field_var(self.tds, self.truth_path, "truth", DIMS[1:], "cannot verify without the truth")
        _same_coords(self.rain, self.truth, self.path, self.truth_path)
        self.mask = self._optional(self.tds, "mask") if "mask" in self.tds else self._optional(self.ds, "mask")
        self.ir = self._optional(self.ds, "ir_108")
        self.members, self.n_time = int(self.rain.sizes["member"]), int(self.rain.sizes["time"])
        self.shape = (int(self.rain.sizes["y"]), int(self.rain.sizes["x"]))
        if self.members == 0 or self.n_time == 0:
            raise input_error(self.path, f"empty predictions: {self.members} members, {self.n_time} time steps")

    def _optional(self, ds: xr.Dataset, name: str) -> xr.DataArray | None:
        if name not in ds:
            return None
        da = _field_var(ds, self.path, name, DIMS[1:], "")
        _same_coords(self.rain, da, self.path, self.path)
        return da

    def read_members(self, sl: slice) -> np.ndarray:
        """(M, n, Y, X) float64 mm/h for time steps ``sl``."""
        return np.asarray(self.rain.isel(time=sl).values, dtype=np.float64)

    def read_truth(self, sl: slice) -> np.ndarray:
        """(n, Y, X) float64 mm/h, NaN where the mask is 0 or the truth is missing."""
        truth = np.asarray(self.truth.isel(time=sl).values, dtype=np.float64)
        if self.mask is not None:
            truth[np.asarray(self.mask.isel(time=sl).values) == 0] = np.nan
        return truth

    def attr_str(self, key: str, default: str | None) -> str | None:
        """Global attribute as a string, ``default`` when absent or empty."""
        value = self.ds.attrs.get(key)
        return default if value is None or str(value) == "" else str(value)

    def attr_int(self, key: str) -> int | None:
        """Global attribute as an int (first element of a list), None when absent or not a number."""
        try:
            return int(np.asarray(self.ds.attrs[key]).ravel()[0])
        except (KeyError, IndexError, TypeError, ValueError):
            return None

    @property
    def events(self) -> list[str]:
        """The ``events`` attribute (JSON list, list or single string), else the ``event`` coordinate."""
        value = self.ds.attrs.get("events")
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                value = [value]
        if value is None and "event" in self.ds.coords:
            value = np.unique(self.ds["event"].values)
        return [str(v) for v in np.atleast_1d(value)] if value is not None else []

    @property
    def seconds_per_member(self) -> np.ndarray | None:
        """Attribute ``seconds_per_member`` (M,): wall-clock seconds per member for all fields, or None."""
        value = self.ds.attrs.get("seconds_per_member")
        try:
            seconds = np.atleast_1d(np.asarray(json.loads(value) if isinstance(value, str) else value, dtype=float))
        except (TypeError, ValueError):
            return None
        return seconds if seconds.size and np.all(np.isfinite(seconds)) else None

    def close(self) -> None:
        """Close the underlying dataset(s)."""
        self.ds.close()
        if self.tds is not self.ds:
            self.tds.close()

    def __enter__(self) -> PredictionsInput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_predictions(path: str | Path, truth_path: str | Path | None = None) -> PredictionsInput:
    """Open and validate a predictions file; QpeflowError naming the file on bad input."""
    return PredictionsInput(path, truth_path)


def settings_of(cfg: EvalConfig) -> SuiteSettings:
    """Suite settings from the evaluation config (QpeflowError for class edges the thresholds cannot serve)."""
    try:
        check_edges(tuple(cfg.class_edges), tuple(cfg.thresholds))
    except ValueError as exc:
        raise QpeflowError(f"eval.class_edges: {exc}") from None
    return SuiteSettings(
        thresholds=tuple(cfg.thresholds),
        fss_thresholds=tuple(cfg.fss_thresholds),
        fss_scales=tuple(int(s) for s in cfg.fss_scales),
        brier_thresholds=tuple(cfg.brier_thresholds),
        class_edges=tuple(cfg.class_edges),
    )


def _check_members(src: PredictionsInput, ens: np.ndarray, obs: np.ndarray, start: int) -> None:
    """Raise if a member field of ``rain_rate`` is NaN at every pixel where the truth is valid."""
    valid = np.isfinite(obs)
    has_truth = valid.any(axis=(-2, -1))
    has_pred = (np.isfinite(ens) & valid).any(axis=(-2, -1))
    bad = np.argwhere(has_truth[None] & ~has_pred)
    if bad.size:
        m, t = bad[0]
        raise input_error(
            src.path, f"rain_rate member {m} at time index {start + t} is NaN wherever the truth is valid"
        )


def score(src: PredictionsInput, cfg: EvalConfig, chunk: int) -> SuiteScores:
    """Accumulate every score over the file in chunks of ``chunk`` time steps."""
    state = suite_init(src.members, src.shape, settings_of(cfg))
    n_valid = 0
    for start in tqdm(range(0, src.n_time, chunk), desc=f"evaluate {src.path.name}", unit="chunk", disable=None):
        sl = slice(start, min(start + chunk, src.n_time))
        obs = src.read_truth(sl)
        ens = src.read_members(sl)
        _check_members(src, ens, obs, start)
        n_valid += int(np.isfinite(obs).sum())
        suite_accum(state, ens, obs)
    if n_valid == 0:
        raise input_error(src.truth_path, "the truth is NaN or masked at every pixel of every field")
    return suite_compute(state)


def _version() -> str:
    try:
        return metadata.version("qpeflow")
    except metadata.PackageNotFoundError:
        return "unknown"


def _cost_scalars(meta: dict[str, Any]) -> list[dict[str, Any]]:
    missing = "not recorded in the predictions file"
    return [
        {
            "name": "nfe",
            "value": meta["nfe"],
            "threshold": None,
            "scale": None,
            "on": "ensemble",
            "definition": "network evaluations per member and field",
            "reason": None if meta["nfe"] is not None else missing,
        },
        {
            "name": "seconds_per_field",
            "value": meta["seconds_per_field"],
            "threshold": None,
            "scale": None,
            "on": "ensemble",
            "definition": "wall-clock seconds to produce all members of one field",
            "reason": None if meta["seconds_per_field"] is not None else missing,
        },
    ]


def write_scores(path: Path, meta: dict[str, Any], scores: SuiteScores) -> Path:
    """Write the scores JSON atomically (temp file in the same folder, then rename)."""
    summary = summarise(scores)
    doc = {"meta": meta, "scalars": summary.scalars + _cost_scalars(meta), "curves": summary.curves}
    text = json.dumps(doc, indent=1, allow_nan=False)
    return write_text(path, text)


def _meta(src: PredictionsInput, name: str, members: int, settings: SuiteSettings) -> dict[str, Any]:
    seconds = src.seconds_per_member
    return {
        "name": name,
        "predictions": str(src.path.resolve()),
        "method": src.attr_str("method", "unknown"),
        "nfe": src.attr_int("nfe"),
        "steps": src.attr_int("steps"),
        "sampler": src.attr_str("sampler", None),
        "members": members,
        "n_fields": src.n_time,
        "data_source": src.attr_str("data_source", "unknown"),
        "infrared": src.attr_str("infrared", "unknown"),
        "events": src.events,
        "seconds_per_member": None if seconds is None else float(np.mean(seconds)) / src.n_time,
        "seconds_per_field": None if seconds is None else float(np.sum(seconds)) / src.n_time,
        "qpeflow_version": _version(),
        "eval": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(settings).items()},
    }


def _summary_line(path: Path, scores: SuiteScores) -> str:
    cat, c = scores.categorical["member1"], scores.continuous["member1"]
    csi = " ".join(f"CSI@{t:g} {v.value:.3f}" for t, v in zip(cat.thresholds, cat.csi) if t in (1.0, 5.0))
    return (
        f"{path}: {scores.n_fields} fields x {scores.members} members; MAE {c.mae.value:.3f} mm/h, {csi}, "
        f"CRPS {scores.ensemble.crps.value:.3f} mm/h, P99 ratio {scores.distribution.p99_ratio.value:.3f}"
    )


def evaluate(
    pred_path: str | Path,
    out_dir: str | Path,
    cfg: EvalConfig | None = None,
    name: str | None = None,
    chunk: int = 64,
    truth_path: str | Path | None = None,
) -> Path:
    """Score ``pred_path`` (its own truth, or that of ``truth_path``) -> ``out_dir/<name>.json``.

    name defaults to the predictions file's stem. Raises QpeflowError naming the file for
    bad input (missing variables, no member dimension, grids or times that differ, all-NaN fields).
    """
    src = open_predictions(pred_path, truth_path)
    with src:
        members, cfg = src.members, cfg or EvalConfig()
        scores = score(src, cfg, chunk)
        name = name or src.path.stem
        out = write_scores(Path(out_dir) / f"{name}.json", _meta(src, name, members, settings_of(cfg)), scores)
    log.info(_summary_line(out, scores))
    return out
