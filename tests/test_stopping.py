"""The generations the user asks for are the generations run: a preset's default budget yields
to ga.generations; with both set the first reached stops the search; the start line says which
will, the log numbers generations from 0 and the ETA comes from the compute spent so far."""
from __future__ import annotations

import csv
import logging
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from galstm_torch.app import schedule, to_config, train_settings
from galstm_torch.config import Config, GAConfig, register_configs
from galstm_torch.ga.fidelity.evaluator import Evaluator
from galstm_torch.ga.fidelity.rungs import Schedule
from galstm_torch.ga.genome.encoding import SearchSpace
from galstm_torch.ga.search.events import GenerationDone, Sink
from galstm_torch.ga.search.loop import Search
from galstm_torch.ga.search.pace import (
    eta_seconds,
    format_duration,
    generation_cost,
    generation_label,
    likely_generations,
    stopping_rule,
)
from galstm_torch.persist.resume import config_hash, resumed_config, save_config

from conftest import TINY_DATA, compose_cfg, run_train
from test_search_quality import NoisyExecutor, ga

DEFAULT_PRESETS = ["ga=default", "ga=nsga2", "ga=random_sh"]


class Generations(Sink):
    def __init__(self) -> None:
        self.done: list[GenerationDone] = []

    def generation_done(self, event: GenerationDone) -> None:
        self.done.append(event)


def search(config: Config | GAConfig, sink: Sink, *, epochs: int = 1) -> Search:
    """A search of ``config`` (a composed Config, or GAConfig with test_search_quality's
    schedule) on the noisy stand-in fitness."""
    if isinstance(config, Config):
        ga_config, plan, settings = config.ga, schedule(config), train_settings(config)
        space = SearchSpace.of(config.model)
    else:
        ga_config, settings, space = config, train_settings(Config()), SearchSpace()
        plan = Schedule(tuple(config.rungs), promote=config.promote, seeds=config.seeds,
                        confirm=config.confirm)
    evaluator = Evaluator(NoisyExecutor(), settings, run_seed=0, budget=ga_config.budget_epochs)
    return Search(space, ga_config, evaluator, [sink], generator=torch.Generator().manual_seed(0),
                  config_hash="test", schedule=plan)


@pytest.mark.parametrize("preset", DEFAULT_PRESETS)
def test_a_presets_budget_yields_to_the_generations_the_user_sets(preset):
    assert to_config(compose_cfg(preset)).ga.budget_epochs == 12  # neither set: the preset's
    asked = to_config(compose_cfg(preset, "ga.generations=40"))
    assert (asked.ga.generations, asked.ga.budget_epochs) == (40, None)
    both = to_config(compose_cfg(preset, "ga.generations=40", "ga.budget_epochs=30"))
    assert (both.ga.generations, both.ga.budget_epochs) == (40, 30)
    budget = to_config(compose_cfg(preset, "ga.budget_epochs=30"))
    assert (budget.ga.generations, budget.ga.budget_epochs) == (None, 30)


def test_saved_configs_hold_the_resolved_budget_and_hash_as_before(tmp_path):
    register_configs()  # twice: registering again changes nothing
    cfg = compose_cfg("ga.generations=40")
    assert "budget_unless_generations" in OmegaConf.to_yaml(cfg)  # Hydra's own record
    plain = OmegaConf.structured(to_config(cfg))
    save_config(plain, tmp_path)
    saved = OmegaConf.load(tmp_path / "config.yaml")
    assert saved.ga.budget_epochs is None and "${" not in (tmp_path / "config.yaml").read_text()
    # ga.budget_epochs does not change what the search computes: the hash ignores it
    assert config_hash(plain) == config_hash(OmegaConf.structured(to_config(compose_cfg())))


def test_resuming_with_more_generations_runs_them_unless_a_budget_is_set_too(tmp_path):
    save_config(OmegaConf.structured(to_config(compose_cfg())), tmp_path)  # budget 12
    current = OmegaConf.structured(to_config(compose_cfg("ga.generations=5")))
    extended = resumed_config(tmp_path, current, ["ga.generations=5"])
    assert (extended.ga.generations, extended.ga.budget_epochs) == (5, None)
    current = OmegaConf.structured(to_config(compose_cfg("ga.generations=5",
                                                         "ga.budget_epochs=20")))
    both = resumed_config(tmp_path, current, ["ga.generations=5", "ga.budget_epochs=20"])
    assert (both.ga.generations, both.ga.budget_epochs) == (5, 20)
    current = OmegaConf.structured(to_config(compose_cfg("ga.budget_epochs=20")))
    budget = resumed_config(tmp_path, current, ["ga.budget_epochs=20"])
    assert (budget.ga.generations, budget.ga.budget_epochs) == (None, 20)


def test_the_default_preset_runs_the_generations_asked_for_past_its_budget():
    config = to_config(compose_cfg("ga.pop_size=6", "ga.generations=4"))
    sink = Generations()
    result = search(config, sink).run()
    assert [d.info.generation for d in sink.done] == [0, 1, 2, 3]
    assert result.compute > 12  # the preset's 12-epoch budget would have stopped it earlier
    alone = Generations()
    result = search(to_config(compose_cfg("ga.pop_size=6")), alone).run()
    assert len(alone.done) < 4 and 12 - 1 / 3 < result.compute <= 12 + 1e-9  # neither set


