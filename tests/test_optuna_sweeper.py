"""hparams_search=optuna: our Hydra sweeper asks Optuna 4 for each job's overrides; a failed
job is a failed trial; a setting that cannot apply, too many failures or no completed trial
end the sweep in one line; each GA preset has a search space it accepts."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import OmegaConf
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from galstm_torch.app import to_config
from galstm_torch.errors import ConfigError
from hydra_plugins.galstm_optuna_sweeper.optuna_sweeper import OptunaSweeper
from hydra_plugins.galstm_optuna_sweeper.space import check_settings, distribution, search_space

from conftest import ROOT, TINY, TINY_DATA, compose_cfg, run_train

SWEEP = ["hparams_search=optuna", "hydra.sweeper.n_trials=3", "ga.tournament_size=choice(2,9)",
         *TINY, "ga.pop_size=4", "ga.generations=1", "tensorboard.enabled=false"]
SWEEPER = yaml.safe_load((ROOT / "conf" / "hparams_search" / "optuna.yaml").read_text())
SPACES = SWEEPER["hydra"]["sweeper"]["spaces"]
PRESETS = sorted(p.stem for p in (ROOT / "conf" / "ga").glob("*.yaml"))


def _dist(line: str):
    return distribution(OverridesParser.create().parse_overrides([line])[0])


def test_sweep_overrides_become_optuna_distributions():
    assert _dist("a=choice(2,9)") == CategoricalDistribution([2, 9])
    assert _dist("a=range(2,5)") == IntDistribution(2, 4)  # Hydra's range excludes its stop
    assert _dist("a=range(0,10,3)") == IntDistribution(0, 9, step=3)  # 0, 3, 6, 9
    with pytest.raises(ConfigError, match="integer ranges"):
        _dist("a=range(0.5,2.5,0.5)")
    assert _dist("a=interval(0.1,0.5)") == FloatDistribution(0.1, 0.5)
    assert _dist("a=tag(log,interval(0.001,0.1))") == FloatDistribution(0.001, 0.1, log=True)
    assert _dist("a=interval(16,256)") == FloatDistribution(16.0, 256.0)  # Hydra: floats
    assert _dist("a=3") is None  # a plain override is fixed in every job


@pytest.mark.parametrize("line, says", [
    ("ga.mutation_rate=interval(0.5,0.1)", "an interval needs finite ends with lo < hi"),
    ("ga.mutation_rate=interval(0.2,0.2)", "an interval needs finite ends with lo < hi"),
    ("trainer.lr=tag(log,interval(0,0.1))", "a log interval needs lo > 0"),
    ("ga.pop_size=range(5,2)", "a range needs start < stop"),
])
def test_an_empty_or_impossible_range_is_refused_naming_it(line, says):
    with pytest.raises(ConfigError, match=f"^{re.escape(line)}: {says}"):
        _dist(line)


@pytest.mark.parametrize("settings, says", [
    ({"direction": "sideways"}, "hydra.sweeper.direction=sideways: choose one of maximize, minimize"),
    ({"n_trials": 0}, "hydra.sweeper.n_trials=0 is out of range: must be at least 1"),
    ({"n_jobs": 0}, "hydra.sweeper.n_jobs=0 is out of range: must be at least 1"),
    ({"max_failure_rate": 2.0}, r"hydra.sweeper.max_failure_rate=2 is out of range: must be in \[0, 1\]"),
    ({"max_failure_rate": -0.5}, r"hydra.sweeper.max_failure_rate=-0.5 is out of range"),
    ({"max_failure_rate": float("nan")}, r"hydra.sweeper.max_failure_rate=nan is out of range"),
])
def test_sweeper_settings_that_cannot_apply_are_refused(settings, says):
    with pytest.raises(ConfigError, match=says):
        check_settings(**{"direction": "maximize", "n_trials": 3, "n_jobs": 1,
                          "max_failure_rate": 0.25, **settings})


def test_a_pinned_key_leaves_the_space_and_an_empty_space_is_refused():
    preset = {"ga.tournament_size": "range(2, 5)", "ga.mutation_rate": "interval(0.01, 0.5)"}
    space, fixed = search_space(preset, {}, ["ga=nsga2", "ga.tournament_size=2"], "ga=nsga2")
    assert list(space) == ["ga.mutation_rate"] and fixed["ga.tournament_size"] == "2"
    space, fixed = search_space(preset, {"ga.mutation_rate": "0.1"}, ["ga.pop_size=choice(4,8)"], "ga=x")
    assert sorted(space) == ["ga.pop_size", "ga.tournament_size"] and fixed["ga.mutation_rate"] == "0.1"
    with pytest.raises(ConfigError, match="nothing to search: .* no space for ga=mine .* add one"):
        search_space({}, {}, ["ga=mine", "ga.pop_size=8"], "ga=mine")


def _ends(d: Any) -> list[Any]:
    if isinstance(d, CategoricalDistribution):
        return [d.choices[0], d.choices[-1]]
    return [d.low, d.high]


@pytest.mark.parametrize("preset", PRESETS)
def test_each_ga_preset_has_a_search_space_it_accepts(preset):
    """ga=nsga2 refused the single space's ga.tournament_size=range(2,5): each preset's space is
    valid at both ends of every range."""
    assert preset in SPACES, f"conf/hparams_search/optuna.yaml has no space for ga={preset}"
    space, _ = search_space(SPACES[preset], {}, [], f"ga={preset}")
    for end in (0, 1):
        values = [f"{key}={_ends(d)[end]}" for key, d in space.items()]
        to_config(compose_cfg(*TINY_DATA, f"ga={preset}", *values))  # no ConfigError


class _Launcher:
    """Hydra's launcher, without jobs: each job returns ``value`` (an exception: it failed)."""

    def __init__(self, value: Any) -> None:
        self.value, self.launched = value, 0

    def launch(self, batch: list, initial_job_idx: int) -> list[JobReturn]:
        self.launched += len(batch)
        failed = isinstance(self.value, Exception)
        return [JobReturn(status=JobStatus.FAILED if failed else JobStatus.COMPLETED,
                          _return_value=self.value) for _ in batch]


