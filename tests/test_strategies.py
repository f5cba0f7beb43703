"""The strategies behind ga.strategy: the registry names every one, each proposes valid and
reproducible populations through the same evaluator, and each refuses in one line what it
cannot apply (its own check, called by config validation); DEHB, which picks each genome's
rung itself, trains each at the rung it picked and resumes exactly."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml

from galstm_torch.app import to_config
from galstm_torch.config import Config, GAConfig, ReferenceConfig
from galstm_torch.errors import ConfigError
from galstm_torch.ga.fidelity.evaluator import Evaluator
from galstm_torch.ga.fidelity.rungs import Schedule
from galstm_torch.ga.genome.encoding import SearchSpace, check_population, population_from_compact
from galstm_torch.ga.pareto.goals import Goals
from galstm_torch.ga.search.events import GenerationDone, Sink
from galstm_torch.ga.search.loop import Search
from galstm_torch.ga.strategies.base import Context, Strategy
from galstm_torch.ga.strategies.registry import REGISTRY, STRATEGIES, strategy_of
from galstm_torch.persist import checkpoint
from galstm_torch.persist.checkpoint import Checkpoints
from galstm_torch.persist.records import Tables
from galstm_torch.training.trainer import TrainSettings

from conftest import compose_cfg
from test_search_quality import NoisyExecutor, rows

SPACE = SearchSpace(max_lstm_layers=2, max_dense_layers=2, min_units=16, max_units=48)
PRESETS = Path(__file__).resolve().parents[1] / "conf" / "ga"
PARETO = {"objectives": ["accuracy", "params"], "elitism": 0, "tournament_size": 2}
ONE_FIDELITY = {"rungs": [1.0], "seeds": 1, "guide": 0}
# A setting each strategy runs with (a new strategy adds its line): the GA with its guide and
# rungs, NSGA-II guided by predicted improvement, the baselines without the GA's keys.
CASES = {
    "ga": {"guide": 4, "rungs": [0.5, 1.0], "promote": 0.5, "seeds": 2},
    "nsga2": {**PARETO, "guide": 4, "guide_pick": "improvement", "rungs": [0.5, 1.0],
              "promote": 0.5, "seeds": 1},
    "random": {"guide": 0, "rungs": [0.5, 1.0], "promote": 0.5},
    "tpe": ONE_FIDELITY,
    "optuna_nsga2": {**PARETO, **ONE_FIDELITY},
    "dehb": {"guide": 0, "elitism": 0, "rungs": [0.25, 0.5, 1.0], "promote": 0.5, "seeds": 1},
}
EXTRAS = {"tpe": "optuna", "optuna_nsga2": "optuna", "dehb": "dehb"}  # optional dependencies


def test_the_registry_holds_every_strategy_by_its_name():
    assert set(STRATEGIES) == set(CASES)  # a new strategy needs its case here too
    for name, strategy in REGISTRY.items():
        assert isinstance(strategy, Strategy) and strategy.name == name
        assert strategy_of(name) is strategy
    named = {yaml.safe_load(p.read_text()).get("strategy") for p in PRESETS.glob("*.yaml")}
    named |= {yaml.safe_load(p.read_text()).get("ga", {}).get("strategy")
              for p in PRESETS.glob("*.yaml")}
    assert named - {None} <= set(STRATEGIES)  # every preset names a registered strategy


def test_an_unknown_strategy_is_refused_with_the_choices():
    with pytest.raises(ConfigError, match="ga.strategy=cmaes is out of range: choose one of dehb, ga, "):
        strategy_of("cmaes")
    with pytest.raises(ConfigError, match="ga.strategy=cmaes"):
        to_config(dataclasses.replace(Config(), ga=GAConfig(strategy="cmaes")))


class _Populations(Sink):
    def __init__(self) -> None:
        self.seen: list[torch.Tensor] = []

    def generation_done(self, event: GenerationDone) -> None:
        self.seen.append(event.population.clone())


def _populations(name: str, seed: int) -> list[torch.Tensor]:
    config = GAConfig(strategy=name, pop_size=6, generations=3, budget_epochs=None,
                      mutation_rate=0.3, **CASES[name])
    executor, sink = NoisyExecutor(), _Populations()
    evaluator = Evaluator(executor, TrainSettings(), run_seed=seed)
    schedule = Schedule(tuple(config.rungs), promote=config.promote, seeds=config.seeds)
    Search(SPACE, config, evaluator, [sink], generator=torch.Generator().manual_seed(seed),
           config_hash="test", schedule=schedule, run_seed=seed,
           goals=Goals(tuple(config.objectives), SPACE)).run()
    return sink.seen


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_strategy_accepts_its_setting_and_proposes_valid_reproducible_populations(name):
    if name in EXTRAS:
        pytest.importorskip(EXTRAS[name])
    config = GAConfig(strategy=name, **CASES[name])
    to_config(dataclasses.replace(Config(), ga=config))  # the checks accept it
    first, again = _populations(name, seed=1), _populations(name, seed=1)
    assert len(first) == 3
    for population in first:
        check_population(population, SPACE)
        assert population.shape == (6, SPACE.n_genes)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[1], first[0])  # the strategy moved the search on


@pytest.mark.parametrize("name,changes,message", [
    ("ga", {"objectives": ["accuracy", "params"]},
     "ga.strategy=ga searches one objective, and ga.objectives=[accuracy,params] has 2: use "
     "ga.strategy=nsga2"),
    ("nsga2", {"objectives": ["accuracy"]},
     "ga.strategy=nsga2 is a Pareto search, and ga.objectives=[accuracy] is not several"),
    ("nsga2", {**PARETO, "elitism": 2}, "ga.elitism=2: NSGA-II keeps the best fronts itself"),
    ("nsga2", {**PARETO, "selection": "roulette"}, "binary tournament on (front, crowding)"),
    ("nsga2", {**PARETO, "objectives": ["accuracy", "params", "latency"], "guide": 4,
               "reference": ReferenceConfig(latency=0.01)}, "no model of latency"),
    ("random", {"guide": 4}, "ga.guide=4 shapes the GA's offspring: it needs ga.strategy=ga or "
     "nsga2 (not random), or ga.guide=0"),
    ("random", {"guide": 0, "mutation_step": 0.1}, "ga.mutation_step=0.1 shapes the GA's"),
    ("tpe", {**ONE_FIDELITY, "guide": 2}, "ga.guide=2 shapes the GA's offspring"),
    ("tpe", {**ONE_FIDELITY, "rungs": [0.5, 1.0]},
     "ga.strategy=tpe runs at the target fidelity with one seed: set ga.rungs=[1.0] ga.seeds=1"),
    ("optuna_nsga2", {**PARETO, **ONE_FIDELITY, "seeds": 1, "rungs": [0.5, 1.0]},
     "ga.strategy=optuna_nsga2 runs at the target fidelity"),
    ("optuna_nsga2", {"objectives": ["accuracy"]}, "ga.strategy=optuna_nsga2 is a Pareto "
     "search: add an "
     "objective"),
    ("dehb", {"rungs": [0.25, 1.0]}, "ga.rungs=[0.25,1] with ga.promote=0.5 is not a Hyperband "
     "ladder: ga.strategy=dehb needs two rungs or more up to 1.0, each 1/ga.promote"),
    ("dehb", {"rungs": [1.0]}, "is not a Hyperband ladder"),
    ("dehb", {"seeds": 2}, "ga.seeds=2: ga.strategy=dehb trains each genome once, at the rung "
     "it picks: set ga.seeds=1"),
    ("dehb", {**PARETO}, "ga.strategy=dehb searches one objective"),
])
def test_a_strategy_refuses_what_it_cannot_apply_in_one_line(name, changes, message):
    ga = GAConfig(strategy=name, **{**CASES[name], **changes})
    with pytest.raises(ConfigError) as err:
        to_config(dataclasses.replace(Config(), ga=ga))
    assert message in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="ga."):  # the strategy's own check says it, from
        strategy_of(name).check(SimpleNamespace(ga=ga))  # any object with a .ga section


def test_optuna_log_level_is_the_callers_again_after_a_proposal():
    optuna = pytest.importorskip("optuna")
    from galstm_torch.ga.strategies.optuna_samplers.study import propose
    from galstm_torch.ga.strategies.optuna_samplers.tpe import tpe_sampler

    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.DEBUG)
    try:
        history = [((1, 1, 32, 32), 0.7, 0), ((2, 1, 40, 16, 48), 0.8, 0)]
        propose(history, 4, SPACE, seed=0, sampler=tpe_sampler)
        assert optuna.logging.get_verbosity() == optuna.logging.DEBUG
    finally:
        optuna.logging.set_verbosity(before)


DEHB = {**CASES["dehb"], "strategy": "dehb", "pop_size": 6, "generations": None,
        "budget_epochs": 10.0}


def _dehb(run: Path, space: SearchSpace, stop_after: "int | None" = None,
          start: int = 0) -> Search:
    """A DEHB search of ``space`` on the noisy stand-in fitness, with its tables (from
    generation ``start``) and checkpoints in ``run``."""
    config = GAConfig(**DEHB)
    evaluator = Evaluator(NoisyExecutor(stop_after=stop_after), TrainSettings(), run_seed=3,
                          budget=config.budget_epochs)
    schedule = Schedule(tuple(config.rungs), promote=config.promote)
    sinks = [Tables(run, space, start_generation=start), Checkpoints(run / "checkpoint")]
    return Search(space, config, evaluator, sinks,
                  generator=torch.Generator().manual_seed(3), config_hash="test",
                  schedule=schedule, run_seed=3)


def _context(search: Search) -> Context:
    return Context(search.ga, search.space, search.goals, search.evaluator, search.schedule,
                   [], search.generator, search.run_seed, {})


def test_dehb_trains_each_genome_once_at_the_rung_it_picked(tmp_path):
    pytest.importorskip("dehb")
    from galstm_torch.ga.strategies.dehb_search import batch

    search = _dehb(tmp_path, SPACE)
    best = search.run().best
    ctx = _context(search)
    table = [(int(r["generation"]), r["genome"], float(r["fidelity"])) for r in rows(tmp_path)]
    generations = max(g for g, _, _ in table) + 1
    for g in range(generations):
        genomes, fidelities = batch(ctx, g)
        picked = [(str(list(c)).replace(" ", ""), f) for c, f in zip(genomes, fidelities)]
        trained = [(c, f) for gen, c, f in table if gen == g]
        assert trained == picked[:len(trained)]  # DEHB's picks, and no promotion of ours
        assert len(trained) == 6 or g == generations - 1  # the budget cuts the last short
        check_population(population_from_compact([list(c) for c in genomes], SPACE), SPACE)
    first_rung = {c: f for _, c, f in reversed(table)}  # the rung each genome first trained at
    assert any(f == 1.0 and first_rung[c] < 1.0 for _, c, f in table)  # DEHB's promotions
    assert best.fidelity == 1.0 and generations >= 3


def test_dehb_searches_a_space_where_some_genes_have_one_value(tmp_path):
    pytest.importorskip("dehb")
    from galstm_torch.ga.strategies.dehb_search import batch

    space = SearchSpace(max_lstm_layers=1, max_dense_layers=2, min_units=32, max_units=32)
    ctx = _context(_dehb(tmp_path, space))
    genomes = [list(c) for g in range(3) for c in batch(ctx, g)[0]]  # nothing told: all pending
    check_population(population_from_compact(genomes, space), space)
    assert {len(c) for c in genomes} == {4, 5}  # one LSTM layer, one or two dense


def test_a_resumed_dehb_search_proposes_what_the_uninterrupted_one_did(tmp_path):
    pytest.importorskip("dehb")
    whole = _dehb(tmp_path / "whole", SPACE).run()
    untimed = lambda run: [{k: v for k, v in r.items()  # noqa: E731
                            if k not in ("seconds", "samples_per_s")} for r in rows(run)]
    for stop in (4, 6, 9, 15):  # within generation 0, at its end, within generations 1 and 2
        run = tmp_path / f"stop{stop}"
        with pytest.raises(KeyboardInterrupt):
            _dehb(run, SPACE, stop_after=stop).run()
        state = checkpoint.load(run / "checkpoint")
        resumed = _dehb(run, SPACE, start=state.generation + (state.phase == "evaluated"))
        resumed.restore(state)
        again = resumed.run()
        assert untimed(run) == untimed(tmp_path / "whole")
        assert torch.equal(again.population, whole.population)
        assert (again.best.arch, again.compute) == (whole.best.arch, whole.compute)


def test_dehbs_start_line_estimates_the_compute_its_generations_spend(tmp_path):
    # DEHB trains generation 0 at its lowest rung and later ones across its brackets' rungs,
    # not by our successive halving: the start line's estimate follows its own cost.
    pytest.importorskip("dehb")
    from galstm_torch.ga.search.pace import stopping_rule

    search = _dehb(tmp_path, SPACE)
    dehb = strategy_of("dehb")
    # its first bracket's 4 genomes at rung 0.25, then the next bracket's first 2 at 0.5
    assert dehb.generation_cost(search.schedule, 6, first=True) == pytest.approx(2.0)
    search.run()
    spent = {}
    for r in rows(tmp_path):
        spent[int(r["generation"])] = spent.get(int(r["generation"]), 0.0) + float(r["fidelity"])
    assert spent[0] == pytest.approx(2.0)  # as estimated, not halving's 4.5
    line = stopping_rule(search.ga, DEHB["budget_epochs"], search.schedule)
    assert "costs up to about 2 epochs" in line
    assert f"about {len(spent)} generations" in line


def test_a_budget_dehb_cannot_bring_to_the_target_is_refused_before_it_runs():
    # generation 0 (its brackets' first rungs: 4 x 0.25, 2 x 0.5, 3 x 1, 3 x 0.25) and the
    # first bracket's climb (2 x 0.5, 1 x 1): 7.75 epochs before any genome can reach 1.0
    ga = GAConfig(strategy="dehb", **{**CASES["dehb"], "budget_epochs": 7.5})
    with pytest.raises(ConfigError, match=r"ga.budget_epochs=7.5 is out of range: must bring "
                                          r"at least one genome to the target fidelity \(7.75"):
        to_config(dataclasses.replace(Config(), ga=ga))
    to_config(dataclasses.replace(Config(), ga=dataclasses.replace(ga, budget_epochs=7.75)))


def test_an_operator_key_a_strategy_never_reads_is_said_not_silently_ignored(caplog):
    # random, tpe and dehb breed no children: a GA operator set by hand is named in the log,
    # while the operators' defaults and their off value (0), as the presets have them, pass.
    with caplog.at_level("WARNING"):
        to_config(compose_cfg("ga=random_sh"))
        to_config(compose_cfg("ga=tpe"))
        assert "breeds no children" not in caplog.text
        to_config(compose_cfg("ga=random_sh", "ga.crossover_rate=0.9"))
    assert ("ga.crossover_rate=0.9: ga.strategy=random breeds no children, so it does not "
            "apply; drop it") in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        to_config(compose_cfg("ga.crossover_rate=0.9"))  # the GA reads it
    assert "breeds no children" not in caplog.text
