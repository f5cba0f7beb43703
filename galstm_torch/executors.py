"""Build the executor a config asks for (``executor=auto``: the one it picks for this
machine), reading what each can do from execution/registry.py: in this process (serial,
batched, graphs), a local process pool, or Ray."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Optional

import torch

from galstm_torch.config import Config
from galstm_torch.config.capabilities import refuse_data, refuse_device, refuse_settings
from galstm_torch.data.images import DataSplits
from galstm_torch.data.load import load_data
from galstm_torch.errors import ConfigError
from galstm_torch.execution import registry
from galstm_torch.execution.batched import BatchedExecutor
from galstm_torch.execution.executor import Executor, SerialExecutor
from galstm_torch.execution.graphs import GraphsExecutor
from galstm_torch.execution.registry import Capabilities
from galstm_torch.execution.worker import DataSpec, WorkerSpec
from galstm_torch.ga.genome.encoding import SearchSpace
from galstm_torch.ga.pareto.goals import Goals
from galstm_torch.training.runtime import pick_device, set_deterministic, set_threads
from galstm_torch.training.trainer import TrainingObserver, TrainSettings, check_precision

RAY_RESTARTS = 3  # executor.max_restarts=null: restarts per Ray worker
START_TIMEOUT_S = 300.0  # executor.start_timeout_s=null: for the workers to start and load data

log = logging.getLogger(__name__)


def refuse_precision(settings: TrainSettings, device: torch.device) -> None:
    """A precision the device cannot run is a config error, before any worker starts."""
    try:
        check_precision(settings.precision, device)
    except ValueError as err:
        raise ConfigError(str(err)) from None


def _serial(config: Config, data: Any, settings: TrainSettings, device: torch.device,
            observer: Optional[TrainingObserver], weights_dir: Optional[Path]) -> Executor:
    return SerialExecutor(data, settings, device, observer=observer, weights_dir=weights_dir)


def _batched(config: Config, data: Any, settings: TrainSettings, device: torch.device,
             observer: Optional[TrainingObserver], weights_dir: Optional[Path]) -> Executor:
    return BatchedExecutor(data, settings, device, max_group=config.executor.max_group)


def _graphs(config: Config, data: Any, settings: TrainSettings, device: torch.device,
            observer: Optional[TrainingObserver], weights_dir: Optional[Path]) -> Executor:
    return GraphsExecutor(data, settings, device, max_group=config.executor.max_group,
                          weights_dir=weights_dir)


# The executors that train in this process, by executor.name (execution/registry.py)
_HERE = {registry.SERIAL.name: _serial, registry.BATCHED.name: _batched,
         registry.GRAPHS.name: _graphs}


def local_executor(config: Config, data: Any, settings: TrainSettings, device: torch.device,
                   observer: Optional[TrainingObserver] = None,
                   weights_dir: Optional[Path] = None, name: Optional[str] = None) -> Executor:
    """An executor that trains in this process (serial; batched: a group of genomes in one
    padded model; graphs: a group as CUDA graphs on streams), after checking that its
    capabilities fit the precision, the device, the settings and the data. Only an executor
    with the curves capability gets the observer, only one that keeps weights
    ``weights_dir``. ``name``: the executor auto chose (default: the one asked for)."""
    refuse_precision(settings, device)
    caps = registry.EXECUTORS[name or config.executor.name]
    refuse_device(caps, device.type, config.trainer.device)
    refuse_settings(caps, settings)
    if data is not None:
        refuse_data(caps, data.n_features, data.n_classes)
    log.info("training in this process (%s) on %s (%s)", caps.name, device, settings.precision)
    return _HERE[caps.name](config, data, settings, device, observer if caps.curves else None,
                            weights_dir if caps.kept_weights else None)


def data_desc(config: Config) -> dict[str, Any]:
    """The data settings that change a training's outcome (part of the cache fingerprint)."""
    d = config.data
    desc = {"name": d.name, "train_samples": d.train_samples, "test_samples": d.test_samples,
            "val_fraction": config.trainer.val_fraction}
    if d.name == "tensors":  # the file's content, not its name, decides the outcomes
        from galstm_torch.data.tensors import file_digest

        desc["sha256"] = file_digest(d.path)
    return desc


