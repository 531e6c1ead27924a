"""The checkpoints shipped inside the package (``qpeflow/checkpoints/``) and their manifest.

``resolve_checkpoint("cfm_residual")`` returns the shipped file of that name, so
every command that takes ``--checkpoint`` accepts either a path or a shipped name.
The manifest (:mod:`qpeflow.training.export`) says what each was trained on and
the command that reproduces it; :func:`check_shipped` verifies the sha256.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qpeflow.errors import QpeflowError
from qpeflow.io.checksum import sha256_file
from qpeflow.training.export import MANIFEST_NAME, read_manifest

SHIPPED_DIR = Path(__file__).resolve().parents[1] / "checkpoints"


def shipped_manifest(folder: Path = SHIPPED_DIR) -> dict[str, dict[str, Any]]:
    """name -> manifest entry of the shipped checkpoints ({} when none are shipped)."""
    return read_manifest(folder / MANIFEST_NAME)


def resolve_checkpoint(name_or_path: str | Path, folder: Path = SHIPPED_DIR) -> Path:
    """A path that exists, or the shipped checkpoint called ``name_or_path``."""
    p = Path(name_or_path)
    if p.exists() or p.suffix or "/" in str(name_or_path):
        return p
    entries = shipped_manifest(folder)
    if str(name_or_path) in entries:
        return folder / entries[str(name_or_path)]["file"]
    known = ", ".join(sorted(entries)) or "none"
    raise QpeflowError(
        f"{name_or_path}: no such checkpoint file, and no shipped checkpoint of that name (shipped: {known})"
    )


def check_shipped(name: str, folder: Path = SHIPPED_DIR) -> Path:
    """The shipped file of ``name`` after checking its sha256 against the manifest."""
    entry = shipped_manifest(folder).get(name)
    if entry is None:
        raise QpeflowError(f"{folder / MANIFEST_NAME}: no shipped checkpoint {name!r}")
    path = folder / entry["file"]
    if not path.is_file():
        raise QpeflowError(f"{path}: shipped checkpoint missing (reinstall qpeflow)")
    if sha256_file(path) != entry["sha256"]:
        raise QpeflowError(f"{path}: sha256 differs from the manifest (damaged or replaced file)")
    return path