def _sweeper(tmp_path: Path, value: Any, **settings: Any) -> OptunaSweeper:
    options = {"direction": "maximize", "n_trials": 3, "n_jobs": 1, "max_failure_rate": 0.25,
               "seed": 0, "study_name": None, "storage": None, "params": None,
               "spaces": OmegaConf.create(SPACES), **settings}
    sweeper = OptunaSweeper(**options)
    sweeper.config = OmegaConf.create({"hydra": {"sweep": {"dir": str(tmp_path / "sweep")},
                                                 "runtime": {"choices": {"ga": "nsga2"}}}})
    sweeper.launcher = _Launcher(value)  # type: ignore[assignment]
    return sweeper


@pytest.mark.parametrize("settings, value, says", [
    ({"n_trials": 0}, 0.5, "hydra.sweeper.n_trials=0 is out of range"),
    ({"max_failure_rate": 2.0}, 0.5, "hydra.sweeper.max_failure_rate=2 is out of range"),
    ({"direction": "sideways"}, 0.5, "hydra.sweeper.direction=sideways"),
    ({"params": OmegaConf.create({"ga.mutation_rate": "interval(0.5,0.1)"})}, 0.5,
     r"ga.mutation_rate=interval\(0.5,0.1\): an interval needs"),
    ({}, ValueError("ga.pop_size=1 is out of range"),
     "1 of the sweep's 3 trials failed, above hydra.sweeper.max_failure_rate=0.25 of them "
     r"\(the first: trial 0: ga.pop_size=1 is out of range\): fix what the failed jobs report"),
    ({"max_failure_rate": 1.0}, ValueError("ga.pop_size=1 is out of range"),
     r"none of the sweep's 3 trials completed \(the first: trial 0: ga.pop_size=1 is out of "
     r"range\): fix what the failed jobs report"),
])
def test_a_sweep_that_cannot_run_or_fails_ends_in_one_line(tmp_path, capsys, settings, value, says):
    sweeper = _sweeper(tmp_path, value, **settings)
    with pytest.raises(SystemExit) as stop:
        sweeper.sweep([])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1 and err.startswith("error: "), err
    assert re.search(says, err), err
    if not isinstance(value, Exception):  # refused before any trial: nothing launched or written
        assert sweeper.launcher.launched == 0 and not (tmp_path / "sweep").exists()


