"""Crash-safe file writes."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import GalstmError


class WriteFailed(GalstmError):
    """A file could not be written (disk full, read-only, no permission)."""


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{max(n / 1e3, 0.1):.1f} KB"


def atomic_write(path: Path, payload: bytes) -> None:
    """Write to a temporary file, fsync it, rename it over ``path``, fsync the folder: a kill
    at any instant leaves either the old file or the new one, never a partial one."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as err:  # a full or read-only disk: leave no partial file behind
        tmp.unlink(missing_ok=True)
        raise WriteFailed(f"cannot write {path} ({err.strerror}): free at least "
                          f"{_size(len(payload))} on that disk or make {path.parent} writable; "
                          "the previous version of the file is intact") from None
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
