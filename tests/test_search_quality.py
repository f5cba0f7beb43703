"""The search-quality mechanisms: compute budget, rungs of fidelity, racing with fresh seeds,
the TPE baseline, and exact resume with all of them (a fast noisy stand-in fitness)."""
from __future__ import annotations

import csv
import dataclasses
import hashlib
from pathlib import Path
from typing import Iterator

import pytest
import torch

from galstm_torch.config import GAConfig
from galstm_torch.execution.executor import Outcome, Task
from galstm_torch.ga.fidelity.evaluator import Evaluator, Request
from galstm_torch.ga.fidelity.rungs import Schedule, promoted
from galstm_torch.ga.genome.encoding import SearchSpace, check_population
from galstm_torch.ga.search.loop import Search
from galstm_torch.persist import checkpoint
from galstm_torch.persist.checkpoint import Checkpoints
from galstm_torch.persist.records import Tables
from galstm_torch.training.architecture import Architecture
from galstm_torch.training.trainer import Evaluation, TrainSettings, passes

SPACE = SearchSpace()


def _unit(text: str) -> float:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 16**8


class NoisyExecutor:
    """Fitness = a fixed value per genome, lower at lower fidelity, plus noise per seed."""

    def __init__(self, stop_after: "int | None" = None, slots: int = 1) -> None:
        self.tasks: list[Task] = []
        self.batches: list[int] = []  # tasks per map call
        self.stop_after, self.slots = stop_after, slots  # slots: trainings at once

    def map(self, tasks: list[Task]) -> Iterator[Outcome]:
        self.batches.append(len(tasks))
        for task in tasks:
            if self.stop_after is not None and len(self.tasks) >= self.stop_after:
                raise KeyboardInterrupt("stand-in for kill -9")
            self.tasks.append(task)
            fid = 1.0 if task.fidelity is None else task.fidelity
            fit = 0.5 + 0.4 * _unit(str(task.compact)) - 0.2 * (1 - fid) \
                + 0.05 * _unit(str(task.seed))
            yield Outcome(task.compact, Evaluation(fit, fit, fit, 0.1, 10, 0.0, 0.0), seed=task.seed)

    def close(self) -> None:
        pass


def ga(**overrides) -> GAConfig:
    """Rungs, racing and a budget, without the surrogate (ga.guide=0): the GA's own children."""
    base = dict(strategy="ga", pop_size=8, generations=None, budget_epochs=12.0,
                rungs=[0.25, 1.0], promote=0.25, seeds=3, confirm=1, elitism=2,
                mutation_rate=0.3, guide=0)
    return GAConfig(**{**base, **overrides})


def search(tmp: Path, config: GAConfig, executor: NoisyExecutor, seed: int = 0,
           start: int = 0) -> Search:
    settings = TrainSettings()
    evaluator = Evaluator(executor, settings, run_seed=seed, budget=config.budget_epochs)
    schedule = Schedule(tuple(config.rungs), promote=config.promote, seeds=config.seeds,
                        confirm=config.confirm)
    sinks = [Tables(tmp, SPACE, start_generation=start), Checkpoints(tmp / "checkpoint")]
    return Search(SPACE, config, evaluator, sinks,
                  run_seed=seed,
                  generator=torch.Generator().manual_seed(seed),
                  config_hash="test", schedule=schedule)


def rows(run: Path) -> list[dict]:
    with (run / "evaluations.csv").open() as f:
        return list(csv.DictReader(f))


def test_promoted_picks_the_top_share_best_first_and_keeps_the_earlier_on_ties():
    assert promoted([0.5, 0.9, 0.7, 0.9], 0.5) == [1, 3]
    assert promoted([0.1, 0.2, 0.3], 0.34) == [2, 1]  # ceil(3 * 0.34) = 2
    assert promoted([0.4] * 5, 0.2) == [0]
    assert promoted([0.3, 0.1], 1.0) == [0, 1]


