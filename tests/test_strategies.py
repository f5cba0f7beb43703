"""The strategies behind ga.strategy: the registry names every one, each proposes valid and
reproducible populations through the same evaluator, and each refuses in one line what it
cannot apply (its own check, called by config validation)."""
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
from galstm_torch.ga.genome.encoding import SearchSpace, check_population
from galstm_torch.ga.pareto.goals import Goals
from galstm_torch.ga.search.events import GenerationDone, Sink
from galstm_torch.ga.search.loop import Search
from galstm_torch.ga.strategies.base import Strategy
from galstm_torch.ga.strategies.registry import REGISTRY, STRATEGIES, strategy_of
from galstm_torch.training.trainer import TrainSettings

from test_search_quality import NoisyExecutor

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
}
OPTUNA = {"tpe", "optuna_nsga2"}


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
    with pytest.raises(ConfigError, match="ga.strategy=cmaes is out of range: choose one of ga, "):
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
    if name in OPTUNA:
        pytest.importorskip("optuna")
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
