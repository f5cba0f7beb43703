"""A training worker for executors that train in other processes (Ray actors, a local pool).

It receives a ``WorkerSpec`` (plain, picklable dataclasses: the training settings and the
data to load), loads the data onto its device once, and runs ``executor.run_task`` for each
Task it is sent, returning the Outcome.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch

from galstm_torch.data.load import DataSpec
from galstm_torch.errors import ClusterError, GalstmError
from galstm_torch.execution.capabilities import Launch
from galstm_torch.execution.executor import Outcome, Task, run_task
from galstm_torch.training.runtime import set_deterministic
from galstm_torch.training.trainer import TrainSettings


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs: what to train on, how, where, and with how many threads.
    ``weights_dir``: keep the target trainings' weights there (weights.py); None keeps none."""

    data: DataSpec
    settings: TrainSettings
    device: str = "cpu"
    threads: int = 1
    deterministic: bool = False
    weights_dir: Optional[str] = None

    def on(self, device: str, threads: Optional[int] = None) -> "WorkerSpec":
        """This spec on another device (and thread count)."""
        return dataclasses.replace(self, device=device,
                                   threads=self.threads if threads is None else threads)

    @classmethod
    def of(cls, launch: Launch, device: str = "cpu", threads: int = 1) -> "WorkerSpec":
        """What a worker of this launch needs."""
        weights = launch.weights_dir
        return cls(launch.data_spec, launch.settings, device, threads,
                   launch.trainer.deterministic, str(weights) if weights else None)


class GenomeWorker:
    """One worker process: loads the data onto its device once, then trains the tasks it is sent.

    A start-up error is kept and reported by ``ready`` rather than raised, so that it reaches
    the driver as one line and Ray does not restart a worker that can never start."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.error: Optional[Exception] = None
        self.spec = spec
        self.weights_dir = Path(spec.weights_dir) if spec.weights_dir else None
        try:
            torch.set_num_threads(spec.threads)
            self.device = torch.device(spec.device)
            set_deterministic(spec.deterministic, self.device)
            self.data = spec.data.load().to(self.device)
        except Exception as err:  # noqa: BLE001 - reported to the driver by ready()
            self.error = err if isinstance(err, GalstmError) else ClusterError(
                f"a training worker could not start: {type(err).__name__}: {err}")

    def ready(self) -> "dict[str, Any] | Exception":
        if self.error is not None:
            return self.error
        return {"pid": os.getpid(), "device": str(self.device), "sizes": self.data.sizes,
                "threads": torch.get_num_threads()}

    def run(self, task: Task) -> Outcome:
        return run_task(task, self.data, self.spec.settings, self.device,
                        weights_dir=self.weights_dir)
