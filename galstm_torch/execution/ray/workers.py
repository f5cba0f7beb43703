"""Train genomes on persistent Ray workers (actors): one per GPU, or CPU workers with a fixed
number of torch threads each.

The driver keeps the search, the cache, checkpoints and logging; a worker receives plain data
(a dict of settings and the data config), loads the data onto its device once, and runs
``executor.run_task`` for each Task it is sent, returning the Outcome. Ray is optional
(``pip install -e .[ray]``) and imported only when this executor starts.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any, Iterator, Optional

from galstm_torch.errors import ClusterError, ConfigError
from galstm_torch.execution.capabilities import LATENCY, SHARED_TIMING, Capabilities, Launch
from galstm_torch.execution.executor import Outcome, Task, failed_outcome
from galstm_torch.execution.ray.resources import RayOptions, plan_workers
from galstm_torch.execution.worker import GenomeWorker, WorkerSpec

log = logging.getLogger(__name__)

PROBE_INTERVAL_S = 0.5  # how often to ask a restarting worker whether it is back
INSTALL_HINT = "executor=ray needs Ray, which is not installed: pip install -e .[ray]"


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    return ray


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


class RayExecutor:
    """Sends each task to an idle worker and yields outcomes as they finish. A worker whose
    process dies is restarted by Ray (up to max_restarts) and its genome trained again, up to
    max_restarts times; after that the genome is recorded as failed."""

    def __init__(self, options: RayOptions, spec: WorkerSpec, trainer_device: str) -> None:
        self.ray = import_ray()
        self.options = options
        self._owns_ray = not self.ray.is_initialized()
        self._actors: list[Any] = []
        try:
            self._connect()
            self.plan = plan_workers(self.ray.cluster_resources(), options, trainer_device,
                                     self.ray.available_resources())
            self._start_workers(spec.on(self.plan.device, self.plan.num_cpus))
        except BaseException:
            self.close()
            raise
        self._deaths = [0] * len(self._actors)
        self._idle = deque(range(len(self._actors)))  # workers ready for a task
        self.slots = len(self._actors)  # trainings at once (the evaluator fills idle ones ahead)
        self._probes: dict[Any, int] = {}  # ready() calls to restarted workers -> worker
        self._probe_at: dict[int, float] = {}  # restarting workers -> when to probe next

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

    def _start_workers(self, spec: WorkerSpec) -> None:
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
        running: dict[Any, tuple[int, Task]]  # ObjectRef -> (worker, task)
        pending, running = deque(tasks), {}
        attempts: dict[Task, int] = {}
        while pending or running:
            self._send_probes()
            while self._idle and pending:
                i, task = self._idle.popleft(), pending.popleft()
                running[self._actors[i].run.remote(task)] = (i, task)
            refs = [*running, *self._probes]
            if not refs and not self._probe_at:
                raise ClusterError(f"every Ray worker died more than executor.max_restarts="
                                   f"{self.options.max_restarts} times; see the Ray logs "
                                   "(/tmp/ray/session_latest/logs), e.g. for out-of-memory kills")
            wait = max(0.0, min(self._probe_at.values()) - time.monotonic()) if self._probe_at else None
            if not refs:
                time.sleep(wait or 0.0)
                continue
            done, _ = self.ray.wait(refs, num_returns=1, timeout=wait)
            for ref in done:
                if ref in self._probes:
                    self._probe_done(ref)
                    continue
                i, task = running.pop(ref)
                outcome = self._collect(ref, i, task, attempts)
                if outcome is None:
                    pending.appendleft(task)
                else:
                    yield outcome

    def _collect(self, ref: Any, i: int, task: Task, attempts: dict[Task, int]) -> Optional[Outcome]:
        """The task's Outcome; after a worker death, None (train it again) or a failed Outcome."""
        try:
            outcome = self.ray.get(ref)
        except self.ray.exceptions.RayActorError as err:
            return self._worker_died(i, task, attempts, err)
        self._idle.append(i)
        return outcome

    def _worker_died(self, i: int, task: Task, attempts: dict[Task, int],
                     err: Exception) -> Optional[Outcome]:
        """Count the death; None means train the task again, else its failed Outcome."""
        limit = self.options.max_restarts
        self._deaths[i] += 1
        if self._deaths[i] > limit:
            self._actors[i] = None  # Ray does not restart it any more
        else:
            self._probe_at[i] = time.monotonic()  # reuse it once Ray has restarted it
        attempts[task] = attempts.get(task, 0) + 1
        log.warning("Ray worker %d died while training %s (%s); %s", i, list(task.compact),
                    _first_line(err), "training it again" if attempts[task] <= limit
                    else "recording it as failed")
        if attempts[task] <= limit:
            return None
        return failed_outcome(task, f"its Ray worker died {attempts[task]} times "
                                    f"(executor.max_restarts={limit})")

    def _send_probes(self) -> None:
        """Ask each restarting worker whose time has come whether it is ready again."""
        now = time.monotonic()
        for i, at in list(self._probe_at.items()):
            if at <= now:
                del self._probe_at[i]
                self._probes[self._actors[i].ready.remote()] = i

    def _probe_done(self, ref: Any) -> None:
        i = self._probes.pop(ref)
        try:
            info = self.ray.get(ref)
        except self.ray.exceptions.ActorUnavailableError:  # still restarting: ask again soon
            self._probe_at[i] = time.monotonic() + PROBE_INTERVAL_S
            return
        except self.ray.exceptions.RayActorError as err:
            info = err
        if isinstance(info, Exception):
            log.warning("Ray worker %d did not come back: %s", i, _first_line(info))
            self._actors[i] = None
        else:
            log.info("Ray worker %d is back (pid %d)", i, info["pid"])
            self._idle.append(i)

    def close(self) -> None:
        """Shut down the Ray instance this executor started (or just its workers otherwise)."""
        if self._owns_ray:
            self.ray.shutdown()
        else:
            for actor in self._actors:
                if actor is not None:
                    self.ray.kill(actor)
        self._actors = []



RESTARTS = 3  # executor.max_restarts=null: restarts per worker


def _build(launch: Launch) -> RayExecutor:
    """Ray workers receive a WorkerSpec and load the data themselves. They keep no weights:
    they may run on other machines."""
    ex = launch.options
    options = RayOptions(address=ex.address, num_workers=ex.num_workers,
                         threads_per_worker=launch.threads, gpus_per_worker=ex.gpus_per_worker,
                         max_restarts=RESTARTS if ex.max_restarts is None else ex.max_restarts,
                         start_timeout_s=launch.start_timeout_s)
    return RayExecutor(options, WorkerSpec.of(launch), launch.trainer.device)


CAPABILITIES = Capabilities(
    "ray", in_process=False, build=_build, kept_weights=False, parallel=True,
    keys=("address", "num_workers", "threads_per_worker", "gpus_per_worker", "max_restarts",
          "start_timeout_s"),
    why=((LATENCY, SHARED_TIMING),))
