"""A training worker for executors that train in other processes (Ray actors, a local pool).

It receives plain data (a dict of settings and the data config), loads the data onto its
device once, and runs ``executor.run_task`` for each Task it is sent, returning the Outcome.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import torch

from .data import load_data
from .errors import ClusterError, GalstmError
from .executor import Outcome, Task, run_task
from .runtime import set_deterministic
from .trainer import TrainSettings


class GenomeWorker:
    """One worker process: loads the data onto its device once, then trains the tasks it is sent.

    A start-up error is kept and reported by ``ready`` rather than raised, so that it reaches
    the driver as one line and Ray does not restart a worker that can never start."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.error: Optional[Exception] = None
        try:
            torch.set_num_threads(spec["threads"])
            self.device = torch.device(spec["device"])
            set_deterministic(bool(spec.get("deterministic")), self.device)
            self.settings = TrainSettings(**spec["settings"])
            keep = spec.get("weights_dir")
            self.weights_dir = Path(keep) if keep else None
            d = spec["data"]
            self.data = load_data(d["name"], d["root"], download=d["download"],
                                  train_samples=d["train_samples"], test_samples=d["test_samples"],
                                  val_fraction=d["val_fraction"],
                                  path=d.get("path")).to(self.device)
        except Exception as err:  # noqa: BLE001 - reported to the driver by ready()
            self.error = err if isinstance(err, GalstmError) else ClusterError(
                f"a training worker could not start: {type(err).__name__}: {err}")

    def ready(self) -> "dict[str, Any] | Exception":
        if self.error is not None:
            return self.error
        return {"pid": os.getpid(), "device": str(self.device), "sizes": self.data.sizes,
                "threads": torch.get_num_threads()}

    def run(self, task: Task) -> Outcome:
        return run_task(task, self.data, self.settings, self.device,
                        weights_dir=self.weights_dir)
