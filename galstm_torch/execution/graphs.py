"""An executor that trains a generation's new genomes together on one GPU, each as a
CUDA graph replayed on its own stream (``executor=graphs``; training/grouped/graphed.py).

Tasks are grouped by fidelity (a group trains in lockstep, so its genomes take the same
number of steps); ``max_group`` bounds a group. A group that runs out of memory is split in
half and retried; a group that fails otherwise (a capture the device refuses) is trained
genome by genome with the sequential trainer, so a search never stops for it. Trainings at
the target fidelity keep their weights, as the serial executor's do.
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Iterator, Optional

import torch

from galstm_torch.data.images import DataSplits
from galstm_torch.execution.capabilities import DEVICES, Capabilities, Launch
from galstm_torch.execution.executor import (
    Outcome,
    Task,
    _is_oom,
    failed_outcome,
    group_tasks,
    run_task,
)
from galstm_torch.execution.weights import save_weights
from galstm_torch.training.architecture import Architecture, format_compact
from galstm_torch.training.grouped.graphed import (
    PLAIN,
    GraphOptions,
    graph_support,
    train_graphed,
)
from galstm_torch.training.trainer import TrainSettings, at_fidelity

log = logging.getLogger(__name__)

GROUP_SLOTS = 64  # max_group=null: trainings the evaluator may send at once


def plan_lanes(tasks: list[Task], max_group: Optional[int] = None) -> list[list[Task]]:
    """Tasks grouped by fidelity (the target last), each group at most ``max_group``."""
    return group_tasks(tasks, lambda t: float("inf") if t.fidelity is None else t.fidelity,
                       max_group)


class GraphsExecutor:
    """Trains tasks group by group on one device, in this process."""

    def __init__(self, data: DataSplits, settings: TrainSettings, device: torch.device,
                 max_group: Optional[int] = None, weights_dir: Optional[Path] = None, *,
                 options: GraphOptions = PLAIN, fallback: bool = True) -> None:
        self.data, self.settings, self.device = data, settings, device
        self.max_group, self.weights_dir = max_group, weights_dir
        self.options = options
        self.fallback = fallback  # False (the bench): a failed group raises, never trains slowly
        self.fallbacks = 0  # genomes trained one by one after their group failed
        # trainings at once: racing's further seeds join the group of the seed asked for
        # (a lane more costs far less than a group more), as they fill a pool's idle workers
        self.slots = max_group or GROUP_SLOTS

    def map(self, tasks: list[Task]) -> Iterator[Outcome]:
        for group in plan_lanes(tasks, self.max_group):
            yield from self._run_group(group, self.options)

    def _run_group(self, group: list[Task], options: GraphOptions) -> Iterator[Outcome]:
        settings = at_fidelity(self.settings, group[0].fidelity)
        archs = [Architecture.from_compact(t.compact) for t in group]
        failure: Optional[tuple[bool, str]] = None
        try:
            results = train_graphed(archs, self.data, settings, seeds=[t.seed for t in group],
                                    device=self.device, options=options)
        except Exception as err:  # noqa: BLE001 - one group's failure must not stop the search
            oom = _is_oom(err)
            if not self.fallback and not (oom and len(group) > 1):
                raise  # the bench: never time a slower engine under this one's name
            failure = (oom, f"{type(err).__name__}: {err}")
        if failure is not None:  # out of the except: its traceback no longer holds the
            yield from self._recover(group, options, *failure)  # group's models and graphs
            return
        for task, result in zip(group, results):
            if isinstance(result, Exception):
                log.warning("genome %s failed: %s", format_compact(task.compact), result)
                yield failed_outcome(task, str(result))
                continue
            model, evaluation = result
            if self.weights_dir is not None and task.fidelity is None:
                save_weights(self.weights_dir, task.compact, task.seed, model)
            yield Outcome(task.compact, evaluation, seed=task.seed)

    def _recover(self, group: list[Task], options: GraphOptions, oom: bool,
                 why: str) -> Iterator[Outcome]:
        """Split a group that ran out of memory. A group that failed otherwise is tried
        once more without fused Adam (kept for the run once that works), then trained
        genome by genome with the sequential trainer (it records their own failures)."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.empty_cache()
        if oom and len(group) > 1:
            log.warning("a group of %d genomes ran out of memory; splitting it", len(group))
            half = len(group) // 2
            yield from self._run_group(group[:half], options)
            yield from self._run_group(group[half:], options)
            return
        if not oom and options.fused_adam:
            log.warning("graphed training with fused Adam failed (%s); retrying without it", why)
            before, unfused = self.fallbacks, dataclasses.replace(options, fused_adam=False)
            outcomes = list(self._run_group(group, unfused))
            if self.fallbacks == before:  # the plain graphs worked: keep them for the run
                self.options = unfused
            yield from outcomes
            return
        log.warning("graphed training of %s failed (%s); training them one by one",
                    [format_compact(t.compact) for t in group], why)
        self.fallbacks += len(group)
        for task in group:
            yield run_task(task, self.data, self.settings, self.device, None, self.weights_dir)

    def close(self) -> None:
        pass



def _build(launch: Launch) -> GraphsExecutor:
    data, device = launch.here()
    return GraphsExecutor(data, launch.settings, device, max_group=launch.options.max_group,
                          weights_dir=launch.weights_dir)


CAPABILITIES = Capabilities("graphs", in_process=True, build=_build, latency=True, parallel=True,
                            devices=("cuda",), keys=("max_group",), settings_check=graph_support,
                            why=((DEVICES, "replays CUDA graphs"),))
