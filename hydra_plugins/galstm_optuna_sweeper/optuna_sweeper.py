"""An Optuna sweeper for Hydra, for Optuna 4 (hydra-optuna-sweeper 1.3 requires optuna<3).
(No `from __future__ import annotations`: Hydra imports plugins outside sys.modules, where
dataclasses cannot resolve string annotations.)

Search space (space.py): the chosen GA preset's space from ``hydra.sweeper.spaces``, then
``hydra.sweeper.params``, then sweep overrides on the command line, in Hydra's grammar.
``choice(a,b,...)`` is categorical; ``range(start,stop[,step])`` is integers from start to
stop (exclusive, as Hydra's range); ``interval(lo,hi)`` is a float (Hydra parses its ends as
floats), log-scaled under ``tag(log, interval(lo,hi))``. Plain overrides are fixed in every
job. Jobs are launched ``n_jobs`` at a time by the configured launcher.

A failed job (its task function raised, and Hydra marked it FAILED, or it returned no finite
number) is told to Optuna as a failed trial. The sweep ends with exit code 2 and one line on
stderr, naming the setting and the fix, when a setting or the space cannot apply (before any
trial), when more than ``max_failure_rate`` of the sweep's ``n_trials`` have failed (after
writing the results so far), or when no trial completed; otherwise with 0.
``optimization_results.yaml`` in the sweep directory holds the best parameters and value.
Modelled on hydra-optuna-sweeper (MIT, Facebook), reduced to what this project uses.
"""

import logging
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, cast

from hydra.core.config_store import ConfigStore
from hydra.core.plugins import Plugins
from hydra.core.utils import JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from galstm_torch.errors import GalstmError

# relative: mypy names this package without its namespace, hydra_plugins
from .space import check_settings, search_space

log = logging.getLogger(__name__)


@dataclass
class OptunaSweeperConf:
    _target_: str = "hydra_plugins.galstm_optuna_sweeper.optuna_sweeper.OptunaSweeper"
    direction: str = "maximize"    # maximize | minimize the task function's return value
    n_trials: int = 20
    n_jobs: int = 1                # trials launched together (one batch)
    max_failure_rate: float = 0.0  # share of the n_trials that may fail before the sweep stops
    seed: Optional[int] = 0        # the TPE sampler's seed (null: random)
    study_name: Optional[str] = None
    storage: Optional[str] = None  # e.g. sqlite:///optuna.db, to keep and continue a study
    params: dict[str, str] = field(default_factory=dict)  # added to the preset's space
    # the search space of each choice of the config group space_group (each GA preset)
    spaces: dict[str, dict[str, str]] = field(default_factory=dict)
    space_group: str = "ga"


ConfigStore.instance().store(group="hydra/sweeper", name="galstm_optuna", node=OptunaSweeperConf,
                             provider="galstm_torch")


def _strs(mapping: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (mapping or {}).items()}


