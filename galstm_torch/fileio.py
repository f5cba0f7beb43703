"""Crash-safe file writes."""
from __future__ import annotations

import os
from pathlib import Path


def atomic_write(path: Path, payload: bytes) -> None:
    """Write to a temporary file, fsync it, rename it over ``path``, fsync the folder: a kill
    at any instant leaves either the old file or the new one, never a partial one."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(payload)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
