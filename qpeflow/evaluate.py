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

Scores per group (``evaluate(..., by="draw")``, ``qpeflow evaluate --by draw``): the
fields are also scored per value of a coordinate along ``time`` (the infrared
``draw`` of the benchmark store, or ``event``), in the same single pass over the
file. Each group's scores go to ``out_dir/by_<coord>/<name>.<coord><value>.json``
(a subfolder, so that ``qpeflow report`` on ``out_dir`` still shows one row per
model), and ``<name>.json`` keeps the all-fields scores plus a ``groups`` entry:
``{"by", "values", "n_fields", "files" (relative to out_dir), "definition",
"scalars": [{name, threshold, scale, on, [class], mean, std, min, max, n, values,
reason}]}``: for every scalar, its value in each group and the mean, the sample
standard deviation (ddof = 1; null for one group), the minimum and the maximum
over the groups where it is finite (``n`` of them). A group file is exactly the
scores file of a predictions file cut to that group's fields.

Every predictions file is treated alike: a method without a network (the GPI and
Auto-Estimator baselines of :mod:`qpeflow.methods.baselines`, written by
``qpeflow predict`` with ``nfe = 0``) is simply a row with NFE 0. ``meta.eval``
records the evaluation settings (thresholds, FSS scales, Brier thresholds, the
localisation threshold and window) from which the report writes its captions.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from qpeflow.config import EvalConfig
from qpeflow.errors import QpeflowError, input_error
from qpeflow.io.atomic import write_text
from qpeflow.io.predictions import PredictionsInput, open_predictions
from qpeflow.verify import SuiteScores, SuiteSettings, suite_accum, suite_compute, suite_init, summarise
from qpeflow.verify.classes import check_edges

log = logging.getLogger(__name__)


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


def _accumulate(
    src: PredictionsInput, cfg: EvalConfig, chunk: int, codes: np.ndarray | None = None, n_groups: int = 0
) -> tuple[SuiteScores, list[SuiteScores]]:
    """One pass over the file in chunks of ``chunk`` time steps: all fields, and per group.

    codes: (n_time,) group index of every field (None: no groups); n_groups: their number.
    """
    settings = settings_of(cfg)
    state = suite_init(src.members, src.shape, settings)
    groups = [suite_init(src.members, src.shape, settings) for _ in range(n_groups)]
    n_valid = 0
    for start in tqdm(range(0, src.n_time, chunk), desc=f"evaluate {src.path.name}", unit="chunk", disable=None):
        sl = slice(start, min(start + chunk, src.n_time))
        obs = src.read_truth(sl)
        ens = src.read_members(sl)
        _check_members(src, ens, obs, start)
        n_valid += int(np.isfinite(obs).sum())
        suite_accum(state, ens, obs)
        for g, group in enumerate(groups):
            keep = np.flatnonzero(codes[sl] == g) if codes is not None else np.empty(0, int)
            if keep.size:
                suite_accum(group, ens[:, keep], obs[keep])
    if n_valid == 0:
        raise input_error(src.truth_path, "the truth is NaN or masked at every pixel of every field")
    return suite_compute(state), [suite_compute(group) for group in groups]


def score(src: PredictionsInput, cfg: EvalConfig, chunk: int) -> SuiteScores:
    """Accumulate every score over the file in chunks of ``chunk`` time steps."""
    return _accumulate(src, cfg, chunk)[0]


def _plain(value: Any) -> int | float | str:
    """A coordinate value as a JSON-ready int, float or string."""
    item = value.item() if isinstance(value, np.generic) else value
    return item if isinstance(item, (int, float, str)) and not isinstance(item, bool) else str(value)


def group_codes(src: PredictionsInput, by: str) -> tuple[list[int | float | str], np.ndarray]:
    """Sorted distinct values of coordinate ``by`` (along ``time``) and each field's group index (n_time,)."""
    if by not in src.ds.coords and by not in src.ds.data_vars:
        found = sorted(str(c) for c in src.ds.coords)
        raise input_error(src.path, f"no '{by}' coordinate to group the fields by (coordinates: {found})")
    da = src.ds[by]
    if da.dims != ("time",):
        raise input_error(src.path, f"'{by}' has dimensions {da.dims}; grouping needs one value per field, ('time',)")
    values = np.asarray(da.values)
    if values.dtype.kind == "f" and not np.all(np.isfinite(values)):
        raise input_error(src.path, f"'{by}' holds NaN: every field needs a group")
    unique, codes = np.unique(values, return_inverse=True)
    return [_plain(v) for v in unique], codes.reshape(-1)


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


