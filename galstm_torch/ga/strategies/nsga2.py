"""NSGA-II in the search loop (Deb et al. 2002): the parents of each generation are the
survivors, by front and crowding, of every genome measured so far; children come from a
binary tournament on (front, crowding), crossover and mutation. With ``ga.guide`` the
children are picked by the surrogate: the predicted front of a pool of candidates.

Keeping the survivors of everything measured, rather than of the last two generations,
costs nothing (the evaluator caches every score) and never loses a front member to a
generation that happened to lack it.
"""
from __future__ import annotations

import math
from typing import Any

import torch

from galstm_torch.ga.fidelity.evaluator import Evaluator, Result
from galstm_torch.ga.fidelity.rungs import Schedule
from galstm_torch.ga.genome.encoding import SearchSpace, population_from_compact, random_population
from galstm_torch.ga.genome.operators import crossover, mutate_layers, mutate_units
from galstm_torch.ga.guide.front_pick import pick_front
from galstm_torch.ga.guide.history import guide_data
from galstm_torch.ga.guide.improvement import pick_improving
from galstm_torch.ga.guide.surrogate import corners
from galstm_torch.ga.pareto.fronts import crowding_distance, nondominated_ranks, survivors, tournament
from galstm_torch.ga.pareto.goals import Goals
from galstm_torch.ga.pareto.objectives import as_maximised
from galstm_torch.training.architecture import Architecture


def _children(parents: torch.Tensor, ranks: torch.Tensor, crowding: torch.Tensor, ga: Any,
              space: SearchSpace, generator: torch.Generator) -> torch.Tensor:
    chosen = parents[tournament(ranks, crowding, ga.pop_size, generator=generator)]
    children = crossover(chosen, space, crossover_rate=ga.crossover_rate, generator=generator)
    children = mutate_units(children, space, mutation_rate=ga.mutation_rate, generator=generator,
                            step=ga.mutation_step)
    return mutate_layers(children, space, layer_mutation_rate=ga.layer_mutation_rate,
                         generator=generator)


def offspring(goals: Goals, evaluator: Evaluator, seen: list[Architecture], schedule: Schedule,
              ga: Any, generator: torch.Generator) -> torch.Tensor:
    """The next population (ga.pop_size rows) of a Pareto search."""
    space = goals.space
    objectives, failed = goals.columns(evaluator, seen, schedule)
    keep = survivors(objectives, min(ga.pop_size, len(seen)), failed)
    parents = population_from_compact([list(seen[i].compact) for i in keep.tolist()], space)
    ranks = nondominated_ranks(objectives[keep], failed[keep])
    crowding = crowding_distance(objectives[keep], ranks)
    batches = [_children(parents, ranks, crowding, ga, space, generator)
               for _ in range(max(ga.guide, 1))]
    if ga.guide < 2:
        return batches[0]
    known, scores = guide_data(evaluator, seen, schedule, space)
    if len(scores) < 2:  # nothing to fit a model to yet
        return batches[0]
    children = torch.cat(batches)
    pool = torch.cat([children, random_population(len(children), space, generator=generator),
                      corners(space).to(children.dtype)])
    if ga.guide_pick in ("improvement", "ucb"):
        measured = goals.measured(evaluator, seen, schedule)
        if len(measured) >= 3:  # enough target scores to fit accuracy itself
            at_target = population_from_compact([list(p.arch.compact) for p in measured], space)
            accuracy = torch.tensor([p.accuracy for p in measured], dtype=torch.float64)
            front = goals.matrix(goals.nondominated(measured))
            return pick_improving(pool, known, at_target, accuracy, front, ga.pop_size, goals,
                                  posterior=ga.guide_pick == "ucb")
    return pick_front(pool, known, scores, ga.pop_size, goals)


def promoted(goals: Goals, results: list[Result], share: float) -> list[int]:
    """Successive halving with several objectives: the top ceil(n * share) results of a rung
    by front, then crowding (NSGA-II's survivors), on their scores at that rung."""
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
