"""Build the executor a config asks for: in-process (sequential or batched engine), a local
process pool, or Ray."""
from __future__ import annotations

import logging
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any, Optional

import torch

from .batched_executor import BatchedExecutor
from .config import Config
from .data import DataSplits, load_data
from .errors import ConfigError
from .executor import Executor, SerialExecutor
from .genome import SearchSpace
from .goals import Goals
from .runtime import pick_device, set_deterministic, set_threads
from .trainer import TrainingObserver, TrainSettings, check_precision

log = logging.getLogger(__name__)


def resolve_engine(engine: str, device: torch.device) -> str:
    """auto: sequential on every device. On CPU the batched engine measured 0.3x sequential;
    on a GPU it has never been measured, while sequential training (with executor=pool for
    parallelism) ran on an H200 (BENCHMARKS.md, "GPU"). The batched engine stays opt-in."""
    del device  # kept for the day a GPU measurement makes batched the CUDA default
    return "sequential" if engine == "auto" else engine


def _check_precision(settings: TrainSettings, device: torch.device) -> None:
    """A precision the device cannot run is a config error, before any worker starts."""
    try:
        check_precision(settings.precision, device)
    except ValueError as err:
        raise ConfigError(str(err)) from None


def local_executor(config: Config, data: Any, settings: TrainSettings, device: torch.device,
                   observer: Optional[TrainingObserver] = None,
                   weights_dir: Optional[Path] = None) -> Executor:
    """The in-process executor trainer.engine asks for, after checking the precision fits
    the device. The batched engine trains a group at once: it reports no per-step progress."""
    _check_precision(settings, device)
    engine = resolve_engine(config.trainer.engine, device)
    log.info("training engine: %s on %s (%s)", engine, device, settings.precision)
    if engine == "batched":
        return BatchedExecutor(data, settings, device, max_group=config.trainer.max_group)
    return SerialExecutor(data, settings, device, observer=observer, weights_dir=weights_dir)


def data_desc(config: Config) -> dict[str, Any]:
    """The data settings that change a training's outcome (part of the cache fingerprint)."""
    d = config.data
    desc = {"name": d.name, "train_samples": d.train_samples, "test_samples": d.test_samples,
            "val_fraction": config.trainer.val_fraction}
    if d.name == "tensors":  # the file's content, not its name, decides the outcomes
        from .tensor_data import file_digest

        desc["sha256"] = file_digest(d.path)
    return desc


def data_shape(config: Config) -> tuple[int, int]:
    """(features per time step, classes) of the run's data, for the params objective: the
    image datasets' are known; a tensor file is read once."""
    if config.data.name != "tensors":
        return 28, 10
    from .tensor_data import load_tensor_file

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
                    weights_dir: Optional[Path] = None) -> Executor:
    """Train here (sequential or batched engine); an observer (progress bar, training curves)
    watches each training of the sequential engine."""
    data, device = driver_data(config)
    return local_executor(config, data, settings, device, observer, weights_dir)


def ray_executor(config: Config, settings: TrainSettings) -> Executor:
    """Start Ray workers; they receive plain data and load the data themselves."""
    from .ray_executor import RayExecutor
    from .ray_resources import RayOptions

    ex = config.executor
    options = RayOptions(address=ex.address, num_workers=ex.num_workers,
                         threads_per_worker=ex.threads_per_worker or config.trainer.num_threads or 1,
                         gpus_per_worker=ex.gpus_per_worker, max_restarts=ex.max_restarts,
                         start_timeout_s=ex.start_timeout_s)
    return RayExecutor(options, {"data": worker_data(config), "settings": asdict(settings),
                                 "deterministic": config.trainer.deterministic},
                       config.trainer.device)


def worker_data(config: Config) -> dict[str, Any]:
    """The data config a worker process loads (an absolute root: a worker's working
    directory may not be the driver's)."""
    d = config.data
    return {"name": d.name, "root": str(Path(d.root).expanduser().resolve()),
            "download": d.download, "train_samples": d.train_samples,
            "test_samples": d.test_samples, "val_fraction": config.trainer.val_fraction,
            "path": str(Path(d.path).expanduser().resolve()) if d.path else None}


def pool_executor(config: Config, settings: TrainSettings,
                  weights_dir: Optional[Path] = None) -> Executor:
    """Local worker processes, several per GPU or one per few CPU cores."""
    from .pool_executor import PoolExecutor, default_workers, pool_device

    ex, t = config.executor, config.trainer
    device = pool_device(t.device)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"trainer.device={t.device} but this machine has no CUDA GPU: "
                          "use trainer.device=cpu (or auto)")
    _check_precision(settings, torch.device(device))
    threads = ex.threads_per_worker or t.num_threads or 1
    workers = ex.num_workers or default_workers(device, threads)
    return PoolExecutor({"data": worker_data(config), "settings": asdict(settings),
                         "device": device, "threads": threads,
                         "deterministic": t.deterministic,
                         "weights_dir": str(weights_dir) if weights_dir else None}, workers)


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity, e.g. a cluster job's share)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve_executor(config: Config) -> tuple[str, str]:
    """executor=auto: (serial | pool, why). On CPU, single-thread pool workers, one per
    core: two threads per training gain only 1.18x alone and collapse beside any other busy
    process (BENCHMARKS.md); one thread per training also keeps the results those of
    executor=serial trainer.num_threads=1, whatever the number of cores."""
    name = config.executor.name
    if name != "auto":
        return name, "asked for"
    if pick_device(config.trainer.device).type != "cpu":
        return "serial", "one GPU process"
    if config.trainer.engine == "batched" or config.tensorboard.curves:
        return "serial", "the batched engine and training curves run in this process"
    if "latency" in config.ga.objectives:
        return "serial", "the latency objective times each model with the machine to itself"
    cores = usable_cores()
    if cores < 2:
        return "serial", "one CPU core"
    return "pool", f"{cores} CPU cores: one single-thread worker each"


def make_executor(config: Config, settings: TrainSettings,
                  observer: Optional[TrainingObserver] = None,
                  weights_dir: Optional[Path] = None) -> Executor:
    """Ray and pool workers train in other processes: no inner progress bar or training
    curves there. The executors that train on this machine keep the target trainings'
    weights in ``weights_dir`` (Ray workers may run on other machines: they keep none)."""
    name, why = resolve_executor(config)
    ex = config.executor
    if ex.name == "auto":
        log.info("executor=auto: %s (%s)", name, why)
        if name == "serial" and (ex.num_workers or ex.threads_per_worker):
            log.warning("executor.num_workers and executor.threads_per_worker size the pool; "
                        "executor=auto trains in this process here (%s), so they do not apply",
                        why)
    if name == "ray":
        return ray_executor(config, settings)
    if name == "pool":
        return pool_executor(config, settings, weights_dir)
    return serial_executor(config, settings, observer, weights_dir)
