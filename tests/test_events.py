"""Search tells its sinks what happens, in order, and needs none of them to search."""
from __future__ import annotations

import torch

from galstm_torch.config import GAConfig
from galstm_torch.execution.executor import Outcome
from galstm_torch.ga.fidelity.evaluator import Evaluator, Result
from galstm_torch.ga.genome.encoding import SearchSpace
from galstm_torch.ga.search.events import (
    Best,
    GenerationDone,
    GenerationInfo,
    GenerationStarted,
    GenomeTrained,
    Sink,
)
from galstm_torch.ga.search.loop import Search
from galstm_torch.training.architecture import Architecture
from galstm_torch.training.trainer import Evaluation, TrainSettings

from conftest import one_seed_row
from test_search_quality import NoisyExecutor

SPACE = SearchSpace()


class Recording(Sink):
    """A fake sink: it writes nothing and records each event's name and payload."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def generation_started(self, event: GenerationStarted) -> None:
        self.events.append(("started", event))

    def genome_trained(self, event: GenomeTrained) -> None:
        self.events.append(("trained", event))

    def generation_done(self, event: GenerationDone) -> None:
        self.events.append(("done", event))

    def state(self, state) -> None:
        self.events.append(("state", state.phase))

    def finish(self, best: Best) -> None:
        self.events.append(("finish", best))

    def close(self) -> None:
        self.events.append(("close", None))


def _search(sinks, generations=2) -> tuple[Search, NoisyExecutor]:
    ga = GAConfig(strategy="ga", pop_size=4, generations=generations, budget_epochs=None,
                  rungs=[1.0], seeds=1, elitism=1, tournament_size=2)
    executor = NoisyExecutor()
    evaluator = Evaluator(executor, TrainSettings(), run_seed=0)
    return Search(SPACE, ga, evaluator, sinks, generator=torch.Generator().manual_seed(0),
                  config_hash="test"), executor


def test_each_generation_is_announced_trained_and_done_then_finished_and_closed():
    sink = Recording()
    search, executor = _search([sink])
    result = search.run()
    names = [name for name, _ in sink.events]
    assert names[-2:] == ["finish", "close"] and sink.events[-2][1] is result.best
    assert names.count("started") == names.count("done") == 2
    assert names.count("trained") == len(executor.tasks)
    first = names.index("done")
    assert names[0:2] == ["state", "started"]  # the first population is saved before training
    assert names[first + 1] == "state" and sink.events[first + 1][1] == "evaluated"
    trained = [e.outcome.compact for name, e in sink.events if name == "trained"]
    assert trained == [t.compact for t in executor.tasks]
    done = [e for name, e in sink.events if name == "done"]
    assert [d.info.generation for d in done] == [0, 1]
    assert done[0].scalars["fitness/best"] == max(r.fitness for r in done[0].results)


def test_a_search_without_sinks_finds_the_same_best():
    with_sink = _search([Recording()])[0].run()
    alone = _search([])[0].run()
    assert alone.best.arch == with_sink.best.arch
    assert alone.best.fitness == with_sink.best.fitness


def test_sinks_are_closed_when_the_search_fails():
    sink = Recording()
    search, executor = _search([sink])
    executor.stop_after = 2
    try:
        search.run()
    except KeyboardInterrupt:
        pass
    assert sink.events[-1] == ("close", None)
    assert "finish" not in [name for name, _ in sink.events]


def test_the_best_so_far_of_a_pareto_search_is_the_fronts_most_accurate_genome():
    """issue 28 item 18: the knee can lose accuracy as the front grows; the best so far is the
    front's most accurate point, with its own val and test accuracy."""
    import math

    from galstm_torch.ga.pareto.goals import FrontPoint, ParetoSummary

    a, b = Architecture.from_compact((1, 1, 32, 32)), Architecture.from_compact((2, 1, 64, 64, 32))
    accurate = FrontPoint(b, 0.9, 1, 5000, math.nan, val_acc=0.91, test_acc=0.89)
    knee = FrontPoint(a, 0.7, 1, 900, math.nan, val_acc=0.71, test_acc=0.69)
    summary = ParetoSummary(("accuracy", "params"), {}, (knee, accurate), knee, 0.5)
    e = Evaluation(0.7, 0.71, 0.69, 0.1, 900, 1.0, 1.0)
    row = one_seed_row(a, Outcome(a.compact, e))
    best = Best.of(row, 0, pareto=summary)
    event = GenerationDone([row], torch.tensor([0.7]), best,
                           GenerationInfo(0, 1.0, 1, 0, 1.0), torch.zeros(1, 6),
                           [Result(a, row.first, cache_hit=False)])
    assert event.leader == (0.9, 0.91, 0.89)
    assert event.scalars["fitness/best_so_far"] == 0.9
    assert event.scalars["accuracy/test_best_so_far"] == 0.89