@pytest.mark.parametrize("generations, budget, runs", [(2, 100.0, 2), (10, 12.0, None)])
def test_with_both_limits_the_first_reached_stops_the_search(generations, budget, runs):
    sink = Generations()
    result = search(ga(generations=generations, budget_epochs=budget), sink).run()
    if runs is not None:  # the generation limit comes first
        assert len(sink.done) == runs and result.compute < budget
    else:  # the budget comes first
        assert len(sink.done) < generations and budget - 1 < result.compute <= budget + 1e-9


def test_the_log_numbers_generations_from_0_and_says_what_stops_the_search(caplog):
    caplog.set_level(logging.INFO, logger="galstm_torch.ga.search.loop")
    search(ga(generations=2, budget_epochs=None, rungs=[1.0], seeds=1), Generations()).run()
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "search ga: stops after 2 generations (ga.generations; no compute budget)"
    numbered = [line for line in lines if line.startswith("generation ")]
    assert [line.split(":")[0] for line in numbered] == ["generation 0 (1/2)",
                                                         "generation 1 (2/2)"]
    assert ", ETA " in numbered[0] and numbered[1].endswith(", search done")
    caplog.clear()
    search(ga(budget_epochs=7.0), Generations()).run()
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith("search ga: stops at 7 epochs of compute (ga.budget_epochs; "
                               "no generation limit): generation 0 alone costs up to about ")
    assert any(line.startswith("generation 0: best") for line in lines)


def test_the_start_line_estimates_which_limit_binds_from_the_schedule():
    # The command on the default preset, with the budget set as well: generation 0
    # alone costs 20/3 + 5 + 2 epochs (rung 0, the promoted quarter, racing to 3 seeds).
    config = to_config(compose_cfg("ga.pop_size=20", "ga.generations=40", "ga.budget_epochs=12"))
    plan = schedule(config)
    assert generation_cost(plan, 20) == pytest.approx(0.333 * 20 + 5 + 2)
    line = stopping_rule(config.ga, 12.0, plan)
    assert line == ("stops after 40 generations or at 12 epochs of compute, whichever comes "
                    "first (ga.generations, ga.budget_epochs): generation 0 alone costs up to "
                    "about 13.7 epochs, so the budget will likely stop it after about 1 generation")
    sink = Generations()
    search(config, sink).run()
    assert len(sink.done) == 1  # as estimated
    roomy = stopping_rule(config.ga, 1000.0, plan)
    assert roomy.endswith("so the generation limit will likely stop it first")
    assert likely_generations(12.0, 9.0, 8.3, 1 / 3) == 2  # the second one cut short
    assert likely_generations(12.0, 9.0, 8.3, 4.0) == 1  # what is left buys no screening
    assert likely_generations(30.0, 9.0, 7.0, 1.0) == 4


def test_the_eta_is_the_pace_so_far_times_the_compute_left():
    # 60 s bought 4 epochs (15 s an epoch); 2 of 10 generations spent 4 epochs: 8 left x 2.
    pace = dict(spent=4.0, generations_done=2)
    assert eta_seconds(60.0, 4.0, generations=10, budget=None, **pace) == 15 * 16
    assert eta_seconds(60.0, 4.0, generations=None, budget=12.0, **pace) == 15 * 8
    assert eta_seconds(60.0, 4.0, generations=10, budget=12.0, **pace) == 15 * 8  # the smaller
    assert eta_seconds(60.0, 4.0, generations=10, budget=100.0, **pace) == 15 * 16
    # a resumed run: this invocation's pace (30 s for 2 epochs), the whole run's compute
    assert eta_seconds(30.0, 2.0, spent=6.0, generations_done=3, generations=4,
                       budget=None) == 15 * 2
    assert eta_seconds(5.0, 0.0, generations=10, budget=None, **pace) is None  # nothing measured
    assert [format_duration(s) for s in (4.4, 312, 7500, 3 * 86400 + 4 * 3600)] == [
        "4s", "5m12s", "2h05m", "3d04h"]
    assert generation_label(0, 40) == "generation 0 (1/40)"
    assert generation_label(3, None) == "generation 3"


@pytest.mark.slow
def test_train_py_runs_the_generations_asked_for_on_the_default_preset(tmp_path: Path):
    proc = run_train(*TINY_DATA, "data.train_samples=300", "ga.pop_size=6", "ga.generations=4",
                     "trainer.num_threads=1", f"hydra.run.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr
    with (tmp_path / "generations.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["generation"]) for r in rows] == [0, 1, 2, 3]
    assert float(rows[-1]["compute/epochs"]) > 12  # past the preset's budget
    log = (tmp_path / "train.log").read_text()
    assert "stops after 4 generations (ga.generations; no compute budget)" in log
    assert "generation 0 (1/4): best" in log and "generation 3 (4/4): best" in log
    assert "ETA " in log and "search done" in log
    saved = OmegaConf.load(tmp_path / "checkpoint" / "config.yaml")
    assert (saved.ga.generations, saved.ga.budget_epochs) == (4, None)
