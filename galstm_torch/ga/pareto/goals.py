"""What a Pareto search optimises, read from the evaluator's cache: each genome's objective
columns, the front of everything measured at the target fidelity, its hypervolume and knee.

Accuracy is the noise-aware fitness of rungs.py (the mean over a genome's seeds). For
selection a genome's accuracy column is its standing key (the rung reached, then the mean),
so that genomes are compared at the same rung as in the single-objective GA; the front, the
answer of the search, holds only genomes trained at the target fidelity.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from galstm_torch.files.atomic import finite
from galstm_torch.ga.fidelity.evaluator import Evaluator
from galstm_torch.ga.fidelity.rungs import Schedule, standing
from galstm_torch.ga.genome.encoding import SearchSpace, population_from_compact
from galstm_torch.ga.pareto.fronts import nondominated_ranks
from galstm_torch.ga.pareto.hypervolume import hypervolume, knee
from galstm_torch.ga.pareto.objectives import as_maximised, genome_latency, largest, param_counts
from galstm_torch.training.architecture import Architecture, format_compact


@dataclass(frozen=True)
class FrontPoint:
    """One genome of a front: its mean accuracy over ``seeds`` seeds at the target fidelity,
    its parameters and its latency (seconds per sample; NaN when not an objective)."""

    arch: Architecture
    accuracy: float
    seeds: int
    params: int
    latency: float
    val_acc: float = float("nan")   # the first seed's, as Best reports them
    test_acc: float = float("nan")

    def values(self) -> dict[str, float]:
        return {"accuracy": self.accuracy, "params": float(self.params), "latency": self.latency}


@dataclass(frozen=True)
class Goals:
    """The objectives of a search, with what turns them into columns and a hypervolume."""

    names: tuple[str, ...]
    space: SearchSpace
    n_features: int = 28
    n_classes: int = 10
    reference: dict[str, float] = field(default_factory=dict)

    @property
    def multi(self) -> bool:
        return len(self.names) > 1

    def params(self, population: torch.Tensor) -> torch.Tensor:
        return param_counts(population, self.space, n_features=self.n_features,
                            n_classes=self.n_classes)

    def reference_point(self) -> dict[str, float]:
        """The stated reference, with the automatic values filled in: chance accuracy and
        the parameters of the largest genome of the space."""
        auto = {"accuracy": 1.0 / self.n_classes,
                "params": float(self.params(largest(self.space))[0])}
        return {name: float(self.reference.get(name, auto.get(name, float("nan"))))
                for name in self.names}

    def latency(self, evaluator: Evaluator, arch: Architecture, schedule: Schedule) -> float:
        measured = [o.evaluation.latency for f in schedule.fidelities
                    for o in evaluator.replicates(arch, f) if o.status == "ok"]
        return genome_latency(measured)

    def columns(self, evaluator: Evaluator, archs: list[Architecture],
                schedule: Schedule) -> tuple[torch.Tensor, torch.Tensor]:
        """Per genome, its objectives for selection (accuracy = the standing key), maximised,
        and whether it failed (or was never evaluated)."""
        stand = [standing(evaluator, a, schedule) for a in archs]
        values = {"accuracy": torch.tensor([s.key for s in stand], dtype=torch.float64),
                  "params": self.params(self._population(archs))}
        if "latency" in self.names:
            values["latency"] = torch.tensor([self.latency(evaluator, a, schedule) for a in archs],
                                             dtype=torch.float64)
        objectives = as_maximised(values, self.names)
        failed = torch.tensor([s.failed or s.rung < 0 for s in stand]) | \
            torch.isnan(objectives).any(dim=1)
        return objectives, failed

    def measured(self, evaluator: Evaluator, seen: list[Architecture],
                 schedule: Schedule) -> list[FrontPoint]:
        """Every genome trained at the target fidelity without failing (mean over its
        seeds), in the order the search met them."""
        top = len(schedule.fidelities) - 1
        found = [(a, st) for a in seen
                 if (st := standing(evaluator, a, schedule)).rung == top and not st.failed]
        if not found:
            return []
        params = self.params(self._population([a for a, _ in found])).tolist()
        return [FrontPoint(a, st.mean, st.seeds, int(n),
                           self.latency(evaluator, a, schedule) if "latency" in self.names
                           else float("nan"), *_accuracies(evaluator, a, schedule))
                for (a, st), n in zip(found, params)]

    def front(self, evaluator: Evaluator, seen: list[Architecture],
              schedule: Schedule) -> list[FrontPoint]:
        """The non-dominated genomes among those trained at the target fidelity, in the
        order the search met them (a genome without a measured latency cannot be on it)."""
        return self.nondominated(self.measured(evaluator, seen, schedule))

    def nondominated(self, points: list[FrontPoint]) -> list[FrontPoint]:
        if not points:
            return []
        matrix = self.matrix(points)
        ok = ~torch.isnan(matrix).any(dim=1)
        ranks = nondominated_ranks(torch.nan_to_num(matrix), ~ok)
        return [p for p, r, good in zip(points, ranks.tolist(), ok.tolist()) if r == 0 and good]

    def matrix(self, points: list[FrontPoint]) -> torch.Tensor:
        values = {n: torch.tensor([p.values()[n] for p in points], dtype=torch.float64)
                  for n in self.names}
        return as_maximised(values, self.names)

    def box(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The reference point and the ideal one (accuracy 1, no cost), maximised."""
        ref, f64 = self.reference_point(), torch.float64
        reference = as_maximised({n: torch.tensor([ref[n]], dtype=f64) for n in self.names},
                                 self.names)[0]
        ideal = as_maximised({n: torch.tensor([1.0 if n == "accuracy" else 0.0], dtype=f64)
                              for n in self.names}, self.names)[0]
        return reference, ideal

    def hypervolume(self, points: list[FrontPoint]) -> float:
        """The share of the box between the reference point and the ideal one that the
        points dominate."""
        return hypervolume(self.matrix(points), *self.box()) if points else 0.0

    def knee(self, points: list[FrontPoint]) -> FrontPoint:
        return points[knee(self.matrix(points))]

    def _population(self, archs: list[Architecture]) -> torch.Tensor:
        return population_from_compact([list(a.compact) for a in archs], self.space)


@dataclass(frozen=True)
class ParetoSummary:
    """A Pareto search's answer so far: its front, the knee and the front's hypervolume
    against the reference point."""

    names: tuple[str, ...]
    reference: dict[str, float]
    front: tuple[FrontPoint, ...]
    knee: FrontPoint
    hypervolume: float

    @classmethod
    def of(cls, goals: Goals, front: list[FrontPoint]) -> "ParetoSummary":
        return cls(goals.names, goals.reference_point(), tuple(front), goals.knee(front),
                   goals.hypervolume(front))

    def to_json(self) -> dict:
        def point(p: FrontPoint) -> dict:
            return {"genome": format_compact(p.arch.compact), "compact": list(p.arch.compact),
                    "accuracy": p.accuracy, "seeds": p.seeds, "params": p.params,
                    "latency_s": finite(p.latency)}

        return {"objectives": list(self.names), "reference": self.reference,
                "hypervolume": self.hypervolume, "knee": format_compact(self.knee.arch.compact),
                "front": [point(p) for p in self.front]}


def _accuracies(evaluator: Evaluator, arch: Architecture, schedule: Schedule) -> tuple[float, float]:
    """(val, test) accuracy of a genome's first seed at the target fidelity."""
    outcome = evaluator.cached(arch, schedule.fidelities[-1])
    e = outcome.evaluation if outcome is not None else None
    return (e.val_acc, e.test_acc) if e is not None else (float("nan"), float("nan"))
