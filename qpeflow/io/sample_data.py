"""Where real sample files live: the ``QPEFLOW_DATA`` folder.

Files are looked up by a stable path relative to that folder, the layout of the
project's ``shared/data`` (``radar/OPERA/20180824/...``, ``seviri/...``).
``QPEFLOW_DATA`` defaults to a per-user cache folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from qpeflow.errors import QpeflowError

ENV_VAR = "QPEFLOW_DATA"


def data_root() -> Path:
    """The data folder: ``$QPEFLOW_DATA`` or the user cache dir ``.../qpeflow/data``."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("qpeflow")) / "data"


def data_path(relative: str | Path, must_exist: bool = True) -> Path:
    """Absolute path of a sample file or folder given by its path relative to the data root.

    Raises:
        QpeflowError: (``must_exist``) the file is absent; the message says how to provide it.
    """
    path = data_root() / relative
    if must_exist and not path.exists():
        raise QpeflowError(
            f"{path}: sample data not found. Set {ENV_VAR} to a folder laid out like the project's "
            f"shared/data (now {data_root()}), or fetch the public pysteps example files with "
            "`python -c 'from qpeflow.io.sample_data import fetch; fetch()'` where the network allows."
        )
    return path


def missing_reason(relative: str | Path) -> str | None:
    """None if the sample exists, else the reason to skip a test (used by tests)."""
    try:
        data_path(relative)
    except QpeflowError as exc:
        return str(exc)
    return None


#: Public raw-file base URL of the pysteps example data (same relative layout as QPEFLOW_DATA).
BASE_URL = "https://raw.githubusercontent.com/pySTEPS/pysteps-data/master/"


def registry() -> dict[str, str]:
    """Relative path -> sha256 of every fetchable sample file (see :mod:`qpeflow.io.sample_registry`)."""
    from qpeflow.io.sample_registry import REGISTRY

    return REGISTRY


def fetch(names: list[str] | None = None, base_url: str | None = None) -> list[Path]:
    """Download sample files (default: all of :func:`registry`) into :func:`data_root`.

    Files already present with the right checksum are not downloaded again.

    Raises:
        QpeflowError: an unknown name, or a file that cannot be downloaded (no
            network): the message names the file and how to provide it by hand.
    """
    import pooch

    reg = registry()
    wanted = list(reg) if names is None else list(names)
    unknown = [n for n in wanted if n not in reg]
    if unknown:
        raise QpeflowError(f"{unknown[0]}: not a known sample file (see qpeflow.io.sample_registry)")
    url = base_url or BASE_URL
    store = pooch.create(
        path=data_root(), base_url=url, registry={n: f"sha256:{reg[n]}" for n in wanted}, retry_if_failed=0
    )
    paths = []
    for name in wanted:
        try:
            paths.append(Path(store.fetch(name, progressbar=False)))
        except Exception as exc:  # requests/pooch raise many kinds offline
            raise QpeflowError(
                f"{data_root() / name}: sample file missing and could not be downloaded from "
                f"{url}{name} ({type(exc).__name__}). Copy it there by hand (from a clone of "
                f"https://github.com/pySTEPS/pysteps-data) or set {ENV_VAR} to a folder that has it."
            ) from exc
    return paths
