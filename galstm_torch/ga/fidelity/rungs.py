"""One generation's evaluation: successive halving over rungs of fidelity, then racing the
leaders with fresh seeds, all within the compute budget.

- **Rungs.** New genomes are trained at the cheapest fidelity first (e.g. a ninth of an
  epoch); the top share of each rung is trained again at the next fidelity, up to the target.
  A promoted genome is retrained from scratch with its own seed, not continued: continuing
  would need its weights and optimizer state in the checkpoint, and under a cosine schedule
  the lower rung's training is not the start of the higher one. The retraining overhead is
  the lower rungs' cost (about 1/eta + 1/eta^2 of a target training per promoted genome).
- **Racing.** A genome's fitness at the target fidelity is the mean over the seeds it received
  (replicate r > 0 is a fresh seed). After each generation the `confirm` leaders of every
  genome seen so far get fresh seeds until each has `seeds` of them, so a single lucky score
  cannot rule selection or become the answer.
- **Standing.** Genomes are compared at the same rung only: a genome's standing is the highest
  rung it reached and its mean fitness there; a higher rung ranks above any lower one.
"""
from __future__ import annotations

import logging
import math
import statistics
from dataclasses import dataclass
from typing import Any, Callable, Optional

from galstm_torch.execution.executor import Outcome
from galstm_torch.ga.fidelity.evaluator import Evaluator, Request, Result
from galstm_torch.ga.fidelity.store import replicates
from galstm_torch.training.architecture import Architecture

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Schedule:
    """fidelities: epochs of each rung, increasing, the last being the target fidelity;
    promote: the share of a rung trained at the next; seeds: replicates a leader gets at the
    target; confirm: how many leaders are raced after each generation."""

    fidelities: tuple[float, ...] = (1.0,)
    promote: float = 1 / 3
    seeds: int = 1
    confirm: int = 1

    def halving_cost(self, newcomers: int) -> float:
        """Compute (epochs) of a generation that trains ``newcomers`` new genomes, at most:
        every one at the first rung, the promoted share (rounded up) at each higher rung,
        then racing ``confirm`` leaders to ``seeds`` seeds at the target. Cache hits cost
        less."""
        fids, pool = self.fidelities, newcomers
        cost = pool * fids[0]
        for fid in fids[1:]:
            pool = math.ceil(pool * self.promote - 1e-9)
            cost += pool * fid
        return cost + min(self.confirm, pool) * (self.seeds - 1) * fids[-1]


@dataclass(frozen=True)
class Standing:
    """Where a genome stands: rung reached (-1: never evaluated), mean fitness there, its
    standard error and the number of seeds behind it."""

    rung: int
    mean: float
    se: float
    seeds: int
    failed: bool = False  # every training at that rung failed

    @property
    def key(self) -> float:
        """One number that orders by rung, then by mean fitness (fitness lies in [0, 1]); a
        genome that failed, or was never evaluated, ranks below every working one."""
        return -1.0 if self.failed or self.rung < 0 else 2.0 * self.rung + self.mean


@dataclass(frozen=True)
class Row:
    """A genome where it stands: its key in the store (genome, fidelity) with its standing
    there (the mean fitness over its seeds), and the record of its first seed there (the
    trained model the export keeps; the metrics the tables show beside the mean)."""

    arch: Architecture
    fidelity: float
    standing: Standing
    first: Outcome

    @property
    def fitness(self) -> float:
        """The mean fitness over the genome's seeds at this fidelity."""
        return self.standing.mean

    @property
    def seeds(self) -> int:
        return self.standing.seeds

    @property
    def se(self) -> float:
        """The standard error of the mean (NaN for one seed)."""
        return self.standing.se

    @property
    def status(self) -> str:
        return self.first.status

    @property
    def error(self) -> str:
        return self.first.error

    @property
    def val_acc(self) -> float:
        return self.first.evaluation.val_acc

    @property
    def test_acc(self) -> float:
        return self.first.evaluation.test_acc

    @property
    def loss(self) -> float:
        return self.first.evaluation.loss

    @property
    def params(self) -> int:
        return self.first.evaluation.params

    @property
    def seconds(self) -> float:
        return self.first.evaluation.seconds


