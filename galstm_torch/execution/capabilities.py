"""What an executor declares about itself (``Capabilities``) and what it is built from
(``Launch``). Each executor's module declares its own ``CAPABILITIES``, builder included;
registry.py collects them. Config validation, ``executor=auto`` and the wiring read these
declarations, never an executor's name."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

import torch

from galstm_torch.data.images import DataSplits
from galstm_torch.data.load import DataSpec
from galstm_torch.errors import ConfigError
from galstm_torch.training.trainer import TrainingObserver, TrainSettings, check_precision

if TYPE_CHECKING:  # each executor module imports this one to declare itself
    from galstm_torch.execution.executor import Executor

# The capabilities a setting may need; ``Capabilities.why`` explains a missing one to users.
FRACTIONAL, CURVES, LATENCY, DEVICES = "fractional_epochs", "curves", "latency", "devices"
DEVICE_TYPES = ("cpu", "cuda")  # what trainer.device may name (training/runtime.pick_device)
# Why executors whose workers run apart cannot time the latency objective
SHARED_TIMING = "workers share the CPU or GPU while timing and may sit on different devices"
START_TIMEOUT_S = 300.0  # executor.start_timeout_s=null: for workers to start and load data


@dataclass(frozen=True)
class Launch:
    """What an executor is built from. ``options``: the executor.* settings (it reads only
    its declared keys); ``trainer``: trainer.* (device, num_threads, deterministic). An
    executor that trains in this process gets the data loaded on ``device``; one whose
    workers load it themselves gets only ``data_spec``."""

    options: Any
    trainer: Any
    settings: TrainSettings
    data_spec: DataSpec
    data: Optional[DataSplits] = None
    device: Optional[torch.device] = None
    observer: Optional[TrainingObserver] = None  # only for an executor with curves
    weights_dir: Optional[Path] = None           # only for an executor that keeps weights

    @property
    def threads(self) -> int:
        """torch threads per worker: executor.threads_per_worker, else trainer.num_threads,
        else 1."""
        return self.options.threads_per_worker or self.trainer.num_threads or 1

    @property
    def start_timeout_s(self) -> float:
        """For the workers to start and load the data (executor.start_timeout_s)."""
        s = self.options.start_timeout_s
        return START_TIMEOUT_S if s is None else s

    def here(self) -> tuple[DataSplits, torch.device]:
        """The data and the device of an executor that trains in this process."""
        if self.data is None or self.device is None:  # the wiring loads them for in_process
            raise TypeError("an executor that trains in this process was built without data")
        return self.data, self.device


@dataclass(frozen=True)
class Capabilities:
    """One executor's abilities (``executor.name`` = ``name``) and its builder."""

    name: str
    in_process: bool                 # trains in this process (the driver loads the data here)
    build: Callable[[Launch], "Executor"]
    fractional_epochs: bool = True   # a part of an epoch: screening rungs (ga.rungs below 1.0)
    curves: bool = False             # an observer watches each training step here
                                     # (tensorboard.curves, the inner progress bar)
    latency: bool = False            # times each model alone after training (the objective)
    kept_weights: bool = True        # keeps the target trainings' weights (best_model.pt)
    training_genes: bool = True      # trains space=extended's genomes: each its own learning
                                     # rate, dropouts and BatchNorm
    parallel: bool = False           # several trainings at once: its ``slots`` may exceed 1
    devices: tuple[str, ...] = DEVICE_TYPES  # the device types it trains on
    keys: tuple[str, ...] = ()       # the executor.* keys it reads; any other one set is refused
    data_shape: Optional[tuple[int, int]] = None  # the only (features, classes) it trains
    settings_check: Optional[Callable[[TrainSettings], Optional[str]]] = None  # why not, or None
    why: tuple[tuple[str, str], ...] = ()  # (capability, why it lacks it): refusals' wording

    def reason(self, capability: str, default: str = "") -> str:
        return dict(self.why).get(capability, default)

    def unsupported(self, settings: TrainSettings) -> Optional[str]:
        """Why these training settings cannot run on this executor, or None."""
        return None if self.settings_check is None else self.settings_check(settings)


def refuse_precision(settings: TrainSettings, device: torch.device) -> None:
    """A precision the device cannot run is a config error, before any worker starts."""
    try:
        check_precision(settings.precision, device)
    except ValueError as err:
        raise ConfigError(str(err)) from None