def data_shape(config: Config) -> tuple[int, int]:
    """(features per time step, classes) of the run's data, for the params objective: the
    image datasets' are known; a tensor file is read once."""
    if config.data.name != "tensors":
        return 28, 10
    from galstm_torch.data.tensors import load_tensor_file

    d = load_tensor_file(config.data.path, train_samples=config.data.train_samples,
                         test_samples=config.data.test_samples,
                         val_fraction=config.trainer.val_fraction)
    return d.n_features, d.n_classes


def goals_of(config: Config) -> Goals:
    """The search's objectives (one: accuracy; several: a Pareto search)."""
    space, names = SearchSpace.of(config.model), tuple(config.ga.objectives)
    if len(names) == 1:
        return Goals(names, space)
    n_features, n_classes = data_shape(config)
    return Goals(names, space, n_features, n_classes, config.ga.reference.stated())


def driver_data(config: Config) -> tuple[DataSplits, torch.device]:
    """Load the data onto this process's device (to train here, export or retrain)."""
    device = pick_device(config.trainer.device)
    set_threads(config.trainer.num_threads)
    set_deterministic(config.trainer.deterministic, device)
    d, t = config.data, config.trainer
    data = load_data(d.name, d.root, download=d.download, train_samples=d.train_samples,
                     test_samples=d.test_samples, val_fraction=t.val_fraction,
                     path=d.path).to(device)
    log.info("data %s on %s: %s", d.name, device, data.sizes)
    return data, device


def serial_executor(config: Config, settings: TrainSettings,
                    observer: Optional[TrainingObserver] = None,
                    weights_dir: Optional[Path] = None, name: Optional[str] = None) -> Executor:
    """Train here (serial, batched or graphs); an observer (progress bar, training curves) watches
    each training of the serial executor."""
    data, device = driver_data(config)
    return local_executor(config, data, settings, device, observer, weights_dir, name)


def ray_executor(config: Config, settings: TrainSettings,
                 weights_dir: Optional[Path] = None) -> Executor:
    """Start Ray workers; they receive a WorkerSpec and load the data themselves. They keep
    no weights: they may run on other machines."""
    from galstm_torch.execution.ray.resources import RayOptions
    from galstm_torch.execution.ray.workers import RayExecutor

    ex = config.executor
    options = RayOptions(address=ex.address, num_workers=ex.num_workers,
                         threads_per_worker=ex.threads_per_worker or config.trainer.num_threads or 1,
                         gpus_per_worker=ex.gpus_per_worker,
                         max_restarts=RAY_RESTARTS if ex.max_restarts is None else ex.max_restarts,
                         start_timeout_s=start_timeout(config))
    return RayExecutor(options, worker_spec(config, settings, weights_dir=weights_dir),
                       config.trainer.device)


def start_timeout(config: Config) -> float:
    s = config.executor.start_timeout_s
    return START_TIMEOUT_S if s is None else s


def worker_spec(config: Config, settings: TrainSettings, device: str = "cpu", threads: int = 1,
                weights_dir: Optional[Path] = None) -> WorkerSpec:
    """What a worker process needs (an absolute data root: a worker's working directory may
    not be the driver's)."""
    d = config.data
    data = DataSpec(d.name, str(Path(d.root).expanduser().resolve()), d.download,
                    d.train_samples, d.test_samples, config.trainer.val_fraction,
                    str(Path(d.path).expanduser().resolve()) if d.path else None)
    return WorkerSpec(data, settings, device, threads, config.trainer.deterministic,
                      str(weights_dir) if weights_dir else None)


