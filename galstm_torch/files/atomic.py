"""Crash-safe file writes, and JSON without NaN."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Callable

from galstm_torch.errors import GalstmError


class WriteFailed(GalstmError):
    """A file could not be written (disk full, read-only, no permission)."""


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{max(n / 1e3, 0.1):.1f} KB"


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, payload: "bytes | Callable[[Path], None]") -> None:
    """Write to a temporary file, fsync it, rename it over ``path``, fsync the folder: a kill
    at any instant leaves either the old file or the new one, never a partial one.
    ``payload`` is the bytes, or a function that writes the file at the path it is given
    (``torch.save`` names the archive inside a model export after that path)."""
    tmp = path.with_name(f"{path.name}.tmp")
    try:
        if callable(payload):
            payload(tmp)
        else:
            with open(tmp, "wb") as f:
                f.write(payload)
        _fsync(tmp)
        os.replace(tmp, path)
    except OSError as err:  # a full or read-only disk: leave no partial file behind
        need = len(payload) if isinstance(payload, bytes) else 0
        raise WriteFailed(f"cannot write {path} ({err.strerror}): free "
                          f"{f'at least {_size(need)}' if need else 'space'} on that disk or make "
                          f"{path.parent} writable; the previous version of the file is intact") from None
    finally:
        tmp.unlink(missing_ok=True)  # gone already once renamed
    _fsync(path.parent)


def finite(x: float) -> "float | None":
    """``x``, or None (JSON null) where it is NaN or infinite: JSON has no NaN."""
    return x if math.isfinite(x) else None


def write_json(path: Path, data: Any) -> None:
    """``data`` as indented JSON with a final newline, written atomically."""
    atomic_write(path, (json.dumps(data, indent=2) + "\n").encode())
