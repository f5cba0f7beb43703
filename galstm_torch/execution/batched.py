"""An executor that trains a generation's genomes in groups, one padded model per group.

Genomes are grouped by their number of LSTM layers (a group of P genomes runs its LSTM
recurrences as batched matmuls over P). ``max_group`` bounds a group's size, e.g. for GPU
memory. A group that runs out of memory is split in half and retried; a single genome falls
back to the sequential trainer (which has its own out-of-memory retry).
"""
from __future__ import annotations

import logging
from typing import Iterator, Optional

import torch

from galstm_torch.data.images import DataSplits
from galstm_torch.execution.capabilities import LATENCY, Capabilities, Launch
from galstm_torch.execution.executor import (
    Outcome,
    Task,
    _is_oom,
    failed_outcome,
    group_tasks,
    run_task,
)
from galstm_torch.training.architecture import Architecture, format_compact
from galstm_torch.training.grouped.batched_trainer import train_group
from galstm_torch.training.trainer import TrainSettings

log = logging.getLogger(__name__)


def plan_groups(tasks: list[Task], max_group: Optional[int] = None) -> list[list[Task]]:
    """Tasks grouped by LSTM layer count (fewest layers first), each group at most max_group."""
    return group_tasks(tasks, lambda task: task.compact[0], max_group)


class BatchedExecutor:
    """Trains tasks group by group on one device, in this process (``executor=batched``;
    trains 28-feature, 10-class data only: its declared ``data_shape``)."""

    def __init__(self, data: DataSplits, settings: TrainSettings, device: torch.device,
                 max_group: Optional[int] = None) -> None:
        # the padded model's fixed shape: CAPABILITIES.data_shape, checked by the wiring
        self.data, self.settings, self.device, self.max_group = data, settings, device, max_group
        self.slots = 1  # one group after another; the evaluator sends no ahead requests

    def map(self, tasks: list[Task]) -> Iterator[Outcome]:
        for group in plan_groups(tasks, self.max_group):
            yield from self._run_group(group)

    def _run_group(self, group: list[Task]) -> Iterator[Outcome]:
        if len(group) == 1:
            yield run_task(group[0], self.data, self.settings, self.device)
            return
        archs = [Architecture.from_compact(t.compact) for t in group]
        try:
            results = train_group(archs, self.data, self.settings, seeds=[t.seed for t in group],
                                  device=self.device)
        except Exception as err:  # noqa: BLE001 - one group's failure must not stop the search
            if _is_oom(err):
                log.warning("a group of %d genomes ran out of memory; splitting it", len(group))
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
                half = len(group) // 2
                yield from self._run_group(group[:half])
                yield from self._run_group(group[half:])
                return
            reason = f"{type(err).__name__}: {err}"
            log.warning("group %s failed: %s", [format_compact(t.compact) for t in group], reason)
            for task in group:
                yield failed_outcome(task, reason)
            return
        for task, result in zip(group, results):
            if isinstance(result, Exception):
                log.warning("genome %s failed: %s", format_compact(task.compact), result)
                yield failed_outcome(task, str(result))
            else:
                yield Outcome(task.compact, result, seed=task.seed)

    def close(self) -> None:
        pass


def _build(launch: Launch) -> BatchedExecutor:
    data, device = launch.here()
    return BatchedExecutor(data, launch.settings, device, max_group=launch.options.max_group)


CAPABILITIES = Capabilities(
    "batched", in_process=True, build=_build, fractional_epochs=False, kept_weights=False,
    training_genes=False,
    keys=("max_group",), data_shape=(28, 10),
    why=((LATENCY, "it is measured after each training, which this executor does not do"),))
