"""The one exception type users see.

Every problem with input data, configuration or files is raised as
:class:`QpeflowError` with a message that names the file (or setting) and the
problem, so that the CLI can print it on one line and exit with status 2.
"""

from __future__ import annotations

from os import PathLike


class QpeflowError(Exception):
    """A user-facing error: bad input, bad configuration, missing file."""


def input_error(path: str | PathLike[str] | None, problem: str) -> QpeflowError:
    """Build the standard error ``"<path>: <problem>"`` (or just the problem)."""
    return QpeflowError(f"{path}: {problem}" if path is not None else problem)
