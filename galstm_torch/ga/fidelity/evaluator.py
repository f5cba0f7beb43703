"""Fitness evaluation with a cache: a genome is never trained twice under the same settings."""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from typing import Any, Callable, Optional

from galstm_torch.execution.executor import Executor, Outcome, Task
from galstm_torch.ga.fidelity.store import Measurements, replicates
from galstm_torch.training.architecture import Architecture
from galstm_torch.training.runtime import genome_seed
from galstm_torch.training.trainer import TrainSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Request:
    """One evaluation to obtain: a genome at a fidelity (epochs; None = the settings' epochs,
    the target fidelity), with replicate r >= 0 (replicate r > 0 is a fresh seed)."""

    arch: Architecture
    fidelity: Optional[float] = None
    replicate: int = 0


@dataclass(frozen=True)
class Result:
    """One genome's evaluation within a generation; cache_hit means no training happened.
    compute is the epochs of the training split this row spent (0 for a cache hit)."""

    arch: Architecture
    outcome: Outcome
    cache_hit: bool
    fidelity: float = 1.0
    replicate: int = 0
    compute: float = 0.0

    @property
    def evaluation(self):
        return self.outcome.evaluation

    @property
    def fitness(self) -> float:
        return self.outcome.evaluation.fitness


def settings_fingerprint(settings: TrainSettings, run_seed: int, data_desc: dict[str, Any]) -> str:
    """A short hash of everything besides the genome that changes a training's outcome."""
    train = asdict(settings)
    train.pop("eval_batch_size")  # evaluation in eval mode: the batch size changes no result
    train.pop("latency_batch")    # measured after training: it changes no training
    for key, old in (("lr_schedule", "constant"), ("screen_batch_size", 0)):
        if train[key] == old:  # keys added later stay out at their old behaviour, so older
            del train[key]     # checkpoints keep their cache on resume
    blob = json.dumps({"train": train, "seed": run_seed, "data": data_desc}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


MICRO = 1_000_000  # compute is counted in micro-epochs


class Evaluator:
    """Sends the uncached genomes of a generation to an executor and caches what comes back.

    Each genome is seeded from (run seed, canonical genome), so its fitness does not depend
    on the order, the executor or the process that trains it.
    """

    def __init__(self, executor: Executor, settings: TrainSettings, *, run_seed: int,
                 data_desc: "dict[str, Any] | None" = None,
                 budget: Optional[float] = None) -> None:
        self.executor, self.run_seed, self.budget = executor, run_seed, budget
        self.target = float(settings.epochs)
        self.store = Measurements(settings_fingerprint(settings, run_seed, data_desc or {}),
                                  self.target)
        self.trained = 0
        self.cache_hits = 0
        self._spent = 0  # compute trained so far, in micro-epochs: an integer sum is the same
                         # in any completion order (a pool finishes trainings out of order)
        self.ahead: dict[str, Outcome] = {}  # trained ahead (evaluate's ``ahead``), unseen
        self.unused_ahead = 0  # trainings ahead that were never asked for (wasted)

    @property
    def spent(self) -> float:
        """Compute so far: epochs of the training split trained (cache hits cost nothing)."""
        return self._spent / MICRO

    @staticmethod
    def units(epochs: float) -> int:
        return round(epochs * MICRO)

    @property
    def cache(self) -> dict[str, Outcome]:
        """The store's records by key (what a checkpoint saves)."""
        return self.store.records

    def key(self, arch: Architecture, fidelity: Optional[float] = None, replicate: int = 0) -> str:
        """The store's key of (genome, fidelity, seed) under this run's settings."""
        return self.store.key(arch, fidelity, replicate)

    def cached(self, arch: Architecture, fidelity: Optional[float] = None,
               replicate: int = 0) -> Optional[Outcome]:
        return self.store.cached(arch, fidelity, replicate)

    def replicates(self, arch: Architecture, fidelity: Optional[float] = None) -> list[Outcome]:
        """The records of replicates 0, 1, ... of a genome at a fidelity, as far as stored."""
        return replicates(self.store, arch, fidelity)

    def restore(self, cache: dict[str, Outcome], *, trained: int, cache_hits: int,
                spent: float) -> None:
        """Continue from a checkpoint's records and counters (persist/migrate.py brought an
        older checkpoint to this form when it was loaded)."""
        self.store.records, self.trained, self.cache_hits = dict(cache), trained, cache_hits
        self._spent = self.units(spent)

    def task(self, request: "Request | Architecture") -> Task:
        r = request if isinstance(request, Request) else Request(request)
        seed = genome_seed(self.run_seed, r.arch.compact, self.store.suffix(r.fidelity, r.replicate))
        fidelity = None if r.fidelity is None or r.fidelity == self.target else r.fidelity
        return Task(r.arch.compact, seed, fidelity)

    def cost(self, request: Request) -> float:
        return self.target if request.fidelity is None else request.fidelity

    def affordable(self, requests: list[Request]) -> tuple[list[Request], bool]:
        """The longest prefix of the requests whose new trainings fit in the budget, and
        whether any request had to be dropped (the budget is spent)."""
        if self.budget is None:
            return requests, False
        spent, queued = self._spent, set()
        for i, r in enumerate(requests):
            key = self.key(r.arch, r.fidelity, r.replicate)
            if key in self.cache or key in queued:
                continue
            if spent + self.units(self.cost(r)) > self.units(self.budget):
                return requests[:i], True
            spent += self.units(self.cost(r))
            queued.add(key)
        return requests, False

    def evaluate(self, requests: "list[Request] | list[Architecture]", *,
                 trained_before: "set[str] | None" = None,
                 on_outcome: Optional[Callable[[str, Outcome], None]] = None,
                 ahead: "list[Request] | None" = None) -> list[Result]:
        """Evaluate requests (or genomes at the target fidelity). The first row of each key
        trained for this generation is a cache miss, every other row a hit.
        ``trained_before`` names the keys this generation already trained (on resume);
        ``on_outcome(key, outcome)`` runs after each training.

        ``ahead``: requests likely to follow (racing's next seeds). Where the executor has
        workers to spare (its ``slots``), they train beside these requests and wait, unseen,
        until asked for; one asked for is counted then, as if trained then. A training's
        outcome depends only on its genome and seed, so the results, records and compute
        are those of training each when asked, only sooner."""
        reqs = [r if isinstance(r, Request) else Request(r) for r in requests]
        trained_now = set(trained_before or ())
        todo = self._todo(reqs)
        for key, r in [(k, r) for k, r in todo.values() if k in self.ahead]:
            self._record(key, r, self.ahead.pop(key), trained_now, on_outcome)
        todo = {pair: v for pair, v in todo.items() if v[0] not in self.cache}
        spare = self._spare(ahead or [], todo)
        tasks = [self.task(r) for _, r in [*todo.values(), *spare.values()]]
        for outcome in self.executor.map(tasks) if tasks else ():
            pair = (outcome.compact, outcome.seed)
            if pair in spare:
                self.ahead[spare[pair][0]] = outcome
                continue
            key, r = todo[pair]
            self._record(key, r, outcome, trained_now, on_outcome)
        return [self._result(r, trained_now) for r in reqs]

    def _todo(self, reqs: list[Request]) -> dict[tuple, tuple[str, Request]]:
        """(compact, seed) -> (key, request) of each uncached key, once."""
        todo: dict[tuple, tuple[str, Request]] = {}
        for r in reqs:
            key = self.key(r.arch, r.fidelity, r.replicate)
            if key not in self.cache:
                task = self.task(r)
                todo.setdefault((task.compact, task.seed), (key, r))
        return todo

    def _spare(self, ahead: list[Request], todo: dict) -> dict[tuple, tuple[str, Request]]:
        """The ahead requests to train now: as many as the executor's idle slots hold, none
        cached, waiting or beyond the budget."""
        room = self.executor.slots - len(todo)
        chosen: dict[tuple, tuple[str, Request]] = {}
        asked = [r for _, r in todo.values()]
        waiting = {key for key, _ in todo.values()} | set(self.ahead)
        for r in ahead:
            key = self.key(r.arch, r.fidelity, r.replicate)
            if len(chosen) >= room or key in self.cache or key in waiting:
                continue
            if self.affordable([*asked, *(v[1] for v in chosen.values()), r])[1]:
                break
            task = self.task(r)
            chosen.setdefault((task.compact, task.seed), (key, r))
        return chosen

    def forget_ahead(self) -> int:
        """Drop the trainings ahead never asked for (at a generation's end); how many."""
        unused = len(self.ahead)
        self.unused_ahead += unused
        self.ahead.clear()
        return unused

    def _record(self, key: str, r: Request, outcome: Outcome, trained_now: set[str],
                on_outcome: Optional[Callable[[str, Outcome], None]]) -> None:
        self.store.add(key, outcome)
        self.trained += 1
        self._spent += self.units(self.cost(r))
        trained_now.add(key)
        if on_outcome is not None:
            on_outcome(key, outcome)

    def _result(self, r: Request, trained_now: set[str]) -> Result:
        key = self.key(r.arch, r.fidelity, r.replicate)
        hit = key not in trained_now
        trained_now.discard(key)  # later rows of the same key are hits
        self.cache_hits += hit
        return Result(r.arch, self.cache[key], cache_hit=hit, fidelity=self.cost(r),
                      replicate=r.replicate, compute=0.0 if hit else self.cost(r))
