"""The search loop: evaluate (rungs, racing), record, then propose the next population by
the strategy's rule (ga/strategies/). It stops at the first of ``ga.generations`` and the
compute budget ``ga.budget_epochs`` (pace.py: the start line that says which, and the ETA).

The loop checkpoints after every evaluated genome and at every generation boundary, and
continues from a SearchState exactly as if it had never stopped.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import partial
from typing import Any, Optional, Sequence

import torch

from galstm_torch.errors import GalstmError
from galstm_torch.execution.executor import Outcome
from galstm_torch.ga.fidelity.evaluator import Evaluator, Result
from galstm_torch.ga.fidelity.rungs import GenerationRunner, Row, Schedule, best_genome, row
from galstm_torch.ga.genome.encoding import SearchSpace, check_population, decode
from galstm_torch.ga.guide.posterior import rescued
from galstm_torch.ga.pareto.goals import Goals, ParetoSummary
from galstm_torch.ga.search.events import (
    Best,
    GenerationDone,
    GenerationInfo,
    GenerationStarted,
    GenomeTrained,
    Sink,
)
from galstm_torch.ga.search.pace import (
    IDLE_GENERATIONS,
    budget_spent,
    eta_seconds,
    format_duration,
    generation_label,
    limit_reached,
    stopping_rule,
)
from galstm_torch.ga.search.settings import GAConfig
from galstm_torch.ga.search.state import Met, SearchState
from galstm_torch.ga.strategies.base import Context
from galstm_torch.ga.strategies.registry import strategy_of
from galstm_torch.training.architecture import Architecture, format_compact

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
    compute: float = 0.0


class Search:
    """One search run: its state, and the sinks it tells what happens (events.py): the
    tables, TensorBoard, progress bars, checkpoints; none of them is needed to search."""

    def __init__(self, space: SearchSpace, ga: GAConfig, evaluator: Evaluator,
                 sinks: Sequence[Sink] = (), *, generator: torch.Generator, config_hash: str,
                 schedule: Optional[Schedule] = None, run_seed: int = 0,
                 goals: Optional[Goals] = None) -> None:
        self.space, self.ga, self.evaluator, self.sinks = space, ga, evaluator, list(sinks)
        self.goals = goals or Goals(("accuracy",), space)
        self.generator = generator
        self.schedule = schedule or Schedule((evaluator.target,))
        self.run_seed = run_seed
        self.strategy = strategy_of(ga.strategy)
        self.state = SearchState(0, "evaluating", self.strategy.initial(self._context([])),
                                 generator.get_state(), config_hash)
        self.best: Optional[Best] = None
        self._hits_start = 0  # cache hits before the generation being evaluated
        self._clock = (time.perf_counter(), 0.0)  # this invocation's start and compute then

    def restore(self, state: SearchState) -> None:
        """Continue from a checkpoint (its config was already checked by the caller, and
        persist/migrate.py brought an older one to this version's form)."""
        self.state = state
        self._hits_start = state.cache_hits
        self.generator.set_state(state.rng_state)
        self.evaluator.restore(state.cache, trained=state.trained, cache_hits=state.cache_hits,
                               spent=state.spent)
        self._update_best()

    def save(self) -> None:
        s, ev = self.state, self.evaluator
        # Mid-generation the saved hit count is the generation's start: a resumed generation
        # replays its cache hits and counts them again.
        hits = self._hits_start if s.phase == "evaluating" else ev.cache_hits
        s.rng_state, s.cache, s.trained, s.cache_hits, s.spent = (
            self.generator.get_state(), ev.cache, ev.trained, hits, ev.spent)
        if self.best is not None:
            s.best = {"generation": self.best.generation, "key": ev.key(self.best.arch)}
        self._emit("state", s)

    def _emit(self, event: str, *payload: Any) -> None:
        """Call ``event`` on every sink, in the order they were given."""
        for sink in self.sinks:
            getattr(sink, event)(*payload)

    def _note_seen(self, archs: list[Architecture], generation: int) -> None:
        known = {m.compact for m in self.state.seen}
        for a in archs:
            if a.compact not in known:
                known.add(a.compact)
                self.state.seen.append(Met(generation, a.compact))

    def _seen(self) -> list[Architecture]:
        return [Architecture.from_compact(m.compact) for m in self.state.seen]

    def _context(self, seen: list[Met]) -> Context:
        """What the strategy reads, with the genomes met so far."""
        met = {m.compact: m.generation for m in reversed(seen)}  # the first wins
        return Context(self.ga, self.space, self.goals, self.evaluator, self.schedule,
                       [Architecture.from_compact(m.compact) for m in seen], self.generator,
                       self.run_seed, met)

    def _update_best(self) -> None:
        """The answer so far: the best mean at the target fidelity, confirmed by every seed;
        in a Pareto search the front, represented by its knee."""
        pareto = None
        if self.goals.multi:
            front = self.goals.front(self.evaluator, self._seen(), self.schedule)
            pareto = ParetoSummary.of(self.goals, front) if front else None
            arch = pareto.knee.arch if pareto else None
        else:
            arch = best_genome(self.evaluator, self._seen(), self.schedule)
        if arch is None:
            return
        at_target = row(self.evaluator, arch, self.schedule)
        assert at_target is not None  # best_genome and the front rank genomes at the target
        found = next(m.generation for m in self.state.seen if m.compact == arch.compact)
        self.best = Best.of(at_target, found, pareto)

    def _on_outcome(self, key: str, outcome: Outcome) -> None:
        self.state.trained_in_generation.append(key)
        self.save()
        self._emit("genome_trained", GenomeTrained(key, outcome))

    def _announce(self, archs: list[Architecture]) -> None:
        """generation_started: genomes already in the cache count as known."""
        keys = [self.evaluator.key(a, self.schedule.fidelities[0]) for a in archs]
        known = sum(k in self.evaluator.cache for k in keys)
        staged = len(self.schedule.fidelities) > 1 or self.schedule.seeds > 1
        self._emit("generation_started", GenerationStarted(
            self.state.generation, self.ga.generations, None if staged else len(keys), known,
            None if self.best is None else self.best.fitness,
            budget=self.evaluator.budget, compute=self.evaluator.spent,
            eta=self._eta(self.state.generation)))

    def _eta(self, done: int) -> Optional[float]:
        """Seconds until the search stops once ``done`` generations are evaluated (pace.py):
        0 when it stops now, None before any compute was measured."""
        if done == self.state.generation + 1 and self._limit_reached():
            return 0.0
        ev, (start, before) = self.evaluator, self._clock
        return eta_seconds(time.perf_counter() - start, ev.spent - before, spent=ev.spent,
                           generations_done=done, generations=self.ga.generations,
                           budget=ev.budget)

    def _evaluate_generation(self) -> None:
        s = self.state
        check_population(s.population, self.space)
        start, hits_before = time.perf_counter(), self.evaluator.cache_hits
        self._hits_start = hits_before
        archs = [decode(row, self.space) for row in s.population]
        self._note_seen(archs, s.generation)
        self._announce(archs)
        # A strategy that owns fidelity names each row's rung (asked again on resume).
        fidelities = self.strategy.fidelities(self._context(s.seen), s.population, s.generation) \
            if self.strategy.owns_fidelity else None
        rescue = partial(rescued, schedule=self.schedule, space=self.space, k=self.ga.rescue)
        runner = GenerationRunner(self.evaluator, self.schedule,
                                  trained_before=set(s.trained_in_generation),
                                  on_outcome=self._on_outcome,
                                  promote=partial(self.strategy.promote, self.goals),
                                  rescue=rescue if self.ga.rescue else None)
        done = runner.run(archs, self._seen(), fidelities)
        s.idle = 0 if any(not r.cache_hit for r in done.evaluations) else s.idle + 1
        s.budget_cut = self.evaluator.budget if done.exhausted else None
        keep = [i for i, r in enumerate(done.rows) if r is not None]
        results = [r for r in done.rows if r is not None]  # the rows at keep
        if not results:  # the budget ran out before this generation trained anything
            s.phase, s.trained_in_generation = "evaluated", []
            self.save()
            return
        fitness = torch.tensor([r.fitness for r in results], dtype=torch.float64)
        self._update_best()
        if self.best is None and done.exhausted:
            raise SearchFailed(f"ga.budget_epochs={self.evaluator.budget:g} ran out before any "
                               "genome was trained at the target fidelity: raise it")
        self._record(results, fitness, s.population[keep], done.evaluations,
                     time.perf_counter() - start, self.evaluator.cache_hits - hits_before)
        if all(r.status == "failed" for r in results):
            raise SearchFailed(f"every genome of generation {s.generation} failed (first: "
                               f"{results[0].error}); see evaluations.csv and fix the "
                               "trainer or model settings")

    def _record(self, results: list[Row], fitness: torch.Tensor, population: torch.Tensor,
                evaluations: list[Result], seconds: float, hits: int) -> None:
        """Write the generation out, mark it evaluated and checkpoint."""
        s = self.state
        # No working genome at the target yet (all failed so far): the rows are recorded
        # against the generation's first row, as the best of nothing.
        best = self.best or Best.of(results[0], s.generation)
        info = GenerationInfo(s.generation, seconds, self.evaluator.trained,
                              self.evaluator.cache_hits, self.evaluator.spent,
                              self._eta(s.generation + 1))
        self._emit("generation_done", GenerationDone(results, fitness, best, info, population,
                                                     evaluations, hits))
        s.phase, s.trained_in_generation = "evaluated", []
        self.save()
        self._log(results, fitness, info, best)

    def _log(self, results: list[Row], fitness: torch.Tensor, info: GenerationInfo,
             best: Best) -> None:
        """One line per generation, numbered from 0 as the tables and TensorBoard are."""
        failed = sum(r.status == "failed" for r in results)
        budget = self.evaluator.budget
        p = best.pareto
        answer = "best so far" if p is None else \
            f"front of {len(p.front)}, hypervolume {p.hypervolume:.4f}, knee"
        eta = "" if info.eta is None else ", search done" if info.eta == 0 else \
            f", ETA {format_duration(info.eta)}"
        log.info("%s: best %.4f mean %.4f%s | %s %s %.4f (%d seed%s) | "
                 "trained %d, cache hits %d, compute %.2f%s epochs, %.1fs%s",
                 generation_label(info.generation, self.ga.generations),
                 fitness.max(), fitness.mean(), f" ({failed} failed)" if failed else "",
                 answer, format_compact(best.arch.compact), best.fitness,
                 best.seeds, "" if best.seeds == 1 else "s",
                 info.trained, info.cache_hits, info.compute,
                 f"/{budget:g}" if budget is not None else "", info.seconds, eta)

    def _advance(self) -> None:
        """The next population from the evaluated one, by the strategy's rule."""
        s = self.state
        s.population = self.strategy.propose(self._context(s.seen), s.population, s.generation)
        s.generation, s.phase, s.trained_in_generation = s.generation + 1, "evaluating", []
        self._hits_start = self.evaluator.cache_hits
        self.save()

    def budget_spent(self) -> bool:
        """No training of the cheapest rung fits in what is left of the budget."""
        return budget_spent(self.evaluator.budget, self.evaluator.spent, self.schedule.fidelities[0])

    def _idle(self) -> bool:
        """No generation limit, and only cache hits: the budget would never be spent."""
        return self.ga.generations is None and self.state.idle >= IDLE_GENERATIONS

    def _limit_reached(self) -> bool:
        """The first of ga.generations and ga.budget_epochs is reached (or the search idles)."""
        return limit_reached(self.ga.generations, self.evaluator.budget, self.state,
                             self.evaluator.spent, self.schedule.fidelities[0])

    def _done(self) -> bool:
        if self._idle():
            log.warning("%d generations in a row trained nothing new (the population has "
                        "converged); stopping before the budget is spent", self.state.idle)
        return self._limit_reached()

    def run(self) -> SearchResult:
        """Search until the generation limit or the budget; the sinks are closed at the end,
        also when the search fails."""
        start = time.perf_counter()
        self._clock = (start, self.evaluator.spent)
        log.info("search %s: %s", self.ga.strategy,
                 stopping_rule(self.ga, self.evaluator.budget, self.schedule))
        try:
            best = self._loop()
            self._emit("finish", best)
        finally:
            self._emit("close")
        return SearchResult(best, self.state.population, self.evaluator.trained,
                            self.evaluator.cache_hits, time.perf_counter() - start,
                            self.evaluator.spent)

    def _loop(self) -> Best:
        if self.state.phase == "evaluating" and not self.state.trained_in_generation:
            self.save()  # a kill before the first genome resumes from this exact population
        while True:
            if self.state.phase == "evaluated":
                if self._done():
                    break
                self._advance()
            self._evaluate_generation()
        if self.best is None:
            raise SearchFailed("no genome was trained at the target fidelity without failing "
                               "(see evaluations.csv): raise ga.budget_epochs or fix the trainer "
                               "or model settings")
        return self.best
