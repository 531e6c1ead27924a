"""Atomic writes: the one way qpeflow puts a file or a folder under its final name.

A writer gets a temporary path in the *same folder* as the final one (so the
rename cannot cross file systems), writes there, and only a complete result is
moved into place:

- files: temp file -> flush + ``fsync`` -> mode ``0o666 & ~umask`` (the mode any
  file the user creates gets; ``mkstemp`` alone would leave 0600) -> ``os.replace``;
- folders (zarr stores): temp folder -> the old folder renamed aside -> the new
  one renamed in -> the old one deleted, so at every instant the final name holds
  either the complete old store or the complete new one.

A killed writer leaves only hidden ``.NAME.<random>.tmp`` entries;
:func:`clean_stale_temps` removes those of one output when a command starts.
Nothing here imports the rest of qpeflow.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

TMP_SUFFIX = ".tmp"
OLD_SUFFIX = ".old"


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def user_file_mode() -> int:
    """``0o666 & ~umask``: the mode ``open(path, "w")`` would give a new file."""
    return 0o666 & ~_umask()


def _temp_prefix(final: Path) -> str:
    return f".{final.name}."


def _own_prefix(final: Path) -> str:
    """Temp names carry the writer's pid, so a stale temp can be told from a live writer's."""
    return f"{_temp_prefix(final)}{os.getpid()}-"


def _temp_pattern(final: Path) -> re.Pattern[str]:
    """``.NAME.<pid>-<random>.tmp`` / ``.old``: exactly this output's temps (not those of ``NAME.b``)."""
    return re.compile(
        rf"^{re.escape(_temp_prefix(final))}(\d+)-[^/]*({re.escape(TMP_SUFFIX)}|{re.escape(OLD_SUFFIX)})$"
    )


def _writer_alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (ignored where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temp path beside ``final``; on normal exit it becomes ``final`` atomically.

    The caller writes the complete file at the yielded path (any library that takes
    a path: netCDF, PNG, torch.save). On an exception the temp file is removed and
    an existing ``final`` is left untouched.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=_own_prefix(final), suffix=TMP_SUFFIX, dir=final.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, user_file_mode())
        os.replace(tmp, final)
        _fsync_dir(final.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(final: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``final`` atomically; returns ``final``."""
    with atomic_path(final) as tmp:
        tmp.write_bytes(data)
    return Path(final)


def write_text(final: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``final`` atomically; returns ``final``."""
    return write_bytes(final, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_dir(final: str | Path) -> Iterator[Path]:
    """Yield a fresh, unique temp folder beside ``final``; on normal exit it replaces ``final``.

    The replacement is two renames (old aside, new in) followed by deleting the old
    folder: a kill at any point leaves ``final`` complete (old or new). Deciding
    whether ``final`` may be replaced at all is the caller's job.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=_own_prefix(final), suffix=TMP_SUFFIX, dir=final.parent))
    try:
        yield tmp
        _swap_in(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap_in(new: Path, final: Path) -> None:
    os.chmod(new, 0o777 & ~_umask())
    old = None
    if final.exists() or final.is_symlink():
        old = final.with_name(f"{_own_prefix(final)}{uuid.uuid4().hex[:8]}{OLD_SUFFIX}")
        os.replace(final, old)
    os.replace(new, final)
    _fsync_dir(final.parent)
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink(missing_ok=True)


def stale_temps(final: str | Path) -> list[Path]:
    """The hidden temp entries (files or folders) that a dead writer of ``final`` left behind.

    Entries of a writer that is still running (its pid is in the name) are not stale.
    """
    final = Path(final)
    if not final.parent.is_dir():
        return []
    pattern = _temp_pattern(final)
    found = ((p, pattern.match(p.name)) for p in final.parent.iterdir())
    return sorted(p for p, m in found if m is not None and not _writer_alive(m.group(1)))


def clean_stale_temps(final: str | Path) -> int:
    """Remove :func:`stale_temps` of ``final``; returns how many were removed.

    Call it when a command that writes ``final`` starts; a concurrent writer's own
    temp entries are kept.
    """
    found = stale_temps(final)
    for p in found:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    return len(found)
