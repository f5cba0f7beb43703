"""The search's settings (``ga.*``): a dataclass of the config schema, kept here so that the
search reads them without importing the whole config."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

STRATEGIES = ("ga", "random", "tpe", "optuna_nsga2")


@dataclass
class ReferenceConfig:
    """The hypervolume's reference point: the worst value of each objective that still
    counts (docs/pareto.md)."""

    accuracy: Optional[float] = None  # null = chance, 1 / classes
    params: Optional[float] = None    # null = the parameters of the largest genome
    latency: Optional[float] = None   # seconds per sample; needed with the latency objective

    def stated(self) -> dict[str, float]:
        return {k: v for k, v in vars(self).items() if v is not None}


@dataclass
class GAConfig:
    strategy: str = "ga"  # ga | random (a fresh random population each generation) | tpe or
                          # optuna_nsga2 (Optuna's samplers through our evaluator)
    pop_size: int = 10
    generations: Optional[int] = 5  # null = until ga.budget_epochs is spent
    budget_epochs: Optional[float] = None  # compute budget in epochs of the training split
    rungs: List[float] = field(default_factory=lambda: [1.0])  # fidelities, as fractions of
                                     # trainer.epochs, increasing to 1.0 (successive halving)
    promote: float = 0.3333333333333333  # share of a rung trained at the next rung
    seeds: int = 1     # seeds the leaders get at the target fidelity (fitness = their mean)
    confirm: int = 1   # leaders raced to ga.seeds after each generation
    guide: int = 0     # GA only: make guide x the children (and as many random genomes), train
                       # those a ridge model of the scores so far predicts best; 0 = off
    guide_pick: str = "crowding"  # Pareto search with ga.guide >= 2: the predicted front by
                                  # crowding, or by predicted hypervolume gain: improvement | ucb
    selection: str = "tournament"
    tournament_size: int = 3
    elitism: int = 1
    crossover_rate: float = 0.5
    mutation_rate: float = 0.1
    mutation_step: float = 0.0  # 0 = redraw a mutated unit gene uniformly (the article);
                                # s > 0 = a Gaussian step of sd s * (max_units - min_units)
    layer_mutation_rate: float = 0.1
    objectives: List[str] = field(default_factory=lambda: ["accuracy"])  # + params, latency:
                                     # a Pareto search (NSGA-II; ga=nsga2, docs/pareto.md)
    reference: ReferenceConfig = field(default_factory=lambda: ReferenceConfig())
    latency_batch: int = 1  # the batch size at which the latency objective is measured
