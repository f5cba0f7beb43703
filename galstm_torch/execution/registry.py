"""What each executor can do, declared once: config validation, ``executor=auto`` and the
executors' wiring read these ``Capabilities``, never an executor's name.

Adding an executor: its module, an entry here, its YAML in ``conf/executor/`` and a test.
``auto`` is a chooser, not an executor: it picks one of these for the machine and the
settings (``executors.resolve_executor``), and reads the keys of the one it may start.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

from galstm_torch.training.grouped.graphed import graph_support
from galstm_torch.training.trainer import TrainSettings

# The capabilities a setting may need; ``Capabilities.why`` explains a missing one to users.
FRACTIONAL, CURVES, LATENCY, DEVICES = "fractional_epochs", "curves", "latency", "devices"
DEVICE_TYPES = ("cpu", "cuda")  # what trainer.device may name (training/runtime.pick_device)


@dataclass(frozen=True)
class Capabilities:
    """One executor's abilities (``executor.name`` = ``name``)."""

    name: str
    in_process: bool                 # trains in this process (the driver loads the data here)
    fractional_epochs: bool = True   # a part of an epoch: screening rungs (ga.rungs below 1.0)
    curves: bool = False             # an observer watches each training step here
                                     # (tensorboard.curves, the inner progress bar)
    latency: bool = False            # times each model alone after training (the objective)
    kept_weights: bool = True        # keeps the target trainings' weights (best_model.pt)
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


_SHARED = "workers share the CPU or GPU while timing and may sit on different devices"
_POOL_KEYS = ("num_workers", "threads_per_worker", "start_timeout_s")

SERIAL = Capabilities("serial", in_process=True, curves=True, latency=True)
RAY = Capabilities("ray", in_process=False, kept_weights=False, parallel=True,
                   keys=("address", "num_workers", "threads_per_worker", "gpus_per_worker",
                         "max_restarts", "start_timeout_s"),
                   why=((LATENCY, _SHARED),))
POOL = Capabilities("pool", in_process=False, parallel=True, keys=_POOL_KEYS,
                    why=((LATENCY, _SHARED),))
BATCHED = Capabilities("batched", in_process=True, fractional_epochs=False, kept_weights=False,
                       keys=("max_group",), data_shape=(28, 10),
                       why=((LATENCY, "it is measured after each training, which this executor "
                                      "does not do"),))
GRAPHS = Capabilities("graphs", in_process=True, latency=True, parallel=True,
                      devices=("cuda",), keys=("max_group",), settings_check=graph_support,
                      why=((DEVICES, "replays CUDA graphs"),))

# executor.name -> its capabilities, in the order users read them: this process, this
# machine, a cluster, then the engines that train a group at once
EXECUTORS: dict[str, Capabilities] = {c.name: c for c in (SERIAL, POOL, RAY, BATCHED, GRAPHS)}

AUTO = "auto"
AUTO_KEYS = POOL.keys  # auto may start the pool (on a CPU with 2 or more cores)
# What auto picks: a pool on a multi-core CPU, graphs on CUDA wherever the settings allow
# them, else one genome after another in this process.
AUTO_ON_CPU, AUTO_ON_CUDA, AUTO_IN_PROCESS = POOL, GRAPHS, SERIAL
NAMES = (AUTO, *EXECUTORS)  # what executor.name may be
ALL_KEYS = tuple(sorted({k for c in EXECUTORS.values() for k in c.keys}))


def keys_read(name: str) -> tuple[str, ...]:
    """The executor.* keys executor=``name`` reads (auto: those of the pool it may start)."""
    return AUTO_KEYS if name == AUTO else EXECUTORS[name].keys


def readers(key: str) -> list[str]:
    """The executors that read executor.``key``."""
    return [c.name for c in EXECUTORS.values() if key in c.keys]
