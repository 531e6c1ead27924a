"""Checkpoints: plain dicts of tensors and plain values, never pickled classes.

Payload (DESIGN.md, "Checkpoint")::

    {state_dict, ema, optimizer, step, config (config_to_dict), versions,
     normalisation {ir_mean, ir_std, channels, time_in, cadence_minutes},
     data_provenance {store attrs}, format_version, rng}

plus ``components``: the trained parts a composed method is built from (e.g.
``components["mean"] = {state_dict, config, normalisation, ...}`` for a residual,
:mod:`qpeflow.build`), so that it is self-contained. Files are written atomically
(:mod:`qpeflow.io.atomic`) and read with ``torch.load(weights_only=True)``, so
a checkpoint from elsewhere cannot run code. Before loading, every member of the
zip archive is checked against its CRC-32 (``torch.load`` does not: bit rot
inside a tensor would load); after loading, every weight (components included)
must be finite and every normalisation complete (a state dict that does not fit
the network its config builds is refused where the network is built,
:mod:`qpeflow.inference.estimator`).
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

FORMAT_VERSION = 2  # 2: composed parts under `components` (1 had a top-level `mean`)
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
#: normalisation entries estimate and predict rely on
NORMALISATION_KEYS = ("ir_mean", "ir_std", "channels", "time_in", "cadence_minutes")


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
    check_archive(path)
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
    check_weights(path, payload)
    check_normalisation(path, payload["normalisation"], "normalisation")
    for name, part in _components(payload).items():
        if "normalisation" in part:
            check_normalisation(path, part["normalisation"], f"{name}.normalisation")
    return payload


def check_archive(path: Path) -> None:
    """Raise if a member of the checkpoint's zip fails its CRC-32 (bit rot, a partial copy)."""
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise input_error(path, f"not a readable checkpoint (truncated or corrupt?): {first}") from None
    if bad is not None:
        raise input_error(path, f"corrupt checkpoint: archive member {bad!r} fails its CRC check (damaged file?)")


def _components(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Embedded trained parts: ``components`` (format 2) or a top-level ``mean`` (format 1)."""
    parts = payload.get("components")
    found = dict(parts) if isinstance(parts, dict) else {}
    if isinstance(payload.get("mean"), dict):
        found["mean"] = payload["mean"]
    return {f"components.{k}": v for k, v in found.items() if isinstance(v, dict)}


def check_weights(path: Path, payload: dict[str, Any]) -> None:
    """Raise naming the first tensor of ``state_dict`` / ``ema`` / a component that is not finite."""
    states = {k: payload.get(k) for k in ("state_dict", "ema")}
    states.update({f"{k}.state_dict": v.get("state_dict") for k, v in _components(payload).items()})
    for where, state in states.items():
        if state is None:
            continue
        if not isinstance(state, dict):
            raise input_error(path, f"not a qpeflow checkpoint: {where} is not a mapping of tensors")
        for name, t in state.items():
            if isinstance(t, torch.Tensor) and t.is_floating_point() and not bool(torch.isfinite(t).all()):
                raise input_error(path, f"corrupt checkpoint: {where} tensor {name!r} holds NaN or infinite values")


def check_normalisation(path: Path, norm: Any, where: str) -> None:
    """Raise unless ``norm`` has finite ``ir_mean`` and positive ``ir_std`` for each of its channels."""
    if not isinstance(norm, dict):
        raise input_error(path, f"not a qpeflow checkpoint: {where} is not a mapping")
    missing = [k for k in NORMALISATION_KEYS if k not in norm]
    if missing:
        raise input_error(path, f"not a usable qpeflow checkpoint: {where} lacks {missing}")
    n = len(norm["channels"])
    mean, std = np.asarray(norm["ir_mean"], float), np.asarray(norm["ir_std"], float)
    if mean.shape != (n,) or std.shape != (n,):
        raise input_error(path, f"{where}: ir_mean/ir_std have {mean.size}/{std.size} values for {n} channels")
    if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
        raise input_error(path, f"{where}: ir_mean/ir_std must be finite and ir_std > 0")


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
