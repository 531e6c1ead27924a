"""Export a trained checkpoint for shipping: EMA weights in fp16, provenance, and a manifest entry.

An exported checkpoint keeps the checkpoint contract (it loads with
:func:`qpeflow.checkpoint.load_checkpoint` and :func:`qpeflow.inference.estimator.load_estimator`),
but holds only what estimation needs: the EMA weights (also as ``state_dict``), in
float16 (half the bytes; the weights are cast back to float32 when loaded, a
relative change below 1e-3 per weight), an empty optimizer, and the embedded
components in float16 too. ``exported = True`` marks it: it cannot be resumed.

The manifest (``manifest.json`` beside the files) has one entry per checkpoint:
file, sha256, bytes, method label, config, data provenance (store, source,
infrared, events and draws per split, simulator version), steps, training
seconds and steps/s, validation record, and the one ``qpeflow train`` command that
reproduces it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from qpeflow.checkpoint import load_checkpoint, save_checkpoint
from qpeflow.errors import QpeflowError
from qpeflow.io.atomic import write_text
from qpeflow.io.checksum import sha256_file

MANIFEST_NAME = "manifest.json"


def _half(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.half() if v.is_floating_point() else v for k, v in state.items()}


def _slim_components(components: dict[str, Any]) -> dict[str, Any]:
    return {name: {**part, "state_dict": _half(part["state_dict"])} for name, part in components.items()}


def _json_attr(attrs: dict[str, Any], key: str) -> Any:
    value = attrs.get(key)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def data_provenance(attrs: dict[str, Any]) -> dict[str, Any]:
    """The store facts a user needs to judge a checkpoint: where its training data came from."""
    keep = ("store", "source", "infrared", "simulator_version", "resolution_km", "cadence_minutes", "channels")
    out = {k: attrs[k] for k in keep if k in attrs}
    for key in ("events", "split_events", "split_draws", "draws"):
        if key in attrs:
            out[key] = _json_attr(attrs, key)
    return out


def export_checkpoint(src: str | Path, out_dir: str | Path, name: str, train_command: str) -> dict[str, Any]:
    """Write ``out_dir/<name>.pt`` (slim, fp16) and its entry in ``out_dir/manifest.json``; returns the entry."""
    if not name.replace("_", "").isalnum():
        raise QpeflowError(f"export: name {name!r} must be letters, digits and underscores")
    payload = load_checkpoint(src)
    ema = _half(payload["ema"])
    slim = {
        **{k: payload[k] for k in ("step", "config", "versions", "normalisation", "data_provenance")},
        "state_dict": ema,
        "ema": ema,
        "optimizer": {},
        "format_version": payload["format_version"],
        "components": _slim_components(payload.get("components", {})),
        "validation": payload.get("validation", {}),
        "train_seconds": payload.get("train_seconds", 0.0),
        "exported": True,
    }
    out = Path(out_dir) / f"{name}.pt"
    save_checkpoint(out, slim)
    seconds = float(payload.get("train_seconds", 0.0))
    entry = {
        "name": name,
        "file": out.name,
        "sha256": sha256_file(out),
        "bytes": out.stat().st_size,
        "dtype": "float16",
        "source_checkpoint": str(src),
        "step": int(payload["step"]),
        "train_seconds": round(seconds, 1),
        "steps_per_s": round(int(payload["step"]) / seconds, 3) if seconds > 0 else None,
        "validation": payload.get("validation", {}),
        "config": payload["config"],
        "data": data_provenance(dict(payload["data_provenance"])),
        "train_command": train_command,
    }
    _update_manifest(Path(out_dir) / MANIFEST_NAME, entry)
    return entry


def read_manifest(path: str | Path) -> dict[str, dict[str, Any]]:
    """name -> entry of a manifest file ({} when absent)."""
    p = Path(path)
    if not p.is_file():
        return {}
    try:
        doc = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise QpeflowError(f"{p}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return {e["name"]: e for e in doc.get("checkpoints", [])}


def _update_manifest(path: Path, entry: dict[str, Any]) -> None:
    entries = read_manifest(path)
    entries[entry["name"]] = entry
    doc = {
        "about": "qpeflow's shipped checkpoints (EMA weights, fp16); each entry names the command that reproduces it",
        "checkpoints": [entries[k] for k in sorted(entries)],
    }
    write_text(path, json.dumps(doc, indent=1, default=str) + "\n")
