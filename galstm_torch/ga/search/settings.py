"""The search's settings (``ga.*``): a dataclass of the config schema, kept here so that the
search reads them without importing the whole config, and its own ranges beside it
(``GAConfig.check``). Rules that read another section too are in config/rules.py, and what a
strategy cannot apply in its own ``check`` (ga/strategies/)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import List, Optional

from galstm_torch.errors import ConfigError, check, one_of
from galstm_torch.ga.genome.operators import SELECTIONS
from galstm_torch.ga.pareto.objectives import OBJECTIVES
from galstm_torch.ga.strategies.registry import STRATEGIES

MAX_POP = 100_000      # a population tensor, its candidates and its cache stay in memory
MAX_GUIDE = 1_000      # candidates per child the guide scores


class GuidePick(str, Enum):
    """How ga/guide picks a Pareto search's children (ga.guide_pick)."""

    CROWDING = "crowding"
    IMPROVEMENT = "improvement"
    UCB = "ucb"


GUIDE_PICKS = tuple(GuidePick)


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
                          # each generation) | tpe or optuna_nsga2 (Optuna's samplers) | dehb
                          # (DEHB), each through our evaluator: ga/strategies/
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
    rescue: int = 0    # also race the k genomes with the best posterior mean (the measured mean
                       # shrunk toward the surrogate's prediction by its seeds): a good genome
                       # whose first seed was unlucky is measured again (docs/search.md); 0 = off
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

    def check(self) -> None:
        """Raise ConfigError with one line naming the first bad ga.* key and its range."""
        _population(self)
        _budget(self)
        _objectives(self)


def _population(ga: GAConfig) -> None:
    check(ga.pop_size >= 2, "ga.pop_size", ga.pop_size, "must be at least 2")
    check(ga.pop_size <= MAX_POP, "ga.pop_size", ga.pop_size, f"must be at most {MAX_POP:,}")
    check(0 <= ga.elitism < ga.pop_size, "ga.elitism", ga.elitism,
          f"must be in [0, pop_size) = [0, {ga.pop_size - 1}]")
    one_of("ga.strategy", ga.strategy, STRATEGIES)
    one_of("ga.selection", ga.selection, SELECTIONS)
    if ga.selection == "tournament":
        check(1 <= ga.tournament_size <= ga.pop_size, "ga.tournament_size", ga.tournament_size,
              f"must be in [1, pop_size] = [1, {ga.pop_size}]")
    for key in ("crossover_rate", "mutation_rate", "layer_mutation_rate"):
        value = getattr(ga, key)
        check(0.0 <= value <= 1.0, f"ga.{key}", value, "must be in [0, 1]")
    check(0 <= ga.guide <= MAX_GUIDE, "ga.guide", ga.guide,
          f"must be in [0, {MAX_GUIDE}] (0 = off)")
    check(0 <= ga.mutation_step <= 1, "ga.mutation_step", ga.mutation_step,
          "must be in [0, 1] (0 = uniform redraw)")


def _budget(ga: GAConfig) -> None:
    """Generations, budget, rungs and seeds."""
    check(ga.generations is None or ga.generations >= 1, "ga.generations", ga.generations,
          "must be at least 1, or null with ga.budget_epochs set")
    if ga.budget_epochs is not None:
        check(math.isfinite(ga.budget_epochs) and ga.budget_epochs > 0, "ga.budget_epochs",
              ga.budget_epochs, "must be a finite number > 0")
    elif ga.generations is None:
        raise ConfigError("ga.generations=null needs a budget: set ga.budget_epochs (epochs of "
                          "training) or a number of generations")
    rungs = list(ga.rungs)
    check(bool(rungs) and rungs[-1] == 1.0 and all(0 < a < b for a, b in zip(rungs, rungs[1:]))
          and rungs[0] > 0, "ga.rungs", rungs,
          "fractions of trainer.epochs, increasing and ending at 1.0, e.g. [0.111,0.333,1.0]")
    check(0 < ga.promote <= 1, "ga.promote", ga.promote, "must be in (0, 1]")
    check(ga.seeds >= 1, "ga.seeds", ga.seeds, "must be at least 1")
    check(ga.confirm >= 1, "ga.confirm", ga.confirm, "must be at least 1")
    check(ga.rescue >= 0, "ga.rescue", ga.rescue, "must be >= 0 (0 = off)")
    if ga.rescue > 0 and ga.seeds == 1:
        raise ConfigError(f"ga.rescue={ga.rescue} races genomes to ga.seeds seeds, but "
                          "ga.seeds=1: set ga.seeds above 1, or ga.rescue=0")
    if ga.confirm > 1 and ga.seeds == 1:
        raise ConfigError(f"ga.confirm={ga.confirm} races leaders to ga.seeds seeds, but "
                          "ga.seeds=1: set ga.seeds above 1, or ga.confirm=1")


def _objectives(ga: GAConfig) -> None:
    """The objectives, their reference point and how latency is measured."""
    names = list(ga.objectives)
    for name in names:
        check(name in OBJECTIVES, "ga.objectives", names,
              f"each must be one of {', '.join(OBJECTIVES)}")
    check(len(set(names)) == len(names), "ga.objectives", names, "must not repeat an objective")
    check(bool(names) and names[0] == "accuracy", "ga.objectives", names,
          "must start with accuracy, e.g. [accuracy,params] or [accuracy,params,latency]")
    _reference(ga.reference.stated(), names)
    check(ga.latency_batch >= 1, "ga.latency_batch", ga.latency_batch, "must be >= 1")
    one_of("ga.guide_pick", ga.guide_pick, GUIDE_PICKS)
    if ga.latency_batch != 1 and "latency" not in names:
        raise ConfigError(f"ga.latency_batch={ga.latency_batch} sets how latency is measured, "
                          "but latency is not in ga.objectives: add it, or drop the setting")


def _reference(ref: dict[str, float], names: list[str]) -> None:
    for key, value in ref.items():
        check(key in names, f"ga.reference.{key}", value,
              f"names an objective this search does not have ({', '.join(names)})")
        check(math.isfinite(value), f"ga.reference.{key}", value, "must be a finite number")
    if "accuracy" in ref:
        check(0 <= ref["accuracy"] < 1, "ga.reference.accuracy", ref["accuracy"], "must be in [0, 1)")
    for key in ("params", "latency"):
        if key in ref:
            check(ref[key] > 0, f"ga.reference.{key}", ref[key], "must be > 0")
    if "latency" in names and "latency" not in ref:
        raise ConfigError("ga.objectives has latency: state the hypervolume's reference latency "
                          "in seconds per sample, e.g. ga.reference.latency=0.002")
