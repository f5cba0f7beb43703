"""hparams_search=optuna: our Hydra sweeper asks Optuna 4 for each job's overrides; a failed
job is a failed trial, and too many failures stop the sweep in one line."""
from __future__ import annotations

import pytest
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from hydra_plugins.galstm_optuna_sweeper.optuna_sweeper import distribution

from conftest import TINY, run_train

SWEEP = ["hparams_search=optuna", "hydra.sweeper.n_trials=3", "ga.tournament_size=choice(2,9)",
         *TINY, "ga.pop_size=4", "ga.generations=1", "tensorboard.enabled=false"]


def _dist(line: str):
    return distribution(OverridesParser.create().parse_overrides([line])[0])


def test_sweep_overrides_become_optuna_distributions():
    assert _dist("a=choice(2,9)") == CategoricalDistribution([2, 9])
    assert _dist("a=range(2,5)") == IntDistribution(2, 4)  # Hydra's range excludes its stop
    assert _dist("a=range(0,10,3)") == IntDistribution(0, 9, step=3)  # 0, 3, 6, 9
    with pytest.raises(ValueError, match="integer ranges"):
        _dist("a=range(0.5,2.5,0.5)")
    assert _dist("a=interval(0.1,0.5)") == FloatDistribution(0.1, 0.5)
    assert _dist("a=tag(log,interval(0.001,0.1))") == FloatDistribution(0.001, 0.1, log=True)
    assert _dist("a=interval(16,256)") == FloatDistribution(16.0, 256.0)  # Hydra: floats
    assert _dist("a=3") is None  # a plain override is fixed in every job


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
    assert proc.returncode != 0
    assert "above hydra.sweeper.max_failure_rate=0 of them" in proc.stderr
    results = yaml.safe_load((tmp_path / "optimization_results.yaml").read_text())
    assert results["completed"] >= 1  # the results so far are kept
