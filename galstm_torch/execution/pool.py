"""Train genomes in parallel in worker processes on this machine, without Ray.

Why: one small LSTM at batch 32 leaves most of a GPU idle (each step is a few short kernels,
so the time goes to Python and kernel launches), and a many-core CPU runs several trainings
at once faster than one training with many threads. Each worker is a spawned process with
its own CUDA context (or its own torch threads) that loads the data once; worker i uses GPU
i mod the number of GPUs. The driver keeps the search, the cache and the checkpoints: a
worker that dies is replaced (the pool is started again) and its genome trained again with
its own seed, so the result is unchanged; after MAX_RESTARTS the run stops in one line and
resumes from its last genome.
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Iterator, Optional

import torch

from galstm_torch.errors import ClusterError, ConfigError
from galstm_torch.execution.capabilities import (
    LATENCY,
    SHARED_TIMING,
    Capabilities,
    Launch,
    refuse_precision,
)
from galstm_torch.execution.executor import Outcome, Task
from galstm_torch.execution.worker import GenomeWorker, WorkerSpec

log = logging.getLogger(__name__)

MAX_RESTARTS = 3  # pools rebuilt in one run before a dying worker stops it (one line)

_worker: Optional[GenomeWorker] = None  # this worker process's GenomeWorker
_all_started: Any = None  # a Barrier: every worker answers the start-up check once


def _exit_with_parent() -> None:
    """A worker whose driver was killed (kill -9, out of memory) would otherwise wait on its
    task queue forever, holding a GPU context: end it when the driver ends."""
    parent = mp.parent_process()
    if parent is not None:
        parent.join()
        os._exit(1)


def _start(spec: WorkerSpec, counter: Any, barrier: Any) -> None:
    """Pool initializer: pick this worker's device and load the data onto it. Ctrl-C is the
    driver's to handle (it checkpoints and stops the workers), so workers ignore it."""
    global _worker, _all_started
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    _all_started = barrier
    with counter.get_lock():
        index, counter.value = counter.value, counter.value + 1
    if spec.device == "cuda":  # plain "cuda": spread the workers over every GPU
        spec = spec.on(f"cuda:{index % torch.cuda.device_count()}")
    _worker = GenomeWorker(spec)


def _train(task: Task) -> Outcome:
    assert _worker is not None
    if _worker.error is not None:
        raise _worker.error
    return _worker.run(task)


def _ready(timeout_s: float) -> "dict[str, Any]":
    """The start-up check; the barrier makes each of the n calls run in a different worker."""
    assert _worker is not None
    _all_started.wait(timeout=timeout_s)
    status = _worker.ready()
    if isinstance(status, Exception):
        raise status
    return status


def pool_device(device: str) -> str:
    """The workers' device: auto means cuda (every GPU) when this machine has one; cuda:N
    keeps every worker on GPU N."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class PoolExecutor:
    """``num_workers`` spawned processes, each training one genome at a time; outcomes are
    yielded as they finish. Results equal the serial executor's when both use the same
    number of torch threads per training (on CPU; CUDA kernels may differ in the last bits)."""

    def __init__(self, spec: WorkerSpec, num_workers: int, start_timeout_s: float = 300.0) -> None:
        self.slots = num_workers  # trainings at once (the evaluator fills idle ones ahead)
        self._spec, self._timeout = spec, start_timeout_s
        self.restarts = 0  # pools rebuilt after a worker died
        self._start()

    def _start(self) -> None:
        """Start every worker now, so that a start-up error is one line before any training."""
        ctx = mp.get_context("spawn")  # CUDA cannot be used in a forked child
        n = self.slots
        self._pool = ProcessPoolExecutor(
            n, mp_context=ctx, initializer=_start,
            initargs=(self._spec, ctx.Value("i", 0), ctx.Barrier(n)))
        try:
            statuses = list(self._pool.map(_ready, [self._timeout] * n))
        except BrokenProcessPool as err:
            self.close()
            raise ClusterError(f"a pool worker died while starting: {err}") from None
        except threading.BrokenBarrierError:
            self.close()
            raise ClusterError(f"the {n} pool workers did not all start within "
                               f"executor.start_timeout_s={self._timeout:g} s; try fewer "
                               "executor.num_workers or raise the timeout") from None
        except BaseException:  # a start-up error (one line) or Ctrl-C: stop the workers
            self.close()
            raise
        log.info("pool of %d workers: %s", n,
                 ", ".join(f"{s['device']}/{s['threads']} threads" for s in statuses[:4]))

    def map(self, tasks: list[Task]) -> Iterator[Outcome]:
        """Outcomes as they finish. A worker that dies (killed, out of host memory) breaks
        the pool: a new one is started and the tasks not yet returned train again, each with
        its own seed, so the outcomes are those of an unbroken pool (MAX_RESTARTS in a run)."""
        left = dict(enumerate(tasks))  # not yet returned
        while left:
            try:
                for i, outcome in self._run(left):
                    del left[i]
                    yield outcome
            except BrokenProcessPool:
                self._restart(len(left))

    def _run(self, tasks: dict[int, Task]) -> Iterator[tuple[int, Outcome]]:
        pending: dict[Future, int] = {}
        try:
            for i, task in tasks.items():  # submit raises too, once a worker died idle
                pending[self._pool.submit(_train, task)] = i
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield pending.pop(future), future.result()
        finally:
            for future in pending:
                future.cancel()

    def _restart(self, unfinished: int) -> None:
        self.restarts += 1
        if self.restarts > MAX_RESTARTS:
            raise ClusterError(f"pool workers died {self.restarts} times in this run (killed, "
                               "or out of host memory); the finished genomes are checkpointed: "
                               "resume the run, with fewer executor.num_workers if memory is "
                               "short") from None
        log.warning("a pool worker died (killed, or out of host memory); starting the pool "
                    "again (%d of %d) and training its %d unfinished genome(s) again",
                    self.restarts, MAX_RESTARTS, unfinished)
        self.close()
        self._start()

    def close(self) -> None:
        """Stop the workers at once: they hold nothing the driver has not checkpointed, and
        an interrupted run should not wait for the trainings in flight."""
        processes = list((getattr(self._pool, "_processes", None) or {}).values())  # no public
        # handle; shutdown() sets it to None, and close() runs again after a failed restart
        self._pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=10)


def default_workers(device: str, threads: int) -> int:
    """Four trainings per GPU used (small models leave a GPU mostly idle; BENCHMARKS.md), else
    one worker per `threads` CPU cores."""
    if device == "cuda":
        return 4 * torch.cuda.device_count()
    if device.startswith("cuda:"):
        return 4
    return max(1, (os.cpu_count() or 1) // threads)


def _build(launch: Launch) -> PoolExecutor:
    """Local worker processes, several per GPU or one per few CPU cores."""
    device = pool_device(launch.trainer.device)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"trainer.device={launch.trainer.device} but this machine has no "
                          "CUDA GPU: use trainer.device=cpu (or auto)")
    refuse_precision(launch.settings, torch.device(device))
    threads = launch.threads
    workers = launch.options.num_workers or default_workers(device, threads)
    return PoolExecutor(WorkerSpec.of(launch, device, threads), workers, launch.start_timeout_s)


CAPABILITIES = Capabilities("pool", in_process=False, build=_build, parallel=True,
                            keys=("num_workers", "threads_per_worker", "start_timeout_s"),
                            why=((LATENCY, SHARED_TIMING),))
