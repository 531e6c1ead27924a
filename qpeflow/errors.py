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


def os_error_line(exc: OSError) -> str:
    """One line ``"<file>: <system reason>"`` for an ``OSError`` (disk full, permission denied ...)."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    reason = " ".join(str(reason).split())  # never more than one line
    names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
    return f"{' -> '.join(names)}: {reason}" if names else reason