def pool_executor(config: Config, settings: TrainSettings,
                  weights_dir: Optional[Path] = None) -> Executor:
    """Local worker processes, several per GPU or one per few CPU cores."""
    from galstm_torch.execution.pool import PoolExecutor, default_workers, pool_device

    ex, t = config.executor, config.trainer
    device = pool_device(t.device)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"trainer.device={t.device} but this machine has no CUDA GPU: "
                          "use trainer.device=cpu (or auto)")
    refuse_precision(settings, torch.device(device))
    threads = ex.threads_per_worker or t.num_threads or 1
    workers = ex.num_workers or default_workers(device, threads)
    return PoolExecutor(worker_spec(config, settings, device, threads, weights_dir), workers,
                        start_timeout(config))


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity, e.g. a cluster job's share)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve_executor(config: Config, settings: TrainSettings) -> tuple[str, str]:
    """executor=auto: (the executor, why). On CPU, single-thread pool workers, one per core:
    two threads per training gain only 1.18x alone and collapse beside any other busy
    process (BENCHMARKS.md); one thread per training also keeps the results those of
    executor=serial trainer.num_threads=1, whatever the number of cores. On CUDA, the graphs
    executor wherever the settings allow it (13.3x serial on one H200, BENCHMARKS.md)."""
    name = config.executor.name
    if name != registry.AUTO:
        return name, "asked for"
    here = registry.AUTO_IN_PROCESS.name
    if config.tensorboard.curves:
        return here, "training curves are recorded in this process"
    if pick_device(config.trainer.device).type != "cpu":
        return _on_gpu(settings)
    if "latency" in config.ga.objectives:
        return here, "the latency objective times each model with the machine to itself"
    cores = usable_cores()
    if cores < 2:
        return here, "one CPU core"
    return registry.AUTO_ON_CPU.name, f"{cores} CPU cores: one single-thread worker each"


def _on_gpu(settings: TrainSettings) -> tuple[str, str]:
    """A GPU: a generation's genomes as CUDA graphs side by side, unless a setting rules
    graphs out; then one genome after another in this process, and the log says why."""
    why = registry.AUTO_ON_CUDA.unsupported(settings)
    if why is not None:
        here = registry.AUTO_IN_PROCESS.name
        return here, f"a GPU, but {why}, so one genome after another (executor={here})"
    return registry.AUTO_ON_CUDA.name, ("a GPU: each genome's training step as a CUDA graph, "
                                        "a generation's genomes replayed side by side")


# The executors whose workers train in other processes, by executor.name
_AWAY = {registry.POOL.name: pool_executor, registry.RAY.name: ray_executor}


def make_executor(config: Config, settings: TrainSettings,
                  observer: Optional[TrainingObserver] = None,
                  weights_dir: Optional[Path] = None) -> Executor:
    """The executor the config asks for (auto: the one resolve_executor picks). Workers in
    other processes get no observer (no inner progress bar, no training curves); an
    executor keeps the target trainings' weights in ``weights_dir`` where its capabilities
    say it does (Ray workers may run on other machines: they keep none)."""
    name, why = resolve_executor(config, settings)
    caps = registry.EXECUTORS[name]
    if config.executor.name == registry.AUTO:
        log.info("executor=auto: %s (%s)", name, why)
        _warn_unused(config, caps, why)
    if caps.in_process:
        return serial_executor(config, settings, observer, weights_dir, name)
    return _AWAY[name](config, settings, weights_dir if caps.kept_weights else None)


def _warn_unused(config: Config, chosen: Capabilities, why: str) -> None:
    """auto reads the pool's keys; one set is said not to apply where auto picked another."""
    unused = [k for k in registry.AUTO_KEYS
              if getattr(config.executor, k) is not None and k not in chosen.keys]
    if unused:
        log.warning("%s apply to the %s; executor=auto trains with executor=%s here (%s), so "
                    "they do not apply", ", ".join(f"executor.{k}" for k in unused),
                    registry.AUTO_ON_CPU.name, chosen.name, why)
