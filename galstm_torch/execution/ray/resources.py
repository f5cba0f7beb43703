"""How many Ray workers to start and what each reserves, from what the cluster has.

Pure functions of ``ray.cluster_resources()`` and the config, so they are tested without Ray.
A GPU request on a cluster without one, or more workers than fit, fails here, at start, with
one line, rather than leave Ray waiting for resources that never come.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from galstm_torch.errors import ConfigError


@dataclass(frozen=True)
class RayOptions:
    """executor.* as plain data (see conf/executor/ray.yaml)."""

    address: Optional[str] = None
    num_workers: Optional[int] = None
    threads_per_worker: int = 1
    gpus_per_worker: Optional[float] = None
    max_restarts: int = 3
    start_timeout_s: float = 300.0


@dataclass(frozen=True)
class WorkerPlan:
    count: int
    num_cpus: int  # Ray CPUs reserved per worker = torch threads per worker
    num_gpus: float  # Ray GPUs per worker; 0 for CPU workers

    @property
    def device(self) -> str:
        return "cuda" if self.num_gpus > 0 else "cpu"


def _gpus_per_worker(device: str, asked: Optional[float], cluster_gpus: float) -> float:
    """The GPU share of one worker, from trainer.device, executor.gpus_per_worker and what the
    cluster has; asking for a GPU on a cluster without one fails now rather than hang."""
    if device == "cpu":
        if asked:
            raise ConfigError(f"executor.gpus_per_worker={asked} contradicts trainer.device=cpu: "
                              "use trainer.device=auto or cuda, or executor.gpus_per_worker=0")
        return 0.0
    if device != "auto" and not device.startswith("cuda"):
        raise ConfigError(f"trainer.device={device!r} is not supported: use auto, cpu or cuda")
    if device.startswith("cuda") and asked == 0:
        raise ConfigError(f"trainer.device={device} contradicts executor.gpus_per_worker=0")
    share = asked if asked is not None else (1.0 if cluster_gpus >= 1 or device != "auto" else 0.0)
    if share > 0 and cluster_gpus < share:
        asking = f"trainer.device={device}" if asked is None else f"executor.gpus_per_worker={asked}"
        raise ConfigError(f"{asking} asks for a GPU but the Ray cluster has {cluster_gpus:g}: use "
                          "trainer.device=cpu (or auto), or join a cluster with GPUs")
    return share


def plan_workers(total: dict[str, float], options: RayOptions, device: str,
                 free: "dict[str, float] | None" = None) -> WorkerPlan:
    """How many workers, and what each reserves, from ``ray.cluster_resources()`` (``total``)
    and ``ray.available_resources()`` (``free``: what other jobs leave; default all)."""
    free = total if free is None else free
    cpus, gpus = free.get("CPU", 0.0), free.get("GPU", 0.0)
    share = _gpus_per_worker(device, options.gpus_per_worker, total.get("GPU", 0.0))
    threads = options.threads_per_worker
    fits = int(gpus / share + 1e-9) if share > 0 else int(cpus // threads)
    count = options.num_workers or fits
    if count < 1 or count > fits or count * threads > cpus:
        what = f"{count} worker(s) x {threads} thread(s)" + (f" x {share:g} GPU" if share else "")
        raise ConfigError(f"executor: {what} do not fit the free resources of the Ray cluster "
                          f"({cpus:g} of {total.get('CPU', 0.0):g} CPUs, {gpus:g} of "
                          f"{total.get('GPU', 0.0):g} GPUs): lower executor.num_workers or "
                          "executor.threads_per_worker")
    return WorkerPlan(count=count, num_cpus=threads, num_gpus=share)
