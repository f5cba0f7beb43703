"""One process per run directory: an exclusive OS lock, a refusal to write over another
run's outputs, and Hydra's own record of the invocation written only once both checks pass.

The lock is ``fcntl.flock`` on ``<run dir>/.galstm.lock``: the kernel releases it when the
holding process exits in any way, ``kill -9`` included, so a dead holder never blocks the
next run. The file keeps the holder's PID for the refusal message. While the run works,
SIGTERM stops it as Ctrl-C does (``graceful_termination``), so the last checkpoint stands.

A run writes nothing into its directory until it has loaded its data and checked its device
(``Claim.begin``): a run refused before that (a bad config, missing data, a tampered
checkpoint, a finished run resumed) leaves every byte as it was. The lock file it created is
removed again, and so is the folder if it made it and left it empty; what it logged is held
back from the log files (``held_log``) and dropped.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from omegaconf import DictConfig, OmegaConf

from galstm_torch.errors import ConfigError, GalstmError

LOCK = ".galstm.lock"
# Files that only a run writes: a directory holding any of them belongs to that run.
OUTPUTS = ("checkpoint/state.json", "evaluations.csv", "best.json", "best_model.pt",
           "final_model.pt", "evaluation.json")


class RunDirRefused(ConfigError):
    """The run directory is busy or holds another run: refused before anything is written."""

    refused = True


class Claim:
    """A held run directory; ``begin()`` once the run writes into it (until then, the lock
    file and a folder this claim created are removed when the claim ends)."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.began = folder, False
        self.made_folder = self.made_lock = False

    def begin(self) -> None:
        self.began = True

    def leave_no_trace(self) -> None:
        """Called while the lock is still held, so no other run can be starting here."""
        if self.began:
            return
        with suppress(OSError):
            if self.made_lock:
                (self.folder / LOCK).unlink()
            if self.made_folder:
                self.folder.rmdir()  # only if empty


@contextmanager
def claim(folder: Path) -> Iterator[Claim]:
    """Hold the exclusive lock on ``folder`` (created if missing) until the block ends. An
    error raised before ``Claim.begin()`` is a refusal (``GalstmError.refused``)."""
    held = Claim(folder)
    try:
        import fcntl
    except ImportError:  # not POSIX: no kernel lock to take; the output check still applies
        yield held
        return
    try:
        held.made_folder = not folder.exists()
        folder.mkdir(parents=True, exist_ok=True)
        held.made_lock = not (folder / LOCK).exists()
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
        yield held
    except GalstmError as err:
        err.refused = err.refused or not held.began
        raise
    finally:
        held.leave_no_trace()
        os.close(fd)  # releases the lock


class _Hold(logging.Filter):
    """Keeps the records a file handler would write, instead of writing them."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        self.records.append(record)
        return False


@contextmanager
def held_log(folder: Optional[Path]) -> Iterator[Callable[[], None]]:
    """Until the returned ``release()`` is called, what is logged to the root logger's files
    in ``folder`` (Hydra's train.log in its run directory) is held back; release writes it.
    Never released, it is dropped: a refused run appends nothing to the log of the run it
    refused. (A filter on each file handler, so that tqdm's redirection of the console
    handlers cannot undo it; other log files are left alone.)"""
    files = [] if folder is None else [
        h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler)
        and Path(h.baseFilename).resolve().parent == folder.resolve()]
    holds = [(h, _Hold()) for h in files]
    for handler, hold in holds:
        handler.addFilter(hold)

    def release() -> None:
        for handler, hold in holds:
            handler.removeFilter(hold)
            for record in hold.records:
                handler.handle(record)
            hold.records.clear()
        holds.clear()

    try:
        yield release
    finally:
        for handler, hold in holds:  # not released: dropped
            handler.removeFilter(hold)


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
