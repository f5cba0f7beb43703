"""One process per run directory: an exclusive OS lock, a refusal to write over another
run's outputs, and Hydra's own record of the invocation written only once both checks pass.

The lock is ``fcntl.flock`` on ``<run dir>/.galstm.lock``: the kernel releases it when the
holding process exits in any way, ``kill -9`` included, so a dead holder never blocks the
next run. The file keeps the holder's PID for the refusal message. While the run works,
SIGTERM stops it as Ctrl-C does (``graceful_termination``), so the last checkpoint stands.
"""
from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional

from omegaconf import DictConfig, OmegaConf

from galstm_torch.errors import ConfigError

LOCK = ".galstm.lock"
# Files that only a run writes: a directory holding any of them belongs to that run.
OUTPUTS = ("checkpoint/state.json", "evaluations.csv", "best.json", "best_model.pt",
           "final_model.pt", "evaluation.json")


class RunDirRefused(ConfigError):
    """The run directory is busy or holds another run: refused before anything is written."""


@contextmanager
def claim(folder: Path) -> Iterator[None]:
    """Hold the exclusive lock on ``folder`` (created if missing) until the block ends."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no kernel lock to take; the output check still applies
        yield
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise RunDirRefused(f"cannot use {folder} as a run directory ({err.strerror}): "
                            "choose a writable hydra.run.dir") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise RunDirRefused(f"{folder} is in use by another run (process {holder}): wait for "
                            "it to finish or choose another hydra.run.dir") from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def refuse_if_used(folder: Path, *, hint: str) -> None:
    """A directory that holds any run's outputs is never written into by a new run."""
    found = [name for name in OUTPUTS if (folder / name).exists()]
    if found:
        raise RunDirRefused(f"{folder} already holds a run ({found[0]}): {hint}")


def write_hydra_record(cfg: DictConfig, hydra: Optional[Any], folder: Path) -> None:
    """What Hydra writes to ``.hydra/`` (config, hydra and overrides YAML), written by us once
    the run owns its directory (``hydra.output_subdir`` is null, so Hydra itself writes
    nothing that a refused run would leave behind)."""
    if hydra is None:
        return
    record = folder / ".hydra"
    record.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, record / "config.yaml")
    OmegaConf.save(OmegaConf.create({"hydra": OmegaConf.to_container(hydra)}),
                   record / "hydra.yaml")
    OmegaConf.save(OmegaConf.create(list(hydra.overrides.task)), record / "overrides.yaml")


@contextmanager
def graceful_termination() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt (as Ctrl-C is), so both stop a search the same
    way: the last checkpoint stands and the run says how to resume."""
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
