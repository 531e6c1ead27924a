"""Checkpoints: plain dicts of tensors and plain values, never pickled classes.

Payload (DESIGN.md, "Checkpoint")::

    {state_dict, ema, optimizer, step, config (config_to_dict), versions,
     normalisation {ir_mean, ir_std, channels, time_in, cadence_minutes},
     data_provenance {store attrs}, format_version, rng}

plus ``mean: {state_dict, config, normalisation}`` in a residual checkpoint, so
that it is self-contained. Files are written atomically
(:mod:`qpeflow.io.atomic`) and read with ``torch.load(weights_only=True)``, so
a checkpoint from elsewhere cannot run code.
"""

from __future__ import annotations

import importlib.metadata
import pickle
import platform
import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qpeflow.errors import input_error
from qpeflow.io.atomic import atomic_path

FORMAT_VERSION = 1
REQUIRED_KEYS = (
    "state_dict",
    "ema",
    "optimizer",
    "step",
    "config",
    "versions",
    "normalisation",
    "data_provenance",
    "format_version",
)


def qpeflow_version() -> str:
    """The installed package version (``unknown`` when run from an uninstalled tree)."""
    try:
        return importlib.metadata.version("qpeflow")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def versions() -> dict[str, str]:
    """Software versions recorded in every checkpoint."""
    return {
        "qpeflow": qpeflow_version(),
        "torch": str(torch.__version__),
        "numpy": str(np.__version__),
        "python": platform.python_version(),
    }


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically; a reader never sees a half-written file."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save({**payload, "format_version": payload.get("format_version", FORMAT_VERSION)}, tmp)
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint on the CPU with ``weights_only=True`` and check its contract.

    Raises:
        QpeflowError: absent, truncated or corrupt file, not a qpeflow checkpoint
            (missing keys), or a ``format_version`` this code does not read.
    """
    path = Path(path)
    if not path.is_file():
        raise input_error(path, "checkpoint not found")
    if not zipfile.is_zipfile(path):  # torch.save always writes a zip archive
        raise input_error(path, "not a readable checkpoint (truncated or corrupt?): not a torch zip archive")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        if "Weights only load failed" in str(exc):
            raise input_error(
                path,
                "holds objects other than tensors and plain values; refused, since "
                "loading it could run code (not a qpeflow checkpoint?)",
            ) from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise input_error(path, f"not a readable checkpoint (truncated or corrupt?): {first}") from None
    if not isinstance(payload, dict):
        raise input_error(path, "not a qpeflow checkpoint (expected a dict)")
    missing = [k for k in REQUIRED_KEYS if k not in payload]
    if missing:
        raise input_error(path, f"not a qpeflow checkpoint: missing {missing}")
    if payload["format_version"] != FORMAT_VERSION:
        raise input_error(
            path,
            f"checkpoint format_version {payload['format_version']!r}; this qpeflow "
            f"reads version {FORMAT_VERSION} (use the qpeflow version that wrote it)",
        )
    return payload


def rng_state() -> dict[str, Any]:
    """All global RNG states as tensors and plain values (weights_only-loadable)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, py_state, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "gauss": float(gauss),
        },
        "python": {"version": version, "state": list(py_state), "gauss": py_gauss},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
