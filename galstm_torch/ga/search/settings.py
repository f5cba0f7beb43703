"""The search's settings (``ga.*``): a dataclass of the config schema, kept here so that the
search reads them without importing the whole config."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional


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
    """The defaults are the recommended search (docs/search.md; conf/ga/default.yaml adds only
    the budget's rule): a GA whose children a surrogate model of every score so far picks
    (ga.guide), that screens new genomes cheaply and trains only the best of them at full
    fidelity (successive halving over ga.rungs), races its leaders with fresh seeds so that
    one lucky score cannot rule, and stops when the compute budget is spent. Tournament
    selection compares genomes at the same rung; two elites keep the best; mutation moves
    both units and layer counts. The other presets in conf/ga/ state what they change."""

    strategy: str = "ga"  # ga | nsga2 (several objectives) | random (a fresh random population
                          # each generation) | tpe or optuna_nsga2 (Optuna's samplers through
                          # our evaluator): ga/strategies/registry.py
    pop_size: int = 12
    generations: Optional[int] = None  # null = until ga.budget_epochs is spent
    # Compute budget in epochs of the training split: 12 (10 min 40 s on full MNIST on 2 idle
    # CPU cores, README; raise it for real searches). conf/ga/default.yaml makes it null when
    # ga.generations is set, so the generations asked for run; with both set, the first
    # reached stops the search.
    budget_epochs: Optional[float] = 12.0
    rungs: List[float] = field(default_factory=lambda: [0.333, 1.0])  # fidelities, as fractions
                        # of trainer.epochs, increasing to 1.0 (successive halving, docs/search.md)
    promote: float = 0.25  # share of a rung trained at the next rung: the best quarter
    seeds: int = 3     # seeds the leaders get at the target fidelity (fitness = their mean)
    confirm: int = 1   # leaders raced to ga.seeds after each generation
    guide: int = 16    # GA and NSGA-II only: a ridge model of the scores so far picks each
                       # generation's children among guide x as many, as many random genomes
                       # and the corners of the unit box (docs/search.md; RESULTS.md 5); 0 = off
    guide_pick: str = "crowding"  # Pareto search with ga.guide >= 2: the predicted front by
                                  # crowding, or by predicted hypervolume gain: improvement | ucb
    selection: str = "tournament"
    tournament_size: int = 3
    elitism: int = 2
    crossover_rate: float = 0.5
    mutation_rate: float = 0.2
    mutation_step: float = 0.0  # 0 = redraw a mutated unit gene uniformly (the article);
                                # s > 0 = a Gaussian step of sd s * (max_units - min_units)
    layer_mutation_rate: float = 0.1
    objectives: List[str] = field(default_factory=lambda: ["accuracy"])  # + params, latency:
                                     # a Pareto search (ga.strategy=nsga2; ga=nsga2, docs/pareto.md)
    reference: ReferenceConfig = field(default_factory=lambda: ReferenceConfig())
    latency_batch: int = 1  # the batch size at which the latency objective is measured
