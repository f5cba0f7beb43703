"""Fitness evaluation with a cache: a genome is never trained twice under the same settings."""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from typing import Any, Callable, Optional

from .architecture import Architecture, format_compact
from .executor import Executor, Outcome, Task
from .runtime import derive_seed
from .trainer import TrainSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Result:
    """One genome's evaluation within a generation; cache_hit means no training happened."""

    arch: Architecture
    outcome: Outcome
    cache_hit: bool

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
    if train["lr_schedule"] == "constant":  # keys added later stay out at their old behaviour,
        del train["lr_schedule"]            # so older checkpoints keep their cache on resume
    blob = json.dumps({"train": train, "seed": run_seed, "data": data_desc}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class Evaluator:
    """Sends the uncached genomes of a generation to an executor and caches what comes back.

    Each genome is seeded from (run seed, canonical genome), so its fitness does not depend
    on the order, the executor or the process that trains it.
    """

    def __init__(self, executor: Executor, settings: TrainSettings, *, run_seed: int,
                 data_desc: "dict[str, Any] | None" = None) -> None:
        self.executor, self.run_seed = executor, run_seed
        self.fingerprint = settings_fingerprint(settings, run_seed, data_desc or {})
        self.cache: dict[str, Outcome] = {}
        self.trained = 0
        self.cache_hits = 0

    def key(self, arch: Architecture) -> str:
        return f"{format_compact(arch.compact)}|{self.fingerprint}"

    def cached(self, arch: Architecture) -> Outcome:
        return self.cache[self.key(arch)]

    def restore(self, cache: dict[str, Outcome], *, trained: int, cache_hits: int) -> None:
        """Continue from a checkpoint's cache and counters."""
        self.cache, self.trained, self.cache_hits = dict(cache), trained, cache_hits

    def task(self, arch: Architecture) -> Task:
        return Task(arch.compact, derive_seed(self.run_seed, format_compact(arch.compact)))

    def evaluate(self, archs: list[Architecture], *, trained_before: "set[str] | None" = None,
                 on_outcome: Optional[Callable[[str, Outcome], None]] = None) -> list[Result]:
        """Evaluate a generation. The first row of each genome trained for this generation is
        a cache miss, every other row a hit. ``trained_before`` names the keys this generation
        already trained (on resume); ``on_outcome(key, outcome)`` runs after each training."""
        trained_now = set(trained_before or ())
        todo, queued = [], set()
        for arch in archs:
            key = self.key(arch)
            if key not in self.cache and key not in queued:
                queued.add(key)
                todo.append(self.task(arch))
        for outcome in self.executor.map(todo):
            key = self.key(Architecture.from_compact(outcome.compact))
            self.cache[key] = outcome
            self.trained += 1
            trained_now.add(key)
            if on_outcome is not None:
                on_outcome(key, outcome)
        results = []
        for arch in archs:
            key = self.key(arch)
            hit = key not in trained_now
            trained_now.discard(key)  # later rows of the same genome are hits
            self.cache_hits += hit
            results.append(Result(arch, self.cache[key], cache_hit=hit))
        return results
