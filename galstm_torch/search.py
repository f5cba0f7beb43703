"""The search loop: evaluate, record, then select -> crossover -> mutate (with elitism).

The loop checkpoints after every evaluated genome and at every generation boundary, and
continues from a SearchState exactly as if it had never stopped.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

from . import checkpoint
from .architecture import Architecture, format_compact
from .checkpoint import SearchState
from .config import GAConfig
from .errors import GalstmError
from .evaluator import Evaluator, Result
from .executor import Outcome
from .genome import SearchSpace, check_population, decode, random_population
from .operators import next_generation
from .progress import Progress
from .records import Best, GenerationInfo, RunRecorder

log = logging.getLogger(__name__)


class SearchFailed(GalstmError):
    """Every genome of a generation failed: going on would select among nothing."""


@dataclass(frozen=True)
class SearchResult:
    best: Best
    population: torch.Tensor
    trained: int
    cache_hits: int
    seconds: float


class Search:
    """One search run: its state, its checkpoint folder and its recorder."""

    def __init__(self, space: SearchSpace, ga: GAConfig, evaluator: Evaluator,
                 recorder: RunRecorder, *, generator: torch.Generator, checkpoint_dir: Path,
                 config_hash: str, progress: Optional[Progress] = None) -> None:
        self.space, self.ga, self.evaluator, self.recorder = space, ga, evaluator, recorder
        self.generator, self.checkpoint_dir = generator, checkpoint_dir
        self.progress = progress or Progress(enabled=False)
        self._bar_best: Optional[float] = None
        self._bar_hits = 0
        self.state = SearchState(0, "evaluating", random_population(
            ga.pop_size, space, generator=generator), generator.get_state(), config_hash)
        self.best: Optional[Best] = None

    def restore(self, state: SearchState) -> None:
        """Continue from a checkpoint (its config was already checked by the caller)."""
        self.state = state
        self.generator.set_state(state.rng_state)
        self.evaluator.restore(state.cache, trained=state.trained, cache_hits=state.cache_hits)
        if state.best is not None:
            outcome = state.cache[state.best["key"]]
            arch = Architecture.from_compact(outcome.compact)
            self.best = Best(Result(arch, outcome, cache_hit=False), state.best["generation"])

    def save(self) -> None:
        s, ev = self.state, self.evaluator
        s.rng_state, s.cache, s.trained, s.cache_hits = (
            self.generator.get_state(), ev.cache, ev.trained, ev.cache_hits)
        if self.best is not None:
            s.best = {"generation": self.best.generation, "key": ev.key(self.best.result.arch)}
        checkpoint.save(self.checkpoint_dir, s)

    def _on_outcome(self, key: str, outcome: Outcome) -> None:
        self.state.trained_in_generation.append(key)
        self.save()
        fitness = outcome.evaluation.fitness
        self._bar_best = fitness if self._bar_best is None else max(self._bar_best, fitness)
        self.progress.genome_done(self._bar_hits, self._bar_best)

    def _start_bar(self, archs: list[Architecture]) -> None:
        """Open the generation's bar; genomes already known count as done (cache hits)."""
        keys = [self.evaluator.key(a) for a in archs]
        fresh = {k for k in keys if k not in self.evaluator.cache}
        self._bar_hits = len(keys) - len(fresh)
        self._bar_best = None if self.best is None else self.best.result.fitness
        self.progress.start_generation(self.state.generation, self.ga.generations, len(keys),
                                       self._bar_hits, self._bar_best)

    def _evaluate_generation(self) -> None:
        s = self.state
        check_population(s.population, self.space)
        start, hits_before = time.perf_counter(), self.evaluator.cache_hits
        archs = [decode(row, self.space) for row in s.population]
        self._start_bar(archs)
        results = self.evaluator.evaluate(archs, trained_before=set(s.trained_in_generation),
                                          on_outcome=self._on_outcome)
        fitness = torch.tensor([r.fitness for r in results], dtype=torch.float64)
        top = int(fitness.argmax())
        if self.best is None or results[top].fitness > self.best.result.fitness:
            self.best = Best(results[top], s.generation)
        seconds = time.perf_counter() - start
        self.progress.end_generation(self.evaluator.cache_hits - hits_before, self.best.result.fitness)
        info = GenerationInfo(s.generation, seconds, self.evaluator.trained, self.evaluator.cache_hits)
        self.recorder.generation(results, fitness, self.best, info, s.population)
        s.phase, s.trained_in_generation = "evaluated", []
        self.save()
        self._log(results, fitness, seconds)
        if all(r.outcome.status == "failed" for r in results):
            raise SearchFailed(f"every genome of generation {s.generation} failed (first: "
                               f"{results[0].outcome.error}); see evaluations.csv and fix the "
                               "trainer or model settings")

    def _log(self, results: list[Result], fitness: torch.Tensor, seconds: float) -> None:
        failed = sum(r.outcome.status == "failed" for r in results)
        assert self.best is not None
        log.info("generation %d/%d: best %.4f mean %.4f%s | best so far %s %.4f | "
                 "trained %d, cache hits %d, %.1fs", self.state.generation + 1,
                 self.ga.generations, fitness.max(), fitness.mean(),
                 f" ({failed} failed)" if failed else "",
                 format_compact(self.best.result.arch.compact), self.best.result.fitness,
                 self.evaluator.trained, self.evaluator.cache_hits, seconds)

    def _advance(self) -> None:
        """Selection, crossover and mutation from the evaluated generation to the next."""
        s, ga = self.state, self.ga
        if ga.strategy == "random":  # the baseline: same budget, no inheritance
            s.population = random_population(ga.pop_size, self.space, generator=self.generator)
        else:
            cached = [self.evaluator.cached(decode(row, self.space)) for row in s.population]
            fitness = torch.tensor([o.evaluation.fitness for o in cached], dtype=torch.float64)
            s.population = next_generation(
                s.population, fitness, self.space, selection=ga.selection, elitism=ga.elitism,
                crossover_rate=ga.crossover_rate, mutation_rate=ga.mutation_rate,
                layer_mutation_rate=ga.layer_mutation_rate, tournament_size=ga.tournament_size,
                generator=self.generator)
        s.generation, s.phase, s.trained_in_generation = s.generation + 1, "evaluating", []
        self.save()

    def run(self) -> SearchResult:
        start = time.perf_counter()
        if self.state.phase == "evaluating" and not self.state.trained_in_generation:
            self.save()  # a kill before the first genome resumes from this exact population
        while True:
            if self.state.phase == "evaluated":
                if self.state.generation + 1 >= self.ga.generations:
                    break
                self._advance()
            self._evaluate_generation()
        assert self.best is not None
        self.recorder.finish(self.best)
        return SearchResult(self.best, self.state.population, self.evaluator.trained,
                            self.evaluator.cache_hits, time.perf_counter() - start)