def test_fractional_epochs_train_a_prefix_of_the_shuffled_pass():
    assert passes(1, 100) == [100]
    assert passes(0.25, 100) == [25]
    assert passes(2.5, 100) == [100, 100, 50]


def test_the_cache_tells_fidelities_and_seeds_apart():
    ev = Evaluator(NoisyExecutor(), TrainSettings(), run_seed=3)
    arch = Architecture.from_compact([1, 1, 64, 64])
    keys = {ev.key(arch), ev.key(arch, 0.25), ev.key(arch, 1.0, 1), ev.key(arch, 0.25, 1)}
    assert len(keys) == 4
    assert ev.key(arch, 1.0) == ev.key(arch)  # the target fidelity is the settings' epochs
    assert ev.key(arch).startswith("[1,1,64,64]|")  # keys of older runs stay valid
    seeds = {ev.task(Request(arch, f, r)).seed for f in (0.25, 1.0) for r in (0, 1)}
    assert len(seeds) == 4
    results = ev.evaluate([Request(arch, 0.25), Request(arch, 1.0), Request(arch, 0.25)])
    assert [r.cache_hit for r in results] == [False, False, True]
    assert results[0].fitness != results[1].fitness
    assert [r.compute for r in results] == [0.25, 1.0, 0.0]
    assert ev.spent == 1.25 and ev.trained == 2


def test_the_budget_stops_the_search_and_every_row_counts_its_compute(tmp_path):
    executor = NoisyExecutor()
    result = search(tmp_path, ga(budget_epochs=7.0), executor).run()
    spent = sum(1.0 if t.fidelity is None else t.fidelity for t in executor.tasks)
    assert 7.0 - 0.25 < spent <= 7.0 and result.compute == pytest.approx(spent)
    table = rows(tmp_path)
    assert sum(float(r["compute"]) for r in table) == pytest.approx(spent)
    assert all(float(r["compute"]) == 0 for r in table if r["cache_hit"] == "1")
    with (tmp_path / "generations.csv").open() as f:
        compute = [float(r["compute/epochs"]) for r in csv.DictReader(f)]
    assert compute == sorted(compute) and compute[-1] == pytest.approx(spent)


def test_a_rung_promotes_only_its_best_share(tmp_path):
    executor = NoisyExecutor()
    search(tmp_path, ga(generations=1, budget_epochs=None, seeds=1), executor).run()
    first = {t.compact: t for t in executor.tasks if t.fidelity == 0.25}
    full = [t.compact for t in executor.tasks if t.fidelity is None]
    table = [r for r in rows(tmp_path) if r["fidelity"] == "0.25" and r["cache_hit"] == "0"]
    ranked = sorted(table, key=lambda r: -float(r["fitness"]))
    assert len(first) == 8 and len(full) == 2  # ceil(8 * 0.25)
    assert {str(list(c)).replace(" ", "") for c in full} == {r["genome"] for r in ranked[:2]}


def test_racing_gives_the_answer_fresh_seeds_and_reports_their_mean(tmp_path):
    executor = NoisyExecutor()
    result = search(tmp_path, ga(budget_epochs=20.0), executor).run()
    best = result.best
    reps = [t for t in executor.tasks if t.compact == best.arch.compact and t.fidelity is None]
    assert best.seeds == 3 and len(reps) == 3 and len({t.seed for t in reps}) == 3
    by_seed = {r["replicate"]: float(r["fitness"]) for r in rows(tmp_path)
               if r["genome"] == str(list(best.arch.compact)).replace(" ", "")
               and r["fidelity"] == "1" and r["cache_hit"] == "0"}
    assert sorted(by_seed) == ["0", "1", "2"]
    assert best.fitness == pytest.approx(sum(by_seed.values()) / 3)
    assert best.se > 0


