"""What the search tells its sinks, and the sink interface.

``Search`` emits events; the sinks (the CSV tables, TensorBoard, the Pareto outputs, the
progress bars, the kept weights and the checkpoint) subscribe to them, as EvoTorch's
``log_hook`` subscribers do. A sink overrides the events it needs; sinks never know each
other, and nothing here knows a sink.

Events, in the order a generation emits them:
- ``generation_started(GenerationStarted)``: a generation's evaluation begins;
- ``genome_trained(GenomeTrained)``: after each training (resumed generations skip those
  trained before the restart);
- ``generation_done(GenerationDone)``: the generation is evaluated; its rows and scalars;
- ``state(SearchState)``: the search state to persist, after each of the above and after
  the next population is drawn;
- ``finish(Best)`` once at the end, then ``close()`` (also when the search fails).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable, Optional

import torch

from galstm_torch.files.atomic import finite
from galstm_torch.ga.fidelity.rungs import Row
from galstm_torch.training.architecture import format_compact

if TYPE_CHECKING:  # annotations only
    from galstm_torch.execution.executor import Outcome
    from galstm_torch.ga.fidelity.evaluator import Result
    from galstm_torch.ga.pareto.goals import ParetoSummary


@dataclass(frozen=True)
class Best(Row):
    """The search's answer so far: a genome at the target fidelity (its fitness is the mean
    over ``seeds`` seeds, ``se`` its standard error; the other metrics are its first seed's),
    the generation that first met it and, in a Pareto search, the front (the genome is then
    its knee)."""

    generation: int
    pareto: "Optional[ParetoSummary]" = None

    @classmethod
    def of(cls, row: Row, generation: int, pareto: "Optional[ParetoSummary]" = None) -> Best:
        return cls(row.arch, row.fidelity, row.standing, row.first, generation, pareto)

    def to_json(self) -> dict:
        out = {"genome": format_compact(self.arch.compact),
               "compact": list(self.arch.compact), "fitness": self.fitness,
               "fitness_se": finite(self.se), "seeds": self.seeds,
               "val_acc": finite(self.val_acc), "test_acc": finite(self.test_acc),
               "loss": finite(self.loss),
               "params": self.params, "generation": self.generation}
        return out if self.pareto is None else out | self.pareto.to_json()


@dataclass(frozen=True)
class GenerationInfo:
    """What the search loop measured around one generation's evaluation."""

    generation: int
    seconds: float
    trained: int      # cumulative trainings in this run
    cache_hits: int   # cumulative cache hits in this run
    compute: float = 0.0  # cumulative compute in this run (epochs of the training split)
    eta: Optional[float] = None  # seconds until the search stops, from its pace so far
                                 # (pace.py); 0 = it stops now; None = not measured yet


@dataclass(frozen=True)
class GenerationStarted:
    """``total`` None: the trainings are not known ahead (rungs and racing decide them);
    ``known``: genomes of the generation already in the cache; ``best``: the best fitness so
    far (None before any); ``budget``: ga.budget_epochs; ``compute``: spent so far in the
    run; ``eta``: as GenerationInfo's (None before this invocation measured any compute)."""

    generation: int
    generations: Optional[int]
    total: Optional[int]
    known: int
    best: Optional[float]
    budget: Optional[float] = None
    compute: float = 0.0
    eta: Optional[float] = None


@dataclass(frozen=True)
class GenomeTrained:
    key: str
    outcome: Outcome


@dataclass(frozen=True)
class GenerationDone:
    """One evaluated generation: ``results``, ``fitness`` and ``population`` have a row per
    genome (``results``: where each genome stands); ``evaluations`` holds every evaluation
    made (rungs, seeds); ``hits``: the cache hits among them."""

    results: list[Row]
    fitness: torch.Tensor
    best: Best
    info: GenerationInfo
    population: torch.Tensor
    evaluations: list[Result]
    hits: int = 0

    @cached_property
    def scalars(self) -> dict[str, float]:
        """GENERATION_SCALARS of this generation, by tag."""
        return {tag: scalar(self) for tag, scalar in GENERATION_SCALARS.items()}

    @cached_property
    def leader(self) -> tuple[float, float, float]:
        """(fitness, val acc, test acc) of the best so far: the best genome's, or in a Pareto
        search the most accurate genome of the front (it never falls, as the knee can; the
        knee has its own scalars under pareto/)."""
        p = self.best.pareto
        if p is None or not p.front:
            return self.best.fitness, self.best.val_acc, self.best.test_acc
        top = max(p.front, key=lambda point: point.accuracy)
        return top.accuracy, top.val_acc, top.test_acc

    @cached_property
    def top(self) -> Row:
        """The generation's best row."""
        return self.results[int(self.fitness.argmax())]

    @cached_property
    def samples(self) -> float:
        """Samples trained in this generation (cache hits train none)."""
        trained = [r.evaluation for r in self.evaluations if not r.cache_hit]
        return sum(e.samples_per_s * e.seconds for e in trained if math.isfinite(e.samples_per_s))

    @cached_property
    def params(self) -> list[int]:
        """Parameters of the rows that trained without failing."""
        return [r.params for r in self.results if r.status == "ok"]


# The population-level figures of a generation, keyed by their TensorBoard tag; in this order
# they are the columns of generations.csv after "generation".
GENERATION_SCALARS: "dict[str, Callable[[GenerationDone], float]]" = {
    "fitness/best": lambda g: g.fitness.max().item(),
    "fitness/mean": lambda g: g.fitness.mean().item(),
    "fitness/min": lambda g: g.fitness.min().item(),
    "fitness/std": lambda g: g.fitness.std().item() if len(g.fitness) > 1 else 0.0,
    "fitness/best_so_far": lambda g: g.leader[0],
    "accuracy/val_best": lambda g: g.top.val_acc,
    "accuracy/test_best": lambda g: g.top.test_acc,
    "accuracy/val_best_so_far": lambda g: g.leader[1],
    "accuracy/test_best_so_far": lambda g: g.leader[2],
    "population/unique_genomes": lambda g: float(len({r.arch.compact for r in g.results})),
    "population/mean_params": lambda g: sum(g.params) / len(g.params) if g.params else 0.0,
    "evaluations/trained": lambda g: float(g.info.trained),
    "evaluations/cache_hits": lambda g: float(g.info.cache_hits),
    "compute/epochs": lambda g: g.info.compute,
    "fitness/best_so_far_seeds": lambda g: float(g.best.seeds),
    "time/generation_seconds": lambda g: g.info.seconds,
    "time/samples_per_second": lambda g: g.samples / g.info.seconds if g.info.seconds > 0 else 0.0,
}
GENERATION_FIELDS = ["generation", *GENERATION_SCALARS]


class Sink:
    """A subscriber to the search's events: every method is a no-op until overridden."""

    def generation_started(self, event: GenerationStarted) -> None:
        pass

    def genome_trained(self, event: GenomeTrained) -> None:
        pass

    def generation_done(self, event: GenerationDone) -> None:
        pass

    def state(self, state: Any) -> None:
        """The search state to persist (a checkpoint.SearchState)."""

    def finish(self, best: Best) -> None:
        pass

    def close(self) -> None:
        pass
