"""Output paths checked before any work, and stale temp files of dead writers removed.

Every writing command calls these first, so that a read-only folder, ``-o``
naming a directory or ``--out`` naming a file is one line and exit status 2
*before* minutes of work, never a traceback after them. The writes themselves
go through :mod:`qpeflow.io.atomic`; the hidden ``.NAME.<pid>-<random>.tmp``
entries a SIGKILL leaves behind are removed here when the next command starts
(:func:`qpeflow.io.atomic.clean_stale_temps`; a live writer's own are kept).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from qpeflow.errors import input_error
from qpeflow.io.atomic import OLD_SUFFIX, TMP_SUFFIX, clean_stale_temps


def _existing_ancestor(path: Path) -> Path:
    """The nearest ancestor of ``path`` (itself excluded) that exists."""
    parent = path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return parent


def _check_creatable(path: Path, option: str) -> None:
    """The folders above ``path`` exist (or can be made) and the lowest existing one is writable."""
    ancestor = _existing_ancestor(path)
    if not ancestor.is_dir():
        raise input_error(path, f"{option}: cannot create it, {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise input_error(path, f"{option}: cannot write there, the folder {ancestor} is not writable")


def check_output_file(path: str | Path | None, option: str) -> Path | None:
    """Raise unless ``path`` can be (re)written as a file; removes its stale temp files.

    Args:
        path: the final file (None: nothing to check).
        option: the command-line option that named it, for the message (``-o``, ``--png``).
    """
    if path is None:
        return None
    p = Path(path)
    if p.is_dir():
        raise input_error(p, f"{option}: is a folder; give a file name")
    _check_creatable(p, option)
    clean_stale_temps(p)
    return p


def check_output_dir(path: str | Path, option: str, finals: Iterable[str] = ()) -> Path:
    """Raise unless ``path`` is (or can become) a writable folder; removes stale temps in it.

    Args:
        path: the output folder.
        option: the option that named it (``-o``, ``--out``, ``train.out``).
        finals: names inside ``path`` whose stale temps to remove; every stale temp
            of the folder is removed as well (:func:`clean_folder`).
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise input_error(p, f"{option}: is a file, not a folder")
    if p.is_dir():
        if not os.access(p, os.W_OK | os.X_OK):
            raise input_error(p, f"{option}: the folder is not writable")
        for name in finals:
            clean_stale_temps(p / name)
        clean_folder(p)
    else:
        _check_creatable(p, option)
    return p


def check_output_store(path: str | Path, option: str) -> Path:
    """A zarr store (a folder written through a temp folder beside it): checked as a file name."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise input_error(p, f"{option}: is a file, not a zarr store folder")
    _check_creatable(p, option)
    clean_stale_temps(p)
    return p


def _final_name(temp: str) -> str | None:
    """``.NAME.<pid>-<random>.tmp`` (or ``.old``) -> ``NAME``; None for any other name."""
    if not temp.startswith(".") or not temp.endswith((TMP_SUFFIX, OLD_SUFFIX)):
        return None
    stem = temp[1:].rsplit(".", 1)[0]  # NAME.<pid>-<random>
    name, _, tag = stem.rpartition(".")
    return name if name and tag.split("-", 1)[0].isdigit() else None


def clean_folder(folder: str | Path) -> int:
    """Remove the stale temp entries of every output in ``folder`` (figures/, scores/); returns the count."""
    root = Path(folder)
    if not root.is_dir():
        return 0
    names = {n for n in (_final_name(p.name) for p in root.iterdir()) if n is not None}
    return sum(clean_stale_temps(root / n) for n in sorted(names))