def test_one_seed_and_one_rung_is_the_plain_search_of_before(tmp_path):
    executor = NoisyExecutor()
    config = ga(rungs=[1.0], seeds=1, budget_epochs=None, generations=3, elitism=1)
    result = search(tmp_path, config, executor).run()
    assert all(t.fidelity is None for t in executor.tasks)
    assert result.best.seeds == 1 and result.compute == len(executor.tasks)


@pytest.mark.parametrize("strategy", ["ga", "random"])
@pytest.mark.parametrize("slots", [1, 2])
def test_resume_after_a_kill_ends_exactly_as_an_uninterrupted_run(tmp_path, strategy, slots):
    # slots=2: racing's next seeds train ahead beside the asked one; a kill loses them
    config = ga(strategy=strategy, budget_epochs=14.0)
    whole = search(tmp_path / "whole", config, NoisyExecutor()).run()
    for stop in (3, 11, 17, 24):
        run = tmp_path / f"stop{stop}"
        with pytest.raises(KeyboardInterrupt):
            search(run, config, NoisyExecutor(stop_after=stop, slots=slots)).run()
        state = checkpoint.load(run / "checkpoint")
        resumed = search(run, config, NoisyExecutor(slots=slots),
                         start=state.generation + (state.phase == "evaluated"))
        resumed.restore(state)
        again = resumed.run()
        assert again.best.arch == whole.best.arch
        assert again.best.fitness == whole.best.fitness
        assert torch.equal(again.population, whole.population)
        assert again.compute == pytest.approx(whole.compute)
        drop = ("seconds", "samples_per_s")
        strip = lambda t: [{k: v for k, v in r.items() if k not in drop} for r in t]  # noqa: E731
        assert strip(rows(run)) == strip(rows(tmp_path / "whole"))
        assert again.cache_hits == whole.cache_hits
        with (run / "generations.csv").open() as a, (tmp_path / "whole" / "generations.csv").open() as b:
            untimed = lambda f: [{k: v for k, v in r.items() if not k.startswith("time/")}  # noqa: E731
                                 for r in csv.DictReader(f)]
            assert untimed(a) == untimed(b)


def test_tpe_proposes_valid_genomes_that_depend_only_on_history_and_seed():
    pytest.importorskip("optuna")
    from galstm_torch.ga.strategies.optuna_samplers.study import propose
    from galstm_torch.ga.strategies.optuna_samplers.tpe import tpe_sampler

    history = [((1, 1, 64, 64), 0.8, 0), ((3, 1, 200, 100, 250, 64), 0.9, 0),
               ((2, 3, 40, 50, 60, 70, 80), 0.6, 1)]
    a = propose(history, 6, SPACE, seed=5, sampler=tpe_sampler)
    b = propose(history, 6, SPACE, seed=5, sampler=tpe_sampler)
    check_population(a, SPACE)
    assert a.shape == (6, SPACE.n_genes) and torch.equal(a, b)
    assert not torch.equal(a, propose(history, 6, SPACE, seed=6, sampler=tpe_sampler))


def test_the_budget_and_rungs_are_checked_in_one_line():
    from galstm_torch.app import to_config
    from galstm_torch.config import Config
    from galstm_torch.errors import ConfigError

    for ga_cfg, message in [
        (ga(generations=None, budget_epochs=None), "ga.generations=null needs a budget"),
        (ga(rungs=[0.5, 0.25, 1.0]), "ga.rungs=[0.5, 0.25, 1.0] is out of range"),
        (ga(rungs=[0.5]), "ga.rungs=[0.5] is out of range"),
        (ga(budget_epochs=2.5), "ga.budget_epochs=2.5 is out of range: must bring at least one"),
        (ga(strategy="tpe"), "ga.strategy=tpe runs at the target fidelity"),
    ]:
        with pytest.raises(ConfigError) as err:
            to_config(dataclasses.replace(Config(), ga=ga_cfg))
        assert message in str(err.value) and "\n" not in str(err.value)


