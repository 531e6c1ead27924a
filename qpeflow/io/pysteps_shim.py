"""Import pysteps without its import banner.

pysteps prints "Pysteps configuration file found at ..." on import unless the
pystepsrc it finds sets ``"silent_import": true``. We copy pysteps' own default
pystepsrc with that flag set into a per-user cache file and point ``PYSTEPSRC``
at it before the first import (an rc the user chose via ``PYSTEPSRC`` is kept).
"""

from __future__ import annotations

import importlib.util
import os
import re
import tempfile
from pathlib import Path
from types import ModuleType

from qpeflow.io.atomic import write_text


def _silent_rc_path() -> Path:
    """Write (once) a copy of pysteps' default pystepsrc with silent_import true; return its path."""
    spec = importlib.util.find_spec("pysteps")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("pysteps is not installed")
    default = Path(spec.origin).parent / "pystepsrc"
    text = default.read_text()
    text = re.sub(r'"silent_import"\s*:\s*false', '"silent_import": true', text)
    try:
        from platformdirs import user_cache_dir

        folder = Path(user_cache_dir("qpeflow"))
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        folder = Path(tempfile.gettempdir())
    target = folder / "pystepsrc"
    if not target.exists() or target.read_text() != text:
        write_text(target, text)
    return target


def import_pysteps() -> ModuleType:
    """Return the ``pysteps`` module, imported silently (see module docstring)."""
    if "PYSTEPSRC" not in os.environ:
        os.environ["PYSTEPSRC"] = str(_silent_rc_path())
    import pysteps

    return pysteps
