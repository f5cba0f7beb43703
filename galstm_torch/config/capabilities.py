"""The executor a config asks for, and the settings it cannot apply, refused in one line
before anything starts. Every rule reads the executor's declared ``Capabilities`` (each
executor module's CAPABILITIES, collected in execution/registry.py), never its name;
``executor=auto`` picks an executor that can."""
from __future__ import annotations

import re
from typing import Any, Optional

from galstm_torch.errors import ConfigError, check, one_of
from galstm_torch.execution import registry
from galstm_torch.execution.capabilities import Capabilities

_ADDRESS = re.compile(r"auto|ray://\S+|[\w.\-\[\]:]+:\d+")


def asked(name: str) -> Optional[Capabilities]:
    """The capabilities of executor=``name``; None for auto (it picks one that can) and for
    an unknown name (check_keys refuses it)."""
    return registry.EXECUTORS.get(name)


def check_keys(ex: Any) -> None:
    """executor.*: a known name, values in range, and only the keys it reads."""
    one_of("executor.name", ex.name, registry.NAMES)
    for key in ("num_workers", "threads_per_worker", "max_group"):
        value = getattr(ex, key)
        check(value is None or value >= 1, f"executor.{key}", value, "must be >= 1 or null")
    check(ex.gpus_per_worker is None or 0 <= ex.gpus_per_worker <= 1, "executor.gpus_per_worker",
          ex.gpus_per_worker, "must be in [0, 1] (a fraction shares a GPU) or null for auto")
    check(ex.max_restarts is None or ex.max_restarts >= 0, "executor.max_restarts",
          ex.max_restarts, "must be >= 0 or null")
    check(ex.start_timeout_s is None or ex.start_timeout_s > 0, "executor.start_timeout_s",
          ex.start_timeout_s, "must be > 0 or null")
    _only_for(ex)
    check(ex.address is None or _ADDRESS.fullmatch(ex.address) is not None, "executor.address",
          ex.address, "use null (a local Ray), auto, host:port or ray://host:port")


def check_device(ex: Any, device: str) -> None:
    """A device the executor cannot train on (``device``: trainer.device); auto's device is
    known only when the run starts."""
    caps, device_type = asked(ex.name), device.split(":")[0]
    if caps is not None and device_type in registry.DEVICE_TYPES:
        refuse_device(caps, device_type, device)


def _only_for(ex: Any) -> None:
    """Refuse a key the chosen executor would ignore, in one line."""
    for key in registry.ALL_KEYS:
        if getattr(ex, key) is not None and key not in registry.keys_read(ex.name):
            readers = registry.readers(key)
            raise ConfigError(f"executor.{key}={getattr(ex, key)} is read only by executor="
                              f"{' or '.join(readers)}, not executor={ex.name}: drop it, or "
                              f"choose executor={readers[0]}")


def refuse_device(caps: Capabilities, device_type: str, trainer_device: str) -> None:
    """A device the executor cannot train on, in one line."""
    if device_type in caps.devices:
        return
    why = caps.reason(registry.DEVICES, f"trains on {' or '.join(caps.devices)} only")
    wanted = " or ".join(d.upper() for d in caps.devices)
    raise ConfigError(f"executor={caps.name} {why}, and this run trains on {device_type} "
                      f"(trainer.device={trainer_device}): use a {wanted} device, or "
                      "executor=auto")


def check_training(name: str, rungs: list[float], curves: bool, genes: bool = False) -> None:
    """Screening rungs, training curves and space=extended's training genes (``genes``),
    where the executor cannot apply them."""
    caps = asked(name)
    if caps is None:
        return
    if genes and not caps.training_genes:
        raise ConfigError(f"executor={caps.name} trains a group of genomes with one learning "
                          "rate, dropout and BatchNorm, so not space=extended's genomes: use "
                          "executor=auto (or serial, pool, ray, graphs), or space=article")
    if len(rungs) > 1 and not caps.fractional_epochs:
        raise ConfigError(f"executor={caps.name} trains whole epochs only: use ga.rungs=[1.0] "
                          "or another executor")
    if curves and not caps.curves:
        raise ConfigError(f"tensorboard.curves=true records each training step in this process, "
                          f"which executor={caps.name} does not: use executor=serial "
                          "(or auto), or drop tensorboard.curves")


def check_latency(name: str) -> None:
    """The latency objective times each model alone: refused where the executor cannot."""
    caps = asked(name)
    if caps is not None and not caps.latency:
        why = caps.reason(registry.LATENCY, "it does not time a model alone after training")
        raise ConfigError(f"the latency objective with executor={caps.name}: {why}; use "
                          "executor=serial")


def refuse_data(caps: Capabilities, n_features: int, n_classes: int) -> None:
    """Data of a shape the executor cannot train (known once the data is loaded)."""
    if caps.data_shape is None or caps.data_shape == (n_features, n_classes):
        return
    features, classes = caps.data_shape
    raise ConfigError(f"executor={caps.name} trains {features}-feature, {classes}-class data "
                      f"only (this data: {n_features} features, {n_classes} classes): use "
                      "executor=serial or auto")


def refuse_settings(caps: Capabilities, settings: Any) -> None:
    """Training settings the executor cannot run (e.g. fp16 in a CUDA graph)."""
    why = caps.unsupported(settings)
    if why is not None:
        raise ConfigError(f"{why}: use executor=serial")
