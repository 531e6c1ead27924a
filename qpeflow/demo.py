"""The main job: embedded synthetic data -> train -> predict -> evaluate -> report.

Every stage is the same library call the individual CLI commands make, joined by
files in one output folder::

    OUT/synthetic.zarr            prepared store (simulated rain + simulated IR)
    OUT/runs/<model>/checkpoint.pt
    OUT/predictions/<model>.nc
    OUT/scores/<model>.json       (+ gpi.json, autoestimator.json)
    OUT/report/index.html, report.md, figures/

Training is bounded by wall-clock (``minutes`` per model) so the run finishes on
a 2-core laptop; scores from such short runs show the qualitative contrast
between methods, not quotable numbers (see DESIGN.md, "Measured lessons").
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from qpeflow.config import ExperimentConfig, config_from_dict, config_to_dict, load_config
from qpeflow.errors import QpeflowError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoModel:
    """One model of the demo: its experiment file in configs/, the step counts predicted
    (the first is the headline) and its ensemble size (None: the demo's)."""

    config: str
    steps: tuple[int, ...] = (1,)
    members: int | None = None


#: demo models in training order (a model comes after the runs its config refers to)
DEMO_MODELS: dict[str, DemoModel] = {
    "unet": DemoModel("unet.yaml", members=1),
    "cfm": DemoModel("cfm.yaml", steps=(8, 1, 2)),
    "cfm_residual": DemoModel("cfm_residual.yaml", steps=(8, 1, 2)),
    "ddpm": DemoModel("ddpm.yaml", steps=(20,)),  # DDIM-20: the demo must finish on a laptop
}

#: configs name the runs they build on as ``runs/<name>/checkpoint.pt``; the demo keeps its runs in OUT/runs
RUN_REF = re.compile(r"^runs/(\w+)/checkpoint\.pt$")


#: literature baselines predicted beside the models (``qpeflow predict --baseline``)
DEMO_BASELINES = ("gpi", "autoestimator")


@dataclass(frozen=True)
class DemoSettings:
    """out: output folder; minutes: training wall-clock per model; n_events: synthetic events;
    members: ensemble size of generative models; configs: folder of the experiment YAMLs;
    max_samples: test samples predicted and scored (evenly spaced over the test split)."""

    out: Path
    minutes: float = 2.0
    n_events: int = 12
    members: int = 4
    seed: int = 0
    configs: Path = Path("configs")
    models: tuple[str, ...] = tuple(DEMO_MODELS)
    max_samples: int = 32


def _run_refs(values: Any) -> list[str]:
    """Strings of a config dict that name another run's checkpoint (``runs/<name>/checkpoint.pt``)."""
    if isinstance(values, dict):
        return [r for v in values.values() for r in _run_refs(v)]
    return [values] if isinstance(values, str) and RUN_REF.match(values) else []


def _rebased(values: Any, runs: Path) -> Any:
    """The config dict with every ``runs/<name>/checkpoint.pt`` pointing into the demo's own runs folder."""
    if isinstance(values, dict):
        return {k: _rebased(v, runs) for k, v in values.items()}
    if isinstance(values, str) and RUN_REF.match(values):
        return str(runs / values.removeprefix("runs/"))
    return values


def _config(s: DemoSettings, name: str, store: Path) -> ExperimentConfig:
    path = s.configs / DEMO_MODELS[name].config
    if not path.is_file():
        raise QpeflowError(
            f"{path}: demo config not found (run the demo from the repository root or pass --configs DIR)"
        )
    overrides = [
        f"data.store={store}",
        f"train.out={s.out / 'runs' / name}",
        f"train.time_limit_minutes={s.minutes}",
        "train.steps=100000",
        "train.lr_schedule=constant",
        f"train.seed={s.seed}",
        "train.ckpt_every=200",
    ]
    return config_from_dict(_rebased(config_to_dict(load_config(path, overrides)), s.out / "runs"))


def _needs(s: DemoSettings, name: str) -> list[str]:
    """The demo runs the config of ``name`` builds on."""
    path = s.configs / DEMO_MODELS[name].config
    refs = _run_refs(config_to_dict(load_config(path))) if path.is_file() else []
    return [RUN_REF.match(r).group(1) for r in refs]  # type: ignore[union-attr]


def _prepare(s: DemoSettings) -> Path:
    from qpeflow.data.prepare import prepare

    store = s.out / "synthetic.zarr"
    if store.exists():
        log.info(f"demo: reusing {store}")
        return store
    cfg = replace(ExperimentConfig().prepare, source="synthetic", n_events=s.n_events, seed=s.seed)
    prepare(cfg, store)
    return store


def _checkpoint(s: DemoSettings, name: str) -> Path:
    return s.out / "runs" / name / "checkpoint.pt"


def _predict_all(s: DemoSettings, name: str, store: Path) -> list[Path]:
    from qpeflow.inference.predict import predict

    model, pred_dir = DEMO_MODELS[name], s.out / "predictions"
    members = model.members or s.members
    paths = []
    for k in model.steps:
        label = name if k == model.steps[0] else f"{name}_{k}steps"
        out = pred_dir / f"{label}.nc"
        paths.append(
            predict(_checkpoint(s, name), store, "test", members, k, s.seed, None, out, max_samples=s.max_samples).path
        )
    return paths


def _check_models(s: DemoSettings) -> None:
    unknown = set(s.models) - set(DEMO_MODELS)
    if unknown:
        raise QpeflowError(f"demo: unknown model(s) {sorted(unknown)}; choose from {list(DEMO_MODELS)}")
    for name in s.models:
        missing = [n for n in _needs(s, name) if n not in s.models]
        if missing:
            raise QpeflowError(f"demo: {name} needs {missing} in --models")


def run_demo(s: DemoSettings) -> Path:
    """Run every stage; returns the path of the report's index.html."""
    from qpeflow.evaluate import evaluate
    from qpeflow.inference.predict import predict
    from qpeflow.report.build import build_report
    from qpeflow.training.fit import fit

    _check_models(s)
    t0 = time.perf_counter()
    s.out.mkdir(parents=True, exist_ok=True)
    store = _prepare(s)
    preds: list[Path] = []
    for name in [m for m in DEMO_MODELS if m in s.models]:
        fit(_config(s, name, store), overwrite=True)  # a demo run retrains its models
        preds += _predict_all(s, name, store)
    for b in DEMO_BASELINES:
        out = s.out / "predictions" / f"{b}.nc"
        preds.append(predict(None, store, "test", out=out, max_samples=s.max_samples, baseline=b).path)
    scores_dir = s.out / "scores"
    for p in preds:
        evaluate(p, scores_dir)
    index = build_report(scores_dir, s.out / "report")
    log.info(f"demo: done in {time.perf_counter() - t0:.0f} s -> {index}")
    return index
