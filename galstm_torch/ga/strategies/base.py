"""The extension point of the search: a Strategy proposes each next population (as Optuna's
BaseSampler samples each trial) and says which genomes climb the rungs. Every strategy reads
only the Context: the evaluator's cache, the genomes seen and the run's generator, so a
resumed run proposes exactly what it would have.

Adding a strategy takes its module (a subclass with a ``name``: registry.py finds it), its
YAML in conf/ga/ and a test; config validation calls its ``check``.
"""
from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from galstm_torch.errors import ConfigError
from galstm_torch.ga.fidelity.evaluator import Evaluator, Result
from galstm_torch.ga.fidelity.rungs import Schedule, promoted
from galstm_torch.ga.genome.encoding import SearchSpace, population_from_compact, random_population
from galstm_torch.ga.pareto.fronts import survivors
from galstm_torch.ga.pareto.goals import Goals
from galstm_torch.ga.pareto.objectives import as_maximised
from galstm_torch.training.architecture import Architecture

log = logging.getLogger(__name__)


@dataclass
class Context:
    """What a strategy may read."""

    ga: Any
    space: SearchSpace
    goals: Goals
    evaluator: Evaluator
    schedule: Schedule
    seen: list[Architecture]
    generator: torch.Generator
    run_seed: int
    met: dict[tuple[int, ...], int]  # the generation in which each genome was first met


# The ga.* keys that shape children made by the GA's operators: a strategy that makes no
# such children would ignore them silently.
BREEDING_KEYS = ("guide", "mutation_step")
# The GA operators' keys: a strategy that breeds no children never reads them. A preset
# either inherits their defaults or turns them off (0); any other value was set by hand.
OPERATOR_KEYS = ("elitism", "selection", "tournament_size", "crossover_rate", "mutation_rate",
                 "layer_mutation_rate")


class Strategy:
    """One way of proposing populations. Subclasses set ``name`` (the ga.strategy value) and
    ``propose``; ``breeds`` says whether they make children with the GA's operators (and so
    read ga.guide and ga.mutation_step); ``check`` refuses what they cannot apply.

    ``owns_fidelity``: the strategy picks the rung each genome trains at (``fidelities``), as
    Hyperband-style optimisers do; the loop then trains each genome once there and promotes
    nothing (``promote`` is not asked). Otherwise every genome climbs ga.rungs by successive
    halving."""

    name: ClassVar[str] = ""
    breeds: ClassVar[bool] = False
    owns_fidelity: ClassVar[bool] = False

    def initial(self, ctx: Context) -> torch.Tensor:
        """The population of generation 0: by default drawn at random from the run's
        generator."""
        return random_population(ctx.ga.pop_size, ctx.space, generator=ctx.generator)

    def propose(self, ctx: Context, population: torch.Tensor, generation: int) -> torch.Tensor:
        """The population of generation ``generation`` + 1, after ``population`` (that of
        ``generation``) was evaluated."""
        raise NotImplementedError

    def fidelities(self, ctx: Context, population: torch.Tensor, generation: int) -> list[float]:
        """With ``owns_fidelity``: the fidelity (epochs, one of ``ctx.schedule``'s rungs) of
        each row of ``population``, generation ``generation``. Asked whenever that generation
        is evaluated, a resumed one too: it must depend on ``ctx`` alone, as ``propose``."""
        raise NotImplementedError(f"ga.strategy={self.name} does not pick fidelities")

    def kept(self, ga: Any) -> int:
        """How many genomes each next population carries over unchanged (the GA's elites):
        they cost nothing to evaluate again, which the start line's estimate counts."""
        return 0

    def check(self, cfg: Any) -> None:
        """Raise ConfigError, in one line naming the key and the fix, for a setting of
        ``cfg`` (the whole config, read duck-typed: ga does not import the config) that this
        strategy cannot apply."""
        if self.breeds:
            return
        ga = cfg.ga
        for key in BREEDING_KEYS:
            if getattr(ga, key):
                raise ConfigError(f"ga.{key}={getattr(ga, key)} shapes the GA's offspring: it "
                                  f"needs ga.strategy=ga or nsga2 (not {ga.strategy}), or "
                                  f"ga.{key}=0")
        _warn_unread(ga)

    def least_budget(self, ga: Any, epochs: int) -> float:
        """The least compute (epochs) that brings one genome to the target fidelity: with
        rungs, the whole first rung is screened before anyone is promoted; with one rung,
        one training."""
        first = ga.rungs[0] * epochs * (ga.pop_size if len(ga.rungs) > 1 else 1)
        return first + sum(r * epochs for r in ga.rungs[1:])

    def generation_cost(self, schedule: Schedule, newcomers: int, *, first: bool) -> float:
        """Compute (epochs) a generation of ``newcomers`` new genomes costs at most, for the
        start line's estimate (``first``: generation 0): successive halving's by default."""
        return schedule.halving_cost(newcomers)

    def promote(self, goals: Goals, results: list[Result], share: float) -> list[int]:
        """Successive halving: the indices (into a rung's ``results``) of the top
        ceil(n * share), by fitness with one objective, by front then crowding (NSGA-II's
        survivors) with several, on their scores at that rung."""
        if not goals.multi:
            return promoted([r.fitness for r in results], share)
        return _survivors(goals, results, share)


def _warn_unread(ga: Any) -> None:
    """A GA operator's key set by hand for a strategy that breeds nothing: said, not
    refused (saved runs of these strategies carry the operators' defaults)."""
    strategy = ga.strategy
    if not dataclasses.is_dataclass(ga):
        return
    defaults = {f.name: f.default for f in dataclasses.fields(ga)}
    unread = [f"ga.{k}={getattr(ga, k)}" for k in OPERATOR_KEYS
              if getattr(ga, k) not in (defaults.get(k), 0)]
    if unread:
        log.warning("%s: ga.strategy=%s breeds no children, so %s not apply; drop %s",
                    ", ".join(unread), strategy, "it does" if len(unread) == 1 else "they do",
                    "it" if len(unread) == 1 else "them")


def _survivors(goals: Goals, results: list[Result], share: float) -> list[int]:
    k = math.ceil(len(results) * share - 1e-9)
    if k == 0:
        return []
    population = population_from_compact([list(r.arch.compact) for r in results], goals.space)
    values = {"accuracy": torch.tensor([r.outcome.evaluation.fitness for r in results],
                                       dtype=torch.float64),
              "params": goals.params(population),
              "latency": torch.tensor([r.outcome.evaluation.latency for r in results],
                                      dtype=torch.float64)}
    objectives = as_maximised(values, goals.names)
    failed = torch.tensor([r.outcome.status == "failed" for r in results]) | \
        torch.isnan(objectives).any(dim=1)
    return survivors(objectives, k, failed).tolist()
