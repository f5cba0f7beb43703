"""Train genomes in parallel in worker processes on this machine, without Ray.

Why: one small LSTM at batch 32 leaves most of a GPU idle (each step is a few short kernels,
so the time goes to Python and kernel launches), and a many-core CPU runs several trainings
at once faster than one training with many threads. Each worker is a spawned process with
its own CUDA context (or its own torch threads) that loads the data once; worker i uses GPU
i mod the number of GPUs. The driver keeps the search, the cache and the checkpoints, so a
worker that dies stops the run with one line and the run resumes from its last genome.
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Iterator, Optional

import torch

from .errors import ClusterError, GalstmError
from .executor import Outcome, Task
from .worker import GenomeWorker

log = logging.getLogger(__name__)

_worker: Optional[GenomeWorker] = None  # this worker process's GenomeWorker


def _start(spec: dict[str, Any], counter: Any) -> None:
    """Pool initializer: pick this worker's device and load the data onto it. Ctrl-C is the
    driver's to handle (it checkpoints and stops the workers), so workers ignore it."""
    global _worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with counter.get_lock():
        index, counter.value = counter.value, counter.value + 1
    if spec["device"] == "cuda":
        spec = {**spec, "device": f"cuda:{index % torch.cuda.device_count()}"}
    _worker = GenomeWorker(spec)


def _train(task: Task) -> Outcome:
    assert _worker is not None
    if _worker.error is not None:
        raise _worker.error
    return _worker.run(task)


def _ready(_: int) -> "dict[str, Any]":
    assert _worker is not None
    status = _worker.ready()
    if isinstance(status, Exception):
        raise status
    return status


def pool_device(device: str) -> str:
    """The workers' device type: auto means cuda when this machine has a GPU."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return "cuda" if device.startswith("cuda") else device


class PoolExecutor:
    """``num_workers`` spawned processes, each training one genome at a time; outcomes are
    yielded as they finish. Results equal the serial executor's when both use the same
    number of torch threads per training (on CPU; CUDA kernels may differ in the last bits)."""

    def __init__(self, spec: dict[str, Any], num_workers: int) -> None:
        ctx = mp.get_context("spawn")  # CUDA cannot be used in a forked child
        self._pool = ProcessPoolExecutor(num_workers, mp_context=ctx, initializer=_start,
                                         initargs=(spec, ctx.Value("i", 0)))
        try:
            # Start every worker now, so that a start-up error is one line before any training.
            statuses = list(self._pool.map(_ready, range(num_workers)))
        except GalstmError:
            self.close()
            raise
        except BrokenProcessPool as err:
            self.close()
            raise ClusterError(f"a pool worker died while starting: {err}") from None
        log.info("pool of %d workers: %s", num_workers,
                 ", ".join(f"{s['device']}/{s['threads']} threads" for s in statuses[:4]))

    def map(self, tasks: list[Task]) -> Iterator[Outcome]:
        pending: set[Future] = {self._pool.submit(_train, task) for task in tasks}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        except BrokenProcessPool:
            raise ClusterError("a pool worker process died (killed, or out of host memory); "
                               "the finished genomes are checkpointed: resume the run") from None
        finally:
            for future in pending:
                future.cancel()

    def close(self) -> None:
        """Stop the workers at once: they hold nothing the driver has not checkpointed, and
        an interrupted run should not wait for the trainings in flight."""
        processes = list(getattr(self._pool, "_processes", {}).values())  # no public handle
        self._pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=10)


def default_workers(device: str, threads: int) -> int:
    """Four trainings per GPU (small models leave a GPU mostly idle; BENCHMARKS.md), else one
    worker per `threads` CPU cores."""
    if device == "cuda":
        return 4 * torch.cuda.device_count()
    return max(1, (os.cpu_count() or 1) // threads)
