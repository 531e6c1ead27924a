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
import time
from dataclasses import dataclass, replace
from pathlib import Path

from qpeflow.config import ExperimentConfig, load_config
from qpeflow.errors import QpeflowError

log = logging.getLogger(__name__)

#: demo model label -> (config file in configs/, overrides); trained in this order
#: (the residual model needs the U-Net checkpoint).
DEMO_MODELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "unet": ("unet.yaml", ()),
    "cfm": ("cfm.yaml", ()),
    "cfm_residual": ("cfm_residual.yaml", ()),
    "ddpm": ("ddpm.yaml", ("sample.steps=20",)),  # DDIM-20: the demo must finish on a laptop
}

#: extra step counts predicted for flow models (quality vs NFE figure)
FLOW_STEP_SWEEP = (1, 2, 8)


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


def _config(s: DemoSettings, name: str, store: Path) -> ExperimentConfig:
    file, extra = DEMO_MODELS[name]
    path = s.configs / file
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
        *extra,
    ]
    if "residual" in name:
        overrides.append(f"method.residual_of={s.out / 'runs' / 'unet' / 'checkpoint.pt'}")
    return load_config(path, overrides)


def _prepare(s: DemoSettings) -> Path:
    from qpeflow.data.prepare import prepare

    store = s.out / "synthetic.zarr"
    if store.exists():
        log.info(f"demo: reusing {store}")
        return store
    cfg = replace(ExperimentConfig().prepare, source="synthetic", n_events=s.n_events, seed=s.seed)
    prepare(cfg, store)
    return store


def _predict_all(s: DemoSettings, name: str, cfg: ExperimentConfig, store: Path) -> list[Path]:
    from qpeflow.inference.predict import predict

    ckpt = Path(cfg.train.out) / "checkpoint.pt"
    pred_dir = s.out / "predictions"
    if cfg.method.kind == "regression":
        return [
            predict(ckpt, store, "test", 1, 1, s.seed, None, pred_dir / f"{name}.nc", max_samples=s.max_samples).path
        ]
    steps = [cfg.sample.steps]
    if cfg.method.kind == "flow":
        steps = sorted(set(FLOW_STEP_SWEEP) | set(steps))
    paths = []
    for k in steps:
        label = name if k == cfg.sample.steps else f"{name}_{k}steps"
        paths.append(
            predict(
                ckpt, store, "test", s.members, k, s.seed, None, pred_dir / f"{label}.nc", max_samples=s.max_samples
            ).path
        )
    return paths


def run_demo(s: DemoSettings) -> Path:
    """Run every stage; returns the path of the report's index.html."""
    from qpeflow.evaluate import evaluate, evaluate_baselines
    from qpeflow.report.build import build_report
    from qpeflow.training.fit import fit

    unknown = set(s.models) - set(DEMO_MODELS)
    if unknown:
        raise QpeflowError(f"demo: unknown model(s) {sorted(unknown)}; choose from {list(DEMO_MODELS)}")
    if any("residual" in m for m in s.models) and "unet" not in s.models:
        raise QpeflowError("demo: the residual model needs 'unet' in --models")
    t0 = time.perf_counter()
    s.out.mkdir(parents=True, exist_ok=True)
    store = _prepare(s)
    preds: list[Path] = []
    for name in [m for m in DEMO_MODELS if m in s.models]:
        cfg = _config(s, name, store)
        fit(cfg)
        preds += _predict_all(s, name, cfg, store)
    scores_dir = s.out / "scores"
    for p in preds:
        evaluate(p, scores_dir)
    evaluate_baselines(preds[0], scores_dir)
    index = build_report(scores_dir, s.out / "report")
    log.info(f"demo: done in {time.perf_counter() - t0:.0f} s -> {index}")
    return index