def test_the_sweep_searches_the_chosen_presets_space(tmp_path):
    sweeper = _sweeper(tmp_path, 0.5, n_trials=2)
    sweeper.sweep(["ga=nsga2"])
    results = yaml.safe_load((tmp_path / "sweep" / "optimization_results.yaml").read_text())
    assert sorted(results["best_params"]) == sorted(SPACES["nsga2"])  # no tournament_size
    assert (results["trials"], results["completed"]) == (2, 2)


@pytest.mark.slow  # launches train.py
@pytest.mark.parametrize("override, says", [
    ("hydra.sweeper.direction=sideways", "error: hydra.sweeper.direction=sideways: choose one"),
    ("ga.mutation_rate=interval(0.5,0.1)", "error: ga.mutation_rate=interval(0.5,0.1): an interval"),
])
def test_a_refused_sweep_is_one_line_and_writes_nothing(tmp_path, override, says):
    """Hydra wraps an error in the sweeper's constructor in 4 lines, and a traceback elsewhere."""
    proc = run_train("hparams_search=optuna", override, f"hydra.sweep.dir={tmp_path / 'sweep'}",
                     *TINY)
    assert proc.returncode == 2 and proc.stderr.splitlines() == [proc.stderr.strip()], proc.stderr
    assert proc.stderr.startswith(says) and not (tmp_path / "sweep").exists()


@pytest.mark.slow  # launches train.py
def test_a_sweep_whose_trials_all_fail_ends_in_one_line_after_theirs(tmp_path):
    proc = run_train(*SWEEP[:2], "ga.tournament_size=9", *SWEEP[3:],
                     "hydra.sweeper.max_failure_rate=1.0", f"hydra.sweep.dir={tmp_path}")
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, proc.stderr
    assert lines[:-1] == ["error: ga.tournament_size=9 is out of range: must be in [1, pop_size] "
                          "= [1, 4]"] * 3  # each failed job's own line
    assert lines[-1].startswith("error: none of the sweep's 3 trials completed")


@pytest.mark.slow
def test_a_failed_trial_is_told_to_optuna_and_the_others_finish(tmp_path):
    proc = run_train(*SWEEP, "hydra.sweeper.max_failure_rate=1.0", f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert (results["trials"], results["completed"]) == (3, 2)
    assert results["best_params"]["ga.tournament_size"] == 2
    finished = [d for d in tmp_path.iterdir() if (d / "best.json").exists()]
    assert len(finished) == 2 and "ga.tournament_size=9 is out of range" in proc.stderr


@pytest.mark.slow
def test_more_failures_than_allowed_stop_the_sweep_in_one_line(tmp_path):
    proc = run_train(*SWEEP, "hydra.sweeper.max_failure_rate=0.0", f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode == 2
    last = proc.stderr.splitlines()[-1]
    assert "above hydra.sweeper.max_failure_rate=0 of them" in last and "Traceback" not in proc.stderr
    results = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert results["completed"] >= 1  # the results so far are kept


@pytest.mark.slow
def test_ga_nsga2_sweeps_out_of_the_box(tmp_path):
    proc = run_train("hparams_search=optuna", "hydra.sweeper.n_trials=1", "ga=nsga2", *TINY_DATA,
                     "ga.pop_size=4", "ga.generations=1", "ga.guide=0", "tensorboard.enabled=false",
                     f"hydra.sweep.dir={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert results["completed"] == 1 and "ga.tournament_size" not in results["best_params"]