class OptunaSweeper(Sweeper):
    def __init__(self, direction: str, n_trials: int, n_jobs: int, max_failure_rate: float,
                 seed: Optional[int], study_name: Optional[str], storage: Optional[str],
                 params: Optional[DictConfig], spaces: Optional[DictConfig] = None,
                 space_group: str = "ga") -> None:
        # checked in sweep(), where a refusal is one line (here Hydra would wrap it in four)
        self.direction, self.n_trials, self.n_jobs = direction, n_trials, n_jobs
        self.max_failure_rate, self.seed = max_failure_rate, seed
        self.study_name, self.storage = study_name, storage
        self.params = _strs(params)
        self.spaces = {str(k): _strs(v) for k, v in (spaces or {}).items()}
        self.space_group = space_group
        self.job_idx, self.failed, self.first_failure = 0, 0, ""

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config)

    def _space(self, arguments: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
        """(distributions, fixed overrides): the chosen preset's space, hydra.sweeper.params
        and the command line (space.py)."""
        assert self.config is not None, "setup() first"
        choices = OmegaConf.select(self.config, "hydra.runtime.choices", default=None) or {}
        choice = choices.get(self.space_group)
        return search_space(self.spaces.get(str(choice), {}), self.params, arguments,
                            f"{self.space_group}={choice}")

    def sweep(self, arguments: list[str]) -> None:
        """Run the sweep; a setting that cannot apply, or a sweep that failed, ends it with
        one line on stderr and exit code 2."""
        try:
            self._sweep(arguments)
        except GalstmError as err:
            print(f"error: {err}", file=sys.stderr, flush=True)
            sys.exit(2)

    def _sweep(self, arguments: list[str]) -> None:
        import optuna

        check_settings(self.direction, self.n_trials, self.n_jobs, self.max_failure_rate)
        space, fixed = self._space(arguments)
        # Optuna's messages join the sweep's log (stdout), so stderr holds only errors
        optuna.logging.disable_default_handler()
        optuna.logging.enable_propagation()
        study = optuna.create_study(study_name=self.study_name, storage=self.storage,
                                    direction=cast(Any, self.direction), load_if_exists=True,
                                    # parallel asks: count running trials as worst, so a
                                    # batch does not cluster on one point
                                    sampler=optuna.samplers.TPESampler(
                                        seed=self.seed, constant_liar=self.n_jobs > 1))
        log.info("Optuna sweep: %d trials, %d at a time, %s", self.n_trials, self.n_jobs,
                 ", ".join(f"{k} ~ {v}" for k, v in space.items()))
        left = self.n_trials
        while left > 0:
            trials = [study.ask(fixed_distributions=space) for _ in range(min(left, self.n_jobs))]
            self._run_batch(study, trials, fixed)
            left -= len(trials)
            if self.failed > self.max_failure_rate * self.n_trials:
                self._save(study)
                raise GalstmError(f"{self.failed} of the sweep's {self.n_trials} trials failed, "
                                  f"above hydra.sweeper.max_failure_rate="
                                  f"{self.max_failure_rate:g} of them (the first: "
                                  f"{self.first_failure}): fix what the failed jobs report, "
                                  "or raise the rate")
        if not self._save(study):
            raise GalstmError(f"none of the sweep's {self.n_trials} trials completed (the "
                              f"first: {self.first_failure}): fix what the failed jobs report")

    def _run_batch(self, study: Any, trials: list, fixed: dict[str, str]) -> None:
        """Launch one batch of trials and tell Optuna each outcome."""
        import optuna

        batch = [tuple(f"{k}={v}" for k, v in {**t.params, **fixed}.items()) for t in trials]
        assert self.launcher is not None, "setup() first"
        returns = self.launcher.launch(batch, initial_job_idx=self.job_idx)
        self.job_idx += len(returns)
        for trial, ret in zip(trials, returns):
            value, why = _value(ret)
            if value is not None:
                study.tell(trial, value)
            else:
                self.failed += 1
                self.first_failure = self.first_failure or f"trial {trial.number}: {why}"
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                log.warning("trial %d failed: %s", trial.number, why)

    def _save(self, study: Any) -> bool:
        """optimization_results.yaml, if a trial completed; whether one did."""
        import optuna

        done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if not done:
            return False
        assert self.config is not None, "setup() first"
        out = Path(self.config.hydra.sweep.dir)
        out.mkdir(parents=True, exist_ok=True)
        best = study.best_trial
        OmegaConf.save(OmegaConf.create({"name": "optuna", "direction": self.direction,
                                         "best_params": best.params, "best_value": best.value,
                                         "trials": len(study.trials), "completed": len(done)}),
                       out / "optimization_results.yaml")
        log.info("best value %s with %s", best.value, best.params)
        return True


def _value(ret: Any) -> tuple[Optional[float], str]:
    """A job's value to tell Optuna, or (None, why the trial failed)."""
    if ret.status != JobStatus.COMPLETED:
        return None, _first_line(ret._return_value)
    try:
        value = float(ret.return_value)
    except (TypeError, ValueError):
        return None, f"the task returned {ret.return_value!r}, not a number"
    if not math.isfinite(value):
        return None, f"the task returned {value}"
    return value, ""


def _first_line(err: Any) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
