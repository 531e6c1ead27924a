"""A tiny study for the benchmark-script tests: a tiny store and checkpoints trained for a few steps.

``train_tiny(root, names)`` trains the named configs of ``configs/`` (``unet``,
``cfm``, ``cfm_residual`` on top of ``unet``, ``ddpm_team`` with its 500 diffusion
steps) on a 16 x 16 store in seconds; the weights are meaningless, the files are real.
"""

from __future__ import annotations

from pathlib import Path

from qpeflow.config import load_config
from qpeflow.training.fit import fit
from tests.paths import CONFIGS
from tests.writers.store import make_tiny_store, tiny_overrides

#: config file of each tiny model, and overrides beyond tiny_overrides
TINY_MODELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "unet": ("unet", ()),
    "cfm": ("cfm", ()),
    "cfm_residual": ("cfm_residual", ("method.residual_of={root}/unet/checkpoint.pt",)),
    "ddpm_team": ("ddpm_team", ("method.diffusion_steps=500",)),
}


def tiny_store(root: Path) -> Path:
    """16 samples of 16 x 16 px (test split: 4 samples)."""
    return make_tiny_store(root / "store.zarr", n=16, size=16)


def train_tiny(root: Path, store: Path, names: tuple[str, ...], steps: int = 2) -> dict[str, Path]:
    """name -> checkpoint path of each tiny model (``root/<name>/checkpoint.pt``)."""
    out = {}
    for name in names:
        config, extra = TINY_MODELS[name]
        sets = tiny_overrides(store, root / name, steps) + [e.format(root=root) for e in extra]
        fit(load_config(CONFIGS / f"{config}.yaml", sets))
        out[name] = root / name / "checkpoint.pt"
    return out
