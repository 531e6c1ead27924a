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
            "`python -c 'from qpeflow.datasets import fetch; fetch()'` where the network allows."
        )
    return path


def missing_reason(relative: str | Path) -> str | None:
    """None if the sample exists, else the reason to skip a test (used by tests)."""
    try:
        data_path(relative)
    except QpeflowError as exc:
        return str(exc)
    return None