def promoted(scores: list[float], share: float) -> list[int]:
    """Indices of the top ceil(n * share) scores, best first; ties keep the earlier index."""
    k = math.ceil(len(scores) * share - 1e-9)
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:k]


def standing(evaluator: "Evaluator | _ReplayView", arch: Architecture,
             schedule: Schedule) -> Standing:
    """The genome's standing, from the store's records of its seeds."""
    top = len(schedule.fidelities) - 1
    for rung in range(top, -1, -1):
        outcomes = evaluator.replicates(arch, schedule.fidelities[rung])
        if outcomes:
            fit = [o.evaluation.fitness for o in outcomes]
            se = statistics.stdev(fit) / math.sqrt(len(fit)) if len(fit) > 1 else math.nan
            failed = all(o.status == "failed" for o in outcomes)
            return Standing(rung, statistics.fmean(fit), se, len(fit), failed)
    return Standing(-1, 0.0, math.nan, 0)


def row(evaluator: Evaluator, arch: Architecture, schedule: Schedule) -> Optional[Row]:
    """The genome's Row at the highest rung it reached; None before its first training."""
    st = standing(evaluator, arch, schedule)
    if st.rung < 0:
        return None
    fidelity = schedule.fidelities[st.rung]
    first = evaluator.cached(arch, fidelity)
    assert first is not None  # standing found the replicates from the first on
    return Row(arch, fidelity, st, first)


def leaders(evaluator: "Evaluator | _ReplayView", seen: list[Architecture], schedule: Schedule,
            k: int) -> list[Architecture]:
    """The k genomes with the best mean fitness at the target fidelity, best first (ties keep
    the genome seen first)."""
    top = len(schedule.fidelities) - 1
    ranked = [(a, standing(evaluator, a, schedule)) for a in seen]
    ranked = [(a, s) for a, s in ranked if s.rung == top and not s.failed]
    ranked.sort(key=lambda pair: -pair[1].mean)  # stable: first seen wins ties
    return [a for a, _ in ranked[:k]]


def best_genome(evaluator: Evaluator, seen: list[Architecture],
                schedule: Schedule) -> Optional[Architecture]:
    """The answer of the search so far: the best mean at the target fidelity among genomes
    that received every seed, or among all genomes at the target when none has yet."""
    ranked = leaders(evaluator, seen, schedule, len(seen))
    confirmed: list[Optional[Architecture]] = [
        a for a in ranked if standing(evaluator, a, schedule).seeds >= schedule.seeds]
    return (confirmed or ranked or [None])[0]


@dataclass
class GenerationEvaluation:
    """What one generation's evaluation produced: a Row per population row (its genome at the
    highest rung it reached), every evaluation made (one per request, for evaluations.csv),
    and whether the budget cut it short."""

    rows: list[Optional[Row]]  # None: the budget ran out before the row's first training
    evaluations: list[Result]
    exhausted: bool


