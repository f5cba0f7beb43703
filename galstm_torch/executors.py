"""Build the executor a config asks for (``executor=auto``: the one it picks for this
machine). Each executor declares what it can do and how it is built (its module's
CAPABILITIES, found by execution/registry.py); this module checks those declarations
against the run, prepares this process and loads the data where the executor trains here,
and hands the executor its ``Launch``."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional

import torch

from galstm_torch.config import Config
from galstm_torch.config.capabilities import refuse_data, refuse_device, refuse_settings
from galstm_torch.data.images import DataSplits
from galstm_torch.data.load import DataSpec
from galstm_torch.execution import registry
from galstm_torch.execution.capabilities import Capabilities, Launch, refuse_precision
from galstm_torch.execution.executor import Executor
from galstm_torch.training.runtime import pick_device, set_deterministic, set_threads
from galstm_torch.training.trainer import TrainingObserver, TrainSettings

log = logging.getLogger(__name__)


def data_spec(config: Config) -> DataSpec:
    """The run's data, as this process or a worker loads it."""
    return DataSpec.of(config.data, config.trainer.val_fraction)


def prepare_process(config: Config) -> torch.device:
    """This process's device, CPU threads and determinism (trainer.*): called before it
    trains, exports or retrains, and only then (a driver whose workers train elsewhere may
    have no GPU until it exports)."""
    device = pick_device(config.trainer.device)
    set_threads(config.trainer.num_threads)
    set_deterministic(config.trainer.deterministic, device)
    return device


def driver_data(config: Config, device: torch.device) -> DataSplits:
    """Load the data onto ``device`` (to train here, export or retrain)."""
    data = data_spec(config).load().to(device)
    log.info("data %s on %s: %s", config.data.name, device, data.sizes)
    return data


def local_executor(config: Config, data: Optional[DataSplits], settings: TrainSettings,
                   device: torch.device, observer: Optional[TrainingObserver] = None,
                   weights_dir: Optional[Path] = None, name: Optional[str] = None) -> Executor:
    """An executor that trains in this process, after checking that its capabilities fit
    the precision, the device, the settings and the data. ``name``: the executor auto chose
    (default: the one asked for)."""
    refuse_precision(settings, device)
    caps = registry.EXECUTORS[name or config.executor.name]
    refuse_device(caps, device.type, config.trainer.device)
    refuse_settings(caps, settings)
    if data is not None:
        refuse_data(caps, data.n_features, data.n_classes)
    log.info("training in this process (%s) on %s (%s)", caps.name, device, settings.precision)
    return caps.build(_launch(config, caps, settings, observer, weights_dir, data, device))


def _launch(config: Config, caps: Capabilities, settings: TrainSettings,
            observer: Optional[TrainingObserver], weights_dir: Optional[Path],
            data: Optional[DataSplits] = None, device: Optional[torch.device] = None) -> Launch:
    """Only an executor with the curves capability gets the observer, only one that keeps
    weights ``weights_dir``."""
    return Launch(config.executor, config.trainer, settings, data_spec(config), data, device,
                  observer if caps.curves else None, weights_dir if caps.kept_weights else None)


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
        return _on_gpu(settings, config.space.name == "extended")
    if "latency" in config.ga.objectives:
        return here, "the latency objective times each model with the machine to itself"
    cores = usable_cores()
    if cores < 2:
        return here, "one CPU core"
    return registry.AUTO_ON_CPU.name, f"{cores} CPU cores: one single-thread worker each"


def _on_gpu(settings: TrainSettings, genes: bool) -> tuple[str, str]:
    """A GPU: a generation's genomes as CUDA graphs side by side, unless a setting rules
    graphs out (``genes``: space=extended's training genes); then one genome after another in
    this process, and the log says why."""
    why = registry.AUTO_ON_CUDA.unsupported(settings)
    if genes and not registry.AUTO_ON_CUDA.training_genes:
        why = "space=extended trains each genome with its own learning rate and dropouts"
    if why is not None:
        here = registry.AUTO_IN_PROCESS.name
        return here, f"a GPU, but {why}, so one genome after another (executor={here})"
    return registry.AUTO_ON_CUDA.name, ("a GPU: each genome's training step as a CUDA graph, "
                                        "a generation's genomes replayed side by side")


def make_executor(config: Config, settings: TrainSettings,
                  observer: Optional[TrainingObserver] = None,
                  weights_dir: Optional[Path] = None) -> Executor:
    """The executor the config asks for (auto: the one resolve_executor picks). One that
    trains in this process gets the data loaded here, after ``prepare_process``; workers in
    other processes load it themselves and get no observer (no inner progress bar, no
    training curves); Ray workers may run on other machines: they keep no weights."""
    name, why = resolve_executor(config, settings)
    caps = registry.EXECUTORS[name]
    if config.executor.name == registry.AUTO:
        log.info("executor=auto: %s (%s)", name, why)
        _warn_unused(config, caps, why)
    if caps.in_process:
        device = prepare_process(config)
        data = driver_data(config, device)
        return local_executor(config, data, settings, device, observer, weights_dir, name)
    return caps.build(_launch(config, caps, settings, observer, weights_dir))


def _warn_unused(config: Config, chosen: Capabilities, why: str) -> None:
    """auto reads the pool's keys; one set is said not to apply where auto picked another."""
    unused = [k for k in registry.AUTO_KEYS
              if getattr(config.executor, k) is not None and k not in chosen.keys]
    if unused:
        log.warning("%s apply to the %s; executor=auto trains with executor=%s here (%s), so "
                    "they do not apply", ", ".join(f"executor.{k}" for k in unused),
                    registry.AUTO_ON_CPU.name, chosen.name, why)
