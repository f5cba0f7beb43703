"""Executors run training tasks: plain data in (genome, seed), plain outcomes out.

The search loop, the fitness cache, checkpoints and logging stay in the driver; an executor
only trains. ``SerialExecutor`` trains one genome after another in this process; other
executors (parallel, distributed) implement the same ``map``.
"""
from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Protocol

import torch

from galstm_torch.data.images import DataSplits
from galstm_torch.execution.capabilities import Capabilities, Launch
from galstm_torch.execution.weights import save_weights
from galstm_torch.training.architecture import Architecture, format_compact
from galstm_torch.training.trainer import (
    Evaluation,
    TrainingDiverged,
    TrainingObserver,
    TrainSettings,
    at_fidelity,
    train,
)

log = logging.getLogger(__name__)

FAILED_FITNESS = 0.0  # the worst possible accuracy: a failed genome is never preferred


@dataclass(frozen=True)
class Task:
    """One training to run: a genome in compact form, its seed and, if not the settings'
    epochs, its fidelity (epochs of the training split; 0.25 = the first quarter of one)."""

    compact: tuple[int, ...]
    seed: int
    fidelity: Optional[float] = None


@dataclass(frozen=True)
class Outcome:
    """What came back for a task. status is 'ok' or 'failed' (then error says why)."""

    compact: tuple[int, ...]
    evaluation: Evaluation
    status: str = "ok"
    error: str = ""
    retried: bool = False
    seed: Optional[int] = None  # the task's seed: tells apart replicates of one genome


def failed_outcome(task: Task, reason: str, *, retried: bool = False) -> Outcome:
    """The outcome of a training that failed: fitness FAILED_FITNESS, no other metric, the
    reason on one line."""
    failed = Evaluation(fitness=FAILED_FITNESS, val_acc=math.nan, test_acc=math.nan, loss=math.nan,
                        params=0, seconds=0.0, samples_per_s=0.0)
    return Outcome(task.compact, failed, status="failed", error=reason.replace("\n", " ")[:500],
                   retried=retried, seed=task.seed)


def group_tasks(tasks: list[Task], key: Callable[[Task], Any],
                max_group: Optional[int] = None) -> list[list[Task]]:
    """Tasks grouped by ``key`` (in its order), each group cut into pieces of at most
    ``max_group`` (None: whole): how the executors that train a group at once plan."""
    groups: list[list[Task]] = []
    for _, same in groupby(sorted(tasks, key=key), key=key):
        members = list(same)
        size = max_group or len(members)
        groups.extend(members[i : i + size] for i in range(0, len(members), size))
    return groups


class Executor(Protocol):
    """What the evaluator drives. ``slots``: trainings it runs at once (the evaluator fills
    idle ones with the leaders' further seeds, ahead of their turn). What an executor can do
    beyond this is declared in its module's CAPABILITIES (capabilities.py)."""

    slots: int

    def map(self, tasks: list[Task]) -> Iterator[Outcome]:
        """Yield one Outcome per task, in any order, as each finishes."""
        ...

    def close(self) -> None: ...


def _is_oom(err: BaseException) -> bool:
    return isinstance(err, torch.OutOfMemoryError) or "out of memory" in str(err).lower()


def run_task(task: Task, data: DataSplits, settings: TrainSettings, device: torch.device,
             observer: Optional[TrainingObserver] = None,
             weights_dir: Optional[Path] = None) -> Outcome:
    """Train one genome; a failure is recorded, not raised. An out-of-memory error is retried
    once with half the batch size before it counts as a failure. With ``weights_dir``, a
    training at the target fidelity keeps its weights there (weights.py)."""
    arch = Architecture.from_compact(task.compact)
    settings = at_fidelity(settings, task.fidelity)
    retried = False
    while True:
        try:
            model, evaluation = train(arch, data, settings, seed=task.seed, device=device,
                                            observer=observer)
            if weights_dir is not None and task.fidelity is None:
                save_weights(weights_dir, task.compact, task.seed, model)
            return Outcome(task.compact, evaluation, retried=retried, seed=task.seed)
        except Exception as err:  # noqa: BLE001 - any failure of one genome must not stop the search
            if _is_oom(err) and not retried and settings.batch_size > 1:
                retried = True
                settings = dataclasses.replace(settings, batch_size=settings.batch_size // 2)
                log.warning("%s ran out of memory; retrying with batch size %d",
                            format_compact(task.compact), settings.batch_size)
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                continue
            reason = str(err) if isinstance(err, TrainingDiverged) else f"{type(err).__name__}: {err}"
            log.warning("genome %s failed: %s", format_compact(task.compact), reason)
            return failed_outcome(task, reason, retried=retried)


class SerialExecutor:
    """Trains the tasks one after another on one device, in this process. An optional
    observer (progress bar, training curves) watches each training from this process."""

    def __init__(self, data: DataSplits, settings: TrainSettings, device: torch.device,
                 observer: Optional[TrainingObserver] = None,
                 weights_dir: Optional[Path] = None) -> None:
        self.data, self.settings, self.device = data, settings, device
        self.observer, self.weights_dir = observer, weights_dir
        self.slots = 1  # one training at a time

    def map(self, tasks: list[Task]) -> Iterator[Outcome]:
        for task in tasks:
            yield run_task(task, self.data, self.settings, self.device, self.observer,
                           self.weights_dir)

    def close(self) -> None:
        pass


def _build(launch: Launch) -> SerialExecutor:
    data, device = launch.here()
    return SerialExecutor(data, launch.settings, device, observer=launch.observer,
                          weights_dir=launch.weights_dir)


CAPABILITIES = Capabilities("serial", in_process=True, build=_build, curves=True, latency=True)
