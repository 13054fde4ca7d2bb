"""The one way RSMIF writes a file: whole or not at all.

:func:`atomic_write` lets a writer fill a temporary file in the destination's folder, flushes it to disk,
optionally checks it by reading it back, then renames it over the destination. Any failure (a full disk,
an I/O error, an exception of the writing library) removes the temporary file, leaves an earlier file at
the destination byte-identical, and raises :class:`~rsmif_core.errors.RunFailure` naming the path and the
cause.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rsmif_core.errors import RunFailure


def describe_os_error(exc: BaseException) -> str:
    """``No space left on device`` and the like: the cause of a failed write, in words."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return os.strerror(exc.errno)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "No space left" in text or str(errno.ENOSPC) in text.split():
        return "No space left on device"
    return text


def failure_cause(exc: BaseException, folder: Path) -> str:
    """The cause of a failed write. Libraries that write through their own layers (GDAL, HDF5) report a full
    disk as a generic write error, so a disk with almost no room left is named as the cause."""
    cause = describe_os_error(exc)
    if "space" not in cause.lower():
        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            return cause
        if free < 1 << 20:
            return f"No space left on device ({free} bytes free; the library said: {cause})"
    return cause


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not every platform can open a folder; the rename itself is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, write: Callable[[Path], Any], verify: Callable[[Path], Any] | None = None,
                 mode: int | None = None) -> Path:
    """Write ``path`` through ``write(temporary_path)``, then ``verify(temporary_path)``, then rename.

    ``mode`` defaults to what a newly created file gets under the process's umask (temporary files are
    created 0600, which would otherwise stay).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
    except OSError as exc:
        raise RunFailure(f"could not write {path}: {describe_os_error(exc)}") from None
    tmp = Path(name)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        if verify is not None:
            verify(tmp)
        os.chmod(tmp, _default_mode() if mode is None else mode)
        os.replace(tmp, path)
    except (KeyboardInterrupt, SystemExit):
        tmp.unlink(missing_ok=True)
        raise
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        kept = " (the earlier file is unchanged)" if path.exists() else ""
        raise RunFailure(f"could not write {path}: {failure_cause(exc, path.parent)}{kept}") from None
    _fsync_folder(path.parent)
    return path


def _default_mode() -> int:
    """0666 less the process's umask, read without changing it where the system tells it (Linux)."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    umask = os.umask(0o022)  # elsewhere: the only portable way to read it
    os.umask(umask)
    return 0o666 & ~umask


def write_text(path: Path, text: str) -> Path:
    """Write a text file (UTF-8) atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json(path: Path, payload: Any) -> Path:
    """Write JSON atomically; non-finite floats and other values JSON lacks are written as text."""
    return write_text(path, json.dumps(payload, indent=2, default=str) + "\n")
