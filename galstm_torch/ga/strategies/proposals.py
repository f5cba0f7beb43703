"""The next population of a search, by its strategy: the GA (select -> crossover -> mutate,
optionally guided by a surrogate; NSGA-II with several objectives), a fresh random draw, or
one of Optuna's samplers. Every rule reads only the evaluator's cache, the genomes seen and
the run's generator, so a resumed run proposes exactly what it would have."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from galstm_torch.ga.fidelity.evaluator import Evaluator
from galstm_torch.ga.fidelity.rungs import Schedule, standing
from galstm_torch.ga.genome.encoding import SearchSpace, decode, random_population
from galstm_torch.ga.genome.operators import next_generation
from galstm_torch.ga.guide.history import guide_data, target_history
from galstm_torch.ga.guide.surrogate import corners, pick
from galstm_torch.ga.pareto.goals import Goals
from galstm_torch.ga.pareto.objectives import MINIMISED
from galstm_torch.ga.strategies import nsga2
from galstm_torch.training.architecture import Architecture
from galstm_torch.training.runtime import derive_seed


@dataclass
class Context:
    """What a proposal rule may read."""

    ga: Any
    space: SearchSpace
    goals: Goals
    evaluator: Evaluator
    schedule: Schedule
    seen: list[Architecture]
    generator: torch.Generator
    run_seed: int
    met: dict[tuple[int, ...], int]  # the generation in which each genome was first met


def next_population(ctx: Context, population: torch.Tensor, generation: int) -> torch.Tensor:
    """The population of generation ``generation`` + 1, after ``population`` was evaluated."""
    ga = ctx.ga
    if ga.strategy == "random":  # the baseline: same budget, no inheritance
        return random_population(ga.pop_size, ctx.space, generator=ctx.generator)
    if ga.strategy in ("tpe", "optuna_nsga2"):
        return _optuna(ctx, generation)
    if ctx.goals.multi:
        return nsga2.offspring(ctx.goals, ctx.evaluator, ctx.seen, ctx.schedule, ga, ctx.generator)
    return _offspring(ctx, population)


def _optuna(ctx: Context, generation: int) -> torch.Tensor:
    from galstm_torch.ga.strategies.tpe import propose

    seed = derive_seed(ctx.run_seed, f"{ctx.ga.strategy}:{generation + 1}")
    sampler = "nsga2" if ctx.ga.strategy == "optuna_nsga2" else "tpe"
    if not ctx.goals.multi:
        history = [(c, f, ctx.met[c]) for c, f in
                   target_history(ctx.evaluator, ctx.seen, ctx.schedule)]
        return propose(history, ctx.ga.pop_size, ctx.space, seed=seed, sampler=sampler,
                       generation=generation + 1)
    points = ctx.goals.measured(ctx.evaluator, ctx.seen, ctx.schedule)
    directions = tuple("minimize" if n in MINIMISED else "maximize" for n in ctx.goals.names)
    values = [(p.arch.compact, tuple(p.values()[n] for n in ctx.goals.names),
               ctx.met[p.arch.compact]) for p in points]
    return propose(values, ctx.ga.pop_size, ctx.space, seed=seed, sampler=sampler,
                   directions=directions, generation=generation + 1)


def _offspring(ctx: Context, population: torch.Tensor) -> torch.Tensor:
    """Elites, then children: with ga.guide = k, the best predicted of k x the children,
    as many random genomes and the corners of the unit box."""
    ga, space = ctx.ga, ctx.space
    keys = torch.tensor([standing(ctx.evaluator, decode(row, space), ctx.schedule).key
                         for row in population], dtype=torch.float64)
    batches = [next_generation(
        population, keys, space, selection=ga.selection,
        elitism=ga.elitism, crossover_rate=ga.crossover_rate, mutation_rate=ga.mutation_rate,
        layer_mutation_rate=ga.layer_mutation_rate, tournament_size=ga.tournament_size,
        generator=ctx.generator, mutation_step=ga.mutation_step)
        for _ in range(max(ga.guide, 1))]
    if ga.guide < 2:
        return batches[0]
    known, scores = guide_data(ctx.evaluator, ctx.seen, ctx.schedule, space)
    if len(scores) < 2:  # nothing to fit a model to yet
        return batches[0]
    children = torch.cat([b[ga.elitism:] for b in batches])
    # Random candidates too: the linear model extrapolates (more units, fewer dense
    # layers) to corners the parents' children never reach (RESULTS.md section 5).
    pool = torch.cat([children, random_population(len(children), space,
                                                  generator=ctx.generator),
                      corners(space).to(children.dtype)])
    chosen = pick(pool, known, scores, ga.pop_size - ga.elitism, space)
    return torch.cat([batches[0][: ga.elitism], chosen])