def test_a_converged_population_with_no_generation_limit_stops(tmp_path):
    executor = NoisyExecutor()
    config = ga(generations=None, budget_epochs=1000.0, rungs=[1.0], seeds=1, pop_size=4,
                mutation_rate=0.0, layer_mutation_rate=0.0, crossover_rate=0.0, elitism=1)
    result = search(tmp_path, config, executor).run()
    assert result.compute < 1000 and len(executor.tasks) == result.trained


def test_guided_offspring_are_the_children_the_model_predicts_best():
    from galstm_torch.ga.genome.encoding import random_population
    from galstm_torch.ga.guide.surrogate import pick

    g = torch.Generator().manual_seed(0)
    known = random_population(40, SPACE, generator=g)
    scores = known[:, 2:].sum(1).double() / 1000  # bigger is better
    candidates = random_population(60, SPACE, generator=g)
    candidates[5] = known[0]  # a genome already scored is taken last
    chosen = pick(candidates, known, scores, 6, SPACE)
    check_population(chosen, SPACE)
    assert len(torch.unique(chosen, dim=0)) == 6
    assert not (chosen == known[0]).all(dim=1).any()
    assert chosen[:, 2:].sum(1).float().mean() > candidates[:, 2:].sum(1).float().mean()


def test_a_guided_search_resumes_exactly_and_spends_its_budget(tmp_path):
    config = ga(guide=4, budget_epochs=10.0)
    whole = search(tmp_path / "whole", config, NoisyExecutor()).run()
    run = tmp_path / "stopped"
    with pytest.raises(KeyboardInterrupt):
        search(run, config, NoisyExecutor(stop_after=19)).run()
    state = checkpoint.load(run / "checkpoint")
    resumed = search(run, config, NoisyExecutor(), start=state.generation + (state.phase == "evaluated"))
    resumed.restore(state)
    again = resumed.run()
    assert torch.equal(again.population, whole.population) and again.compute == whole.compute
    assert 10.0 - 1.0 < whole.compute <= 10.0  # at most one target training short


def test_failed_genomes_are_never_promoted_and_rank_below_every_working_one(tmp_path):
    class Failing(NoisyExecutor):
        def map(self, tasks):
            for outcome in super().map(tasks):
                if outcome.compact[1] == 3:  # three dense blocks always diverge here
                    from galstm_torch.execution.executor import failed_outcome
                    outcome = failed_outcome(Task(outcome.compact, outcome.seed), "diverged")
                yield outcome

    executor = Failing()
    result = search(tmp_path, ga(budget_epochs=12.0), executor).run()
    promoted_ = [t for t in executor.tasks if t.fidelity is None]
    assert promoted_ and all(t.compact[1] != 3 for t in promoted_)
    assert result.best.arch.compact[1] != 3
    from galstm_torch.ga.fidelity.rungs import Standing
    assert Standing(1, 0.0, 0.0, 1, failed=True).key < Standing(0, 0.01, 0.0, 1).key


def test_trainings_ahead_of_the_race_change_nothing_but_when_they_run(tmp_path):
    # Two slots: the leader's further seeds train beside the asked one. Every record, the
    # compute and the answer stay those of one training at a time; only the calls differ.
    config = ga(budget_epochs=14.0, seeds=4)
    one, two = NoisyExecutor(), NoisyExecutor(slots=2)
    alone = search(tmp_path / "one", config, one)
    together = search(tmp_path / "two", config, two)
    a, b = alone.run(), together.run()
    assert b.best.arch == a.best.arch and b.best.fitness == a.best.fitness
    assert torch.equal(a.population, b.population) and a.compute == b.compute
    assert rows(tmp_path / "one") == rows(tmp_path / "two")
    racing = [t for t in two.tasks if t.fidelity is None]
    assert max(two.batches) >= 2 and len(two.batches) < len(one.batches)
    wasted = len(two.tasks) - len(one.tasks)  # trained ahead, then not needed
    assert wasted == together.evaluator.unused_ahead >= 0 and racing
    assert together.evaluator.ahead == {} and together.evaluator.trained == alone.evaluator.trained
