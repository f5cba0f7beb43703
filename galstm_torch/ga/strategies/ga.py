"""The genetic algorithm (``ga.strategy=ga``): elites, then children by select -> crossover
-> mutate, compared at the rung each genome reached; with ``ga.guide = k`` a ridge model of
the scores so far picks the children among k times as many (ga/guide/children.py). One
objective: a Pareto search is NSGA-II (``ga.strategy=nsga2``)."""
from __future__ import annotations

from typing import Any

import torch

from galstm_torch.errors import ConfigError
from galstm_torch.ga.fidelity.rungs import standing
from galstm_torch.ga.genome.encoding import decode
from galstm_torch.ga.genome.operators import next_generation
from galstm_torch.ga.guide.children import guided_children
from galstm_torch.ga.guide.surrogate import pick
from galstm_torch.ga.strategies.base import Context, Strategy


class GA(Strategy):
    name = "ga"
    breeds = True

    def kept(self, ga: Any) -> int:
        return ga.elitism

    def check(self, cfg: Any) -> None:
        objectives = list(cfg.ga.objectives)
        if len(objectives) > 1:
            raise ConfigError(f"ga.strategy=ga searches one objective, and ga.objectives="
                              f"[{','.join(objectives)}] has {len(objectives)}: use "
                              "ga.strategy=nsga2 (or the preset ga=nsga2)")

    def propose(self, ctx: Context, population: torch.Tensor, generation: int) -> torch.Tensor:
        ga, space = ctx.ga, ctx.space
        keys = torch.tensor([standing(ctx.evaluator, decode(row, space), ctx.schedule).key
                             for row in population], dtype=torch.float64)
        elites: list[torch.Tensor] = []

        def breed() -> torch.Tensor:
            batch = next_generation(
                population, keys, space, selection=ga.selection, elitism=ga.elitism,
                crossover_rate=ga.crossover_rate, mutation_rate=ga.mutation_rate,
                layer_mutation_rate=ga.layer_mutation_rate,
                tournament_size=ga.tournament_size, generator=ctx.generator,
                mutation_step=ga.mutation_step)
            elites.append(batch[: ga.elitism])  # the same in every batch: kept once
            return batch[ga.elitism:]

        children = guided_children(
            breed, lambda pool, known, scores: pick(pool, known, scores,
                                                    ga.pop_size - ga.elitism, space),
            guide=ga.guide, evaluator=ctx.evaluator, seen=ctx.seen, schedule=ctx.schedule,
            space=space, generator=ctx.generator)
        return torch.cat([elites[0], children])