def write_scores(path: Path, meta: dict[str, Any], scores: SuiteScores, groups: dict[str, Any] | None = None) -> Path:
    """Write the scores JSON atomically (temp file in the same folder, then rename); ``groups``: the
    across-group entry (module docstring), left out when None."""
    summary = summarise(scores)
    doc = {"meta": meta, "scalars": summary.scalars + _cost_scalars(meta), "curves": summary.curves}
    if groups is not None:
        doc["groups"] = groups
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


SPREAD_DEFINITION = (
    "the scalar scored on the fields of each group alone (values, in the order of `values`); mean, sample "
    "standard deviation (ddof = 1), minimum and maximum over the n groups where it is finite"
)


def _key(entry: dict[str, Any]) -> tuple[Any, ...]:
    return (entry["name"], entry["threshold"], entry["scale"], entry["on"], entry.get("class"))


def spread_scalars(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean / std (ddof 1) / min / max across group scores files of every scalar (see module docstring)."""
    per_group = [{_key(e): e["value"] for e in doc["scalars"]} for doc in docs]
    out = []
    for entry in docs[0]["scalars"]:
        values = [g.get(_key(entry)) for g in per_group]
        finite = np.array([v for v in values if v is not None], dtype=float)
        n = int(finite.size)
        row = {k: entry[k] for k in ("name", "threshold", "scale", "on")}
        row.update({"class": entry["class"]} if "class" in entry else {})
        row.update(
            mean=float(finite.mean()) if n else None,
            std=float(finite.std(ddof=1)) if n > 1 else None,
            min=float(finite.min()) if n else None,
            max=float(finite.max()) if n else None,
            n=n,
            values=values,
            reason=None if n > 1 else ("one group: no spread" if n else "null in every group"),
        )
        out.append(row)
    return out


def _file_tag(by: str, value: int | float | str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", f"{by}{value}")


def _group_meta(src: PredictionsInput, meta: dict[str, Any], by: str, value: Any, idx: np.ndarray) -> dict[str, Any]:
    events = meta["events"]
    if "event" in src.ds.coords and src.ds["event"].dims == ("time",):
        events = sorted({str(e) for e in np.asarray(src.ds["event"].values)[idx]})
    name = f"{meta['name']}.{_file_tag(by, value)}"
    return {**meta, "name": name, "n_fields": int(idx.size), "events": events, "group": {"by": by, "value": value}}


def _write_groups(
    src: PredictionsInput, out_dir: Path, meta: dict[str, Any], by: str, codes: np.ndarray, parts: list[SuiteScores]
) -> dict[str, Any]:
    """Write every group's scores file; return the ``groups`` entry of the all-fields file."""
    values, _ = group_codes(src, by)
    files, docs = [], []
    for g, (value, part) in enumerate(zip(values, parts)):
        gmeta = _group_meta(src, meta, by, value, np.flatnonzero(codes == g))
        rel = Path(f"by_{by}") / f"{gmeta['name']}.json"
        write_scores(out_dir / rel, gmeta, part)
        docs.append(json.loads((out_dir / rel).read_text(encoding="utf-8")))
        files.append(rel.as_posix())
    return {
        "by": by,
        "values": values,
        "n_fields": [int((codes == g).sum()) for g in range(len(values))],
        "files": files,
        "definition": SPREAD_DEFINITION,
        "scalars": spread_scalars(docs),
    }


def evaluate(
    pred_path: str | Path,
    out_dir: str | Path,
    cfg: EvalConfig | None = None,
    name: str | None = None,
    chunk: int = 64,
    truth_path: str | Path | None = None,
    by: str | None = None,
) -> Path:
    """Score ``pred_path`` (its own truth, or that of ``truth_path``) -> ``out_dir/<name>.json``.

    name defaults to the predictions file's stem. ``by``: also score per value of that
    coordinate along ``time`` (e.g. ``"draw"``) and record the spread across groups
    (module docstring). Raises QpeflowError naming the file for bad input (missing
    variables, no member dimension, grids or times that differ, all-NaN fields, no
    ``by`` coordinate).
    """
    src = open_predictions(pred_path, truth_path)
    with src:
        members, cfg = src.members, cfg or EvalConfig()
        values, codes = group_codes(src, by) if by else ([], None)
        scores, parts = _accumulate(src, cfg, chunk, codes, len(values))
        name = name or src.path.stem
        meta = _meta(src, name, members, settings_of(cfg))
        extra = _write_groups(src, Path(out_dir), meta, str(by), codes, parts) if by else None
        out = write_scores(Path(out_dir) / f"{name}.json", meta, scores, extra)
    log.info(_summary_line(out, scores))
    return out
