"""Train genomes on persistent Ray workers (actors): one per GPU, or CPU workers with a fixed
number of torch threads each.

The driver keeps the search, the cache, checkpoints and logging; a worker receives plain data
(a dict of settings and the data config), loads the data onto its device once, and runs
``executor.run_task`` for each Task it is sent, returning the Outcome. Ray is optional
(``pip install -e .[ray]``) and imported only when this executor starts.
"""
from __future__ import annotations

import logging
import os
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterator, Optional

import torch

from .data import load_data
from .errors import ClusterError, ConfigError, GalstmError
from .executor import Outcome, Task, failed_evaluation, run_task
from .trainer import TrainSettings

log = logging.getLogger(__name__)

INSTALL_HINT = "executor=ray needs Ray, which is not installed: pip install -e .[ray]"


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    return ray


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


class GenomeWorker:
    """One Ray actor: loads the data onto its device once, then trains the tasks it is sent.

    A start-up error is kept and reported by ``ready`` rather than raised, so that it reaches
    the driver as one line and Ray does not restart a worker that can never start."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.error: Optional[Exception] = None
        try:
            torch.set_num_threads(spec["threads"])
            self.device = torch.device(spec["device"])
            self.settings = TrainSettings(**spec["settings"])
            d = spec["data"]
            self.data = load_data(d["name"], d["root"], download=d["download"],
                                  train_samples=d["train_samples"], test_samples=d["test_samples"],
                                  val_fraction=d["val_fraction"]).to(self.device)
        except Exception as err:  # noqa: BLE001 - reported to the driver by ready()
            self.error = err if isinstance(err, GalstmError) else ClusterError(
                f"a Ray worker could not start: {type(err).__name__}: {err}")

    def ready(self) -> "dict[str, Any] | Exception":
        if self.error is not None:
            return self.error
        return {"pid": os.getpid(), "device": str(self.device), "sizes": self.data.sizes,
                "threads": torch.get_num_threads()}

    def run(self, task: Task) -> Outcome:
        return run_task(task, self.data, self.settings, self.device)


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


class RayExecutor:
    """Sends each task to an idle worker and yields outcomes as they finish. A worker whose
    process dies is restarted by Ray (up to max_restarts) and its genome trained again, up to
    max_restarts times; after that the genome is recorded as failed."""

    def __init__(self, options: RayOptions, spec: dict[str, Any], trainer_device: str) -> None:
        self.ray = import_ray()
        self.options = options
        self._owns_ray = not self.ray.is_initialized()
        self._actors: list[Any] = []
        try:
            self._connect()
            self.plan = plan_workers(self.ray.cluster_resources(), options, trainer_device,
                                     self.ray.available_resources())
            self._start_workers({**spec, "device": self.plan.device,
                                 "threads": self.plan.num_cpus})
        except BaseException:
            self.close()
            raise
        self._deaths = [0] * len(self._actors)

    def _connect(self) -> None:
        if not self._owns_ray:
            return  # the caller started Ray (e.g. in a notebook): use it and leave it running
        address = self.options.address
        try:
            # include_dashboard may only be given when starting a local instance
            kwargs = {"include_dashboard": False} if address is None else {}
            self.ray.init(address=address, logging_level=logging.WARNING, **kwargs)
        except Exception as err:  # noqa: BLE001 - Ray raises several types for a bad address
            raise ClusterError(f"cannot connect to Ray at executor.address={address}: "
                               f"{_first_line(err)} (start a cluster with `ray start --head`, "
                               "or use executor.address=null for a local one)") from None

    def _start_workers(self, spec: dict[str, Any]) -> None:
        plan, ray = self.plan, self.ray
        worker_cls = ray.remote(GenomeWorker).options(
            num_cpus=plan.num_cpus, num_gpus=plan.num_gpus,
            max_restarts=self.options.max_restarts, max_task_retries=0)
        self._actors = [worker_cls.remote(spec) for _ in range(plan.count)]
        readies = [actor.ready.remote() for actor in self._actors]
        done, pending = ray.wait(readies, num_returns=len(readies),
                                 timeout=self.options.start_timeout_s)
        if pending:
            raise ClusterError(f"{len(pending)} of {plan.count} Ray workers did not start within "
                               f"executor.start_timeout_s={self.options.start_timeout_s:g}s: the "
                               "cluster may be busy; lower executor.num_workers or raise the timeout")
        try:
            infos = ray.get(readies)
        except ray.exceptions.RayActorError as err:  # e.g. killed for memory while loading data
            raise ClusterError(f"a Ray worker died while starting: {_first_line(err)}") from None
        for info in infos:
            if isinstance(info, Exception):
                raise info
        log.info("Ray: %d worker(s) on %s, %d thread(s) each, cluster %s; data %s",
                 plan.count, plan.device, plan.num_cpus,
                 {k: v for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU")},
                 infos[0]["sizes"])

    def map(self, tasks: list[Task]) -> Iterator[Outcome]:
        pending, running = deque(tasks), {}
        idle = deque(i for i in range(len(self._actors)) if self._actors[i] is not None)
        attempts: dict[Task, int] = {}
        while pending or running:
            while idle and pending:
                i, task = idle.popleft(), pending.popleft()
                running[self._actors[i].run.remote(task)] = (i, task)
            if not running:
                raise ClusterError(f"every Ray worker died more than executor.max_restarts="
                                   f"{self.options.max_restarts} times; see the Ray logs "
                                   "(/tmp/ray/session_latest/logs), e.g. for out-of-memory kills")
            [ref], _ = self.ray.wait(list(running), num_returns=1)
            i, task = running.pop(ref)
            try:
                outcome = self.ray.get(ref)
            except self.ray.exceptions.RayActorError as err:
                outcome = self._worker_died(i, task, attempts, err)
                if outcome is None:
                    pending.appendleft(task)
            if self._actors[i] is not None:
                idle.append(i)
            if outcome is not None:
                yield outcome

    def _worker_died(self, i: int, task: Task, attempts: dict[Task, int],
                     err: Exception) -> Optional[Outcome]:
        """Count the death; None means train the task again, else its failed Outcome."""
        limit = self.options.max_restarts
        self._deaths[i] += 1
        if self._deaths[i] > limit:
            self._actors[i] = None  # Ray does not restart it any more
        attempts[task] = attempts.get(task, 0) + 1
        log.warning("Ray worker %d died while training %s (%s); %s", i, list(task.compact),
                    _first_line(err), "training it again" if attempts[task] <= limit
                    else "recording it as failed")
        if attempts[task] <= limit:
            return None
        return Outcome(task.compact, failed_evaluation(), status="failed",
                       error=f"its Ray worker died {attempts[task]} times "
                             f"(executor.max_restarts={limit})")

    def close(self) -> None:
        """Shut down the Ray instance this executor started (or just its workers otherwise)."""
        if self._owns_ray:
            self.ray.shutdown()
        else:
            for actor in self._actors:
                if actor is not None:
                    self.ray.kill(actor)
        self._actors = []

