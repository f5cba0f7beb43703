"""NSGA-II (``ga.strategy=nsga2``; Deb et al. 2002): the parents of each generation are the
survivors, by front and crowding, of every genome measured so far; children come from a
binary tournament on (front, crowding), crossover and mutation. With ``ga.guide`` the
children are picked by the surrogate (ga/guide/children.py): the predicted front of a pool
of candidates (``ga.guide_pick=crowding``), or greedy predicted hypervolume improvement
(``improvement``, ``ucb``).

Keeping the survivors of everything measured, rather than of the last two generations,
costs nothing (the evaluator caches every score) and never loses a front member to a
generation that happened to lack it.
"""
from __future__ import annotations

from typing import Any

import torch

from galstm_torch.errors import ConfigError
from galstm_torch.ga.genome.encoding import SearchSpace, population_from_compact
from galstm_torch.ga.genome.operators import crossover, mutate_layers, mutate_units
from galstm_torch.ga.guide.children import guided_children
from galstm_torch.ga.guide.front_pick import pick_front
from galstm_torch.ga.guide.improvement import pick_improving
from galstm_torch.ga.pareto.fronts import crowding_distance, nondominated_ranks, survivors, tournament
from galstm_torch.ga.strategies.base import Context, Strategy


def _children(parents: torch.Tensor, ranks: torch.Tensor, crowding: torch.Tensor, ga: Any,
              space: SearchSpace, generator: torch.Generator) -> torch.Tensor:
    chosen = parents[tournament(ranks, crowding, ga.pop_size, generator=generator)]
    children = crossover(chosen, space, crossover_rate=ga.crossover_rate, generator=generator)
    children = mutate_units(children, space, mutation_rate=ga.mutation_rate, generator=generator,
                            step=ga.mutation_step)
    return mutate_layers(children, space, layer_mutation_rate=ga.layer_mutation_rate,
                         generator=generator)


def _choose(ctx: Context, pool: torch.Tensor, known: torch.Tensor,
            scores: torch.Tensor) -> torch.Tensor:
    """The guide's pick among ``pool``: by predicted hypervolume improvement once three
    genomes have target scores to fit accuracy itself, else the predicted front."""
    ga, goals = ctx.ga, ctx.goals
    if ga.guide_pick in ("improvement", "ucb"):
        measured = goals.measured(ctx.evaluator, ctx.seen, ctx.schedule)
        if len(measured) >= 3:
            at_target = population_from_compact([list(p.arch.compact) for p in measured],
                                                ctx.space)
            accuracy = torch.tensor([p.accuracy for p in measured], dtype=torch.float64)
            front = goals.matrix(goals.nondominated(measured))
            return pick_improving(pool, known, at_target, accuracy, front, ga.pop_size, goals,
                                  posterior=ga.guide_pick == "ucb")
    return pick_front(pool, known, scores, ga.pop_size, goals)


class NSGA2(Strategy):
    name = "nsga2"
    breeds = True

    def check(self, cfg: Any) -> None:
        ga, names = cfg.ga, list(cfg.ga.objectives)
        if len(names) < 2:
            raise ConfigError(f"ga.strategy=nsga2 is a Pareto search, and ga.objectives="
                              f"[{','.join(names)}] is not several objectives: add one, e.g. "
                              "ga.objectives=[accuracy,params], or use ga.strategy=ga")
        if ga.elitism:
            raise ConfigError(f"ga.elitism={ga.elitism}: NSGA-II keeps the best fronts itself; "
                              "set ga.elitism=0 (ga=nsga2 does)")
        if ga.selection != "tournament" or ga.tournament_size != 2:
            raise ConfigError(f"ga.selection={ga.selection} ga.tournament_size="
                              f"{ga.tournament_size}: NSGA-II picks parents by a binary "
                              "tournament on (front, crowding); set ga.selection=tournament "
                              "ga.tournament_size=2 (ga=nsga2 does)")
        if ga.guide and "latency" in names:
            raise ConfigError("ga.guide predicts accuracy and counts params but has no model of "
                              "latency: set ga.guide=0 with the latency objective")

    def propose(self, ctx: Context, population: torch.Tensor, generation: int) -> torch.Tensor:
        """ga.pop_size children of the survivors of every genome measured so far."""
        ga, space, seen = ctx.ga, ctx.space, ctx.seen
        objectives, failed = ctx.goals.columns(ctx.evaluator, seen, ctx.schedule)
        keep = survivors(objectives, min(ga.pop_size, len(seen)), failed)
        parents = population_from_compact([list(seen[i].compact) for i in keep.tolist()], space)
        ranks = nondominated_ranks(objectives[keep], failed[keep])
        crowding = crowding_distance(objectives[keep], ranks)
        return guided_children(
            lambda: _children(parents, ranks, crowding, ga, space, ctx.generator),
            lambda pool, known, scores: _choose(ctx, pool, known, scores),
            guide=ga.guide, evaluator=ctx.evaluator, seen=seen, schedule=ctx.schedule,
            space=space, generator=ctx.generator)
