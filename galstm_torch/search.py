"""The search loop: evaluate, record, then select -> crossover -> mutate (with elitism)."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import torch

from .architecture import format_compact
from .config import GAConfig
from .evaluator import Evaluator
from .genome import SearchSpace, check_population, decode, random_population
from .operators import next_generation
from .records import Best, RunRecorder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchResult:
    best: Best
    population: torch.Tensor
    trained: int
    cache_hits: int
    seconds: float


def run_search(space: SearchSpace, ga: GAConfig, evaluator: Evaluator, recorder: RunRecorder, *,
               generator: torch.Generator) -> SearchResult:
    """Run ga.generations generations from a random population drawn from ``generator``."""
    start = time.perf_counter()
    population = random_population(ga.pop_size, space, generator=generator)
    best: "Best | None" = None
    for generation in range(ga.generations):
        check_population(population, space)
        gen_start = time.perf_counter()
        results = evaluator.evaluate([decode(row, space) for row in population])
        fitness = torch.tensor([r.evaluation.fitness for r in results], dtype=torch.float64)
        top = int(fitness.argmax())
        if best is None or results[top].evaluation.fitness > best.result.evaluation.fitness:
            best = Best(results[top], generation)
        recorder.generation(generation, results, fitness, best)
        log.info("generation %d/%d: best %.4f mean %.4f | best so far %s %.4f | "
                 "trained %d, cache hits %d, %.1fs", generation + 1, ga.generations,
                 fitness.max(), fitness.mean(), format_compact(best.result.arch.compact),
                 best.result.evaluation.fitness, evaluator.trained, evaluator.cache_hits,
                 time.perf_counter() - gen_start)
        if generation + 1 < ga.generations:
            population = next_generation(
                population, fitness, space, selection=ga.selection, elitism=ga.elitism,
                crossover_rate=ga.crossover_rate, mutation_rate=ga.mutation_rate,
                layer_mutation_rate=ga.layer_mutation_rate, tournament_size=ga.tournament_size,
                generator=generator)
    assert best is not None  # generations >= 1 is validated
    recorder.finish(best)
    return SearchResult(best, population, evaluator.trained, evaluator.cache_hits,
                        time.perf_counter() - start)