class GenerationRunner:
    """Runs rungs then racing for one generation through the evaluator."""

    def __init__(self, evaluator: Evaluator, schedule: Schedule, *, trained_before: set[str],
                 on_outcome: Optional[Callable[[str, Outcome], None]] = None,
                 promote: Optional[Callable[[list[Result], float], list[int]]] = None,
                 rescue: Optional[Callable[[Any, list[Architecture]], list[Architecture]]] = None,
                 ) -> None:
        """``promote`` picks who goes up a rung (indices into a rung's results); by default
        the top share by fitness (a strategy may pass its own: NSGA-II ranks by front).
        ``rescue`` (ga.rescue): genomes raced besides the leaders, from the cache's view."""
        self.evaluator, self.schedule, self.rescue = evaluator, schedule, rescue
        self.promote = promote or (lambda results, share: promoted(
            [r.fitness for r in results], share))
        self.trained_before, self.on_outcome = trained_before, on_outcome
        self.evaluations: list[Result] = []
        self.exhausted = False
        # A resumed generation replays its decisions: what it trained before the interruption
        # stays out of view until it is asked for again, then comes back as a recorded row.
        self.view = _ReplayView(evaluator, set(trained_before))

    def _run(self, requests: list[Request], ahead: "list[Request] | None" = None) -> list[Result]:
        if self.exhausted:
            return []
        requests, self.exhausted = self.evaluator.affordable(requests)
        results = self.evaluator.evaluate(requests, trained_before=self.trained_before,
                                          on_outcome=self.on_outcome,
                                          ahead=None if self.exhausted else ahead)
        self.view.reveal(requests)
        self.evaluations.extend(results)
        return results

    def run(self, archs: list[Architecture], seen: list[Architecture],
            fidelities: Optional[list[float]] = None) -> GenerationEvaluation:
        """``fidelities``: the rung of each row, when the strategy picks them (DEHB's
        brackets): each row trains there once and nothing is promoted."""
        if fidelities is None:
            self._rungs(archs)
        else:
            self._run([Request(a, f) for a, f in zip(archs, fidelities, strict=True)])
        self._race(seen)
        unused = self.evaluator.forget_ahead()
        if unused:
            log.info("%d training(s) ahead of the race were not needed", unused)
        return GenerationEvaluation([row(self.evaluator, a, self.schedule) for a in archs],
                                    self.evaluations, self.exhausted)

    def _rungs(self, archs: list[Architecture]) -> None:
        """Rung 0 for every row whose genome has no target score yet (a row per population
        row, so repeats show as cache hits), the target fidelity for the others; then
        successive halving among the newcomers."""
        fids, top = self.schedule.fidelities, len(self.schedule.fidelities) - 1
        # Genomes scored at the target before this generation (a resumed generation has
        # already trained some of its own promotions: those still go through the rungs).
        at_top = {a.compact for a in archs if self.view.cached(a, fids[top]) is not None}
        first = [Request(a, fids[top] if a.compact in at_top or top == 0 else fids[0])
                 for a in archs]
        results = self._run(first)
        # A genome that failed is never promoted: its failure would only repeat, at more cost.
        pool = _unique([r for r in results if r.arch.compact not in at_top
                        and r.outcome.status != "failed"])
        for rung in range(1, top + 1):
            chosen = [pool[i].arch for i in self.promote(pool, self.schedule.promote)]
            pool = [r for r in self._run([Request(a, fids[rung]) for a in chosen])
                    if r.outcome.status != "failed"]

    def _race(self, seen: list[Architecture]) -> None:
        """Fresh seeds for the top `confirm` leaders (and ``rescue``'s genomes) until each has
        `seeds`, one training per step, ranked anew after each: every step depends only on the
        cache, so a killed run resumes the same race. Further seeds are offered to idle
        workers ahead of time (Evaluator.evaluate's ``ahead``): that changes no step."""
        s, target = self.schedule, self.schedule.fidelities[-1]
        while not self.exhausted and s.seeds > 1:
            extra = self.rescue(self.view, seen) if self.rescue is not None else []
            need = [a for a in leaders(self.view, seen, s, s.confirm) + extra
                    if standing(self.view, a, s).seeds < s.seeds]
            if not need:
                return
            have = standing(self.view, need[0], s).seeds
            self._run([Request(need[0], target, have)],
                      ahead=[Request(need[0], target, r) for r in range(have + 1, s.seeds)])


class _ReplayView:
    """The evaluator's cache without the keys still hidden (``cached`` and ``replicates``,
    as standing() and leaders() use them)."""

    def __init__(self, evaluator: Evaluator, hidden: set[str]) -> None:
        self.evaluator, self.hidden = evaluator, hidden

    def reveal(self, requests: list[Request]) -> None:
        self.hidden -= {self.evaluator.key(r.arch, r.fidelity, r.replicate) for r in requests}

    def cached(self, arch: Architecture, fidelity: Optional[float] = None,
               replicate: int = 0) -> Optional[Outcome]:
        if self.evaluator.key(arch, fidelity, replicate) in self.hidden:
            return None
        return self.evaluator.cached(arch, fidelity, replicate)

    def replicates(self, arch: Architecture, fidelity: Optional[float] = None) -> list[Outcome]:
        return replicates(self, arch, fidelity)


def _unique(results: list[Result]) -> list[Result]:
    """First result of each genome, in order."""
    first: dict[tuple[int, ...], Result] = {}
    for r in results:
        first.setdefault(r.arch.compact, r)
    return list(first.values())
