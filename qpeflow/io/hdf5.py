"""Small helpers for HDF5 readers: open with a clear error, decode attributes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from os import PathLike
from typing import Any

import numpy as np

from qpeflow.errors import input_error


@contextmanager
def open_hdf5(path: str | PathLike[str]) -> Iterator[Any]:
    """Open an HDF5 file read-only; a truncated/corrupt/non-HDF5 file raises QpeflowError."""
    import h5py

    try:
        fh = h5py.File(path, "r")
    except FileNotFoundError as exc:
        raise input_error(path, "file not found") from exc
    except OSError as exc:
        raise input_error(path, f"not a readable HDF5 file (truncated or corrupt?): {exc}") from exc
    try:
        yield fh
    finally:
        fh.close()


def attr_str(value: Any) -> str:
    """An HDF5 string attribute (bytes, numpy bytes, 1-element array) as ``str``."""
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0] if value.size else ""
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("utf-8", errors="replace").strip("\x00 ")
    return str(value).strip()


def attr_float(value: Any) -> float:
    """An HDF5 numeric attribute (scalar or 1-element array) as ``float``."""
    return float(np.asarray(value).reshape(-1)[0])
