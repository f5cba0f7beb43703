"""An Optuna sweeper for Hydra, for Optuna 4 (hydra-optuna-sweeper 1.3 requires optuna<3).
(No `from __future__ import annotations`: Hydra imports plugins outside sys.modules, where
dataclasses cannot resolve string annotations.)

Search space: sweep overrides in Hydra's grammar, from ``hydra.sweeper.params`` and the
command line. ``choice(a,b,...)`` is categorical; ``range(start,stop[,step])`` is integers
from start to stop (exclusive, as Hydra's range); ``interval(lo,hi)`` is a float (Hydra
parses its ends as floats), log-scaled under ``tag(log, interval(lo,hi))``. Plain overrides are
fixed in every job. Jobs are launched ``n_jobs`` at a time by the configured launcher.

A failed job (its task function raised, and Hydra marked it FAILED, or it returned no finite
number) is told to Optuna as a failed trial; once more than ``max_failure_rate`` of the
sweep's ``n_trials`` have failed, the sweep stops with one line (after writing the results
so far).
``optimization_results.yaml`` in the sweep directory holds the best parameters and value.
Modelled on hydra-optuna-sweeper (MIT, Facebook), reduced to what this project uses.
"""

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, cast

from hydra.core.config_store import ConfigStore
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import IntervalSweep, Override, RangeSweep, Transformer
from hydra.core.plugins import Plugins
from hydra.core.utils import JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


@dataclass
class OptunaSweeperConf:
    _target_: str = "hydra_plugins.galstm_optuna_sweeper.optuna_sweeper.OptunaSweeper"
    direction: str = "maximize"    # maximize | minimize the task function's return value
    n_trials: int = 20
    n_jobs: int = 1                # trials launched together (one batch)
    max_failure_rate: float = 0.0  # share of a batch's jobs that may fail before the sweep stops
    seed: Optional[int] = 0        # the TPE sampler's seed (null: random)
    study_name: Optional[str] = None
    storage: Optional[str] = None  # e.g. sqlite:///optuna.db, to keep and continue a study
    params: dict[str, str] = field(default_factory=dict)


ConfigStore.instance().store(group="hydra/sweeper", name="galstm_optuna", node=OptunaSweeperConf,
                             provider="galstm_torch")


def distribution(override: Override) -> Any:
    """The Optuna distribution of a sweep override (None for a plain, fixed override)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if not override.is_sweep_override():
        return None
    value = override.value()
    if override.is_choice_sweep():
        choices = list(override.sweep_iterator(transformer=Transformer.encode))
        return CategoricalDistribution(choices)  # type: ignore[arg-type]  # scalars only
    if override.is_range_sweep():
        assert isinstance(value, RangeSweep) and value.start is not None and value.stop is not None
        if any(isinstance(v, float) for v in (value.start, value.stop, value.step)):
            raise ValueError(f"{override.input_line}: the Optuna sweeper takes integer ranges; "
                             "use interval(lo,hi) for floats")
        start, stop, step = int(value.start), int(value.stop), int(value.step or 1)
        if step < 1 or stop <= start:
            raise ValueError(f"{override.input_line}: a range needs start < stop and step >= 1")
        return IntDistribution(start, start + step * ((stop - start - 1) // step), step=step)
    if override.is_interval_sweep():
        assert isinstance(value, IntervalSweep) and value.start is not None and value.end is not None
        return FloatDistribution(float(value.start), float(value.end), log="log" in value.tags)
    raise ValueError(f"{override.input_line}: the Optuna sweeper takes choice, range or interval")


class OptunaSweeper(Sweeper):
    def __init__(self, direction: str, n_trials: int, n_jobs: int, max_failure_rate: float,
                 seed: Optional[int], study_name: Optional[str], storage: Optional[str],
                 params: Optional[DictConfig]) -> None:
        if direction not in ("maximize", "minimize"):
            raise ValueError(f"hydra.sweeper.direction={direction}: use maximize or minimize")
        self.direction, self.n_trials, self.n_jobs = direction, n_trials, max(1, n_jobs)
        self.max_failure_rate, self.seed = max_failure_rate, seed
        self.study_name, self.storage = study_name, storage
        self.params = {str(k): str(v) for k, v in (params or {}).items()}
        self.job_idx, self.failed = 0, 0

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config)

    def _space(self, arguments: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
        """(distributions, fixed overrides) from hydra.sweeper.params and the command line."""
        lines = [f"{k}={v}" for k, v in self.params.items()] + list(arguments)
        space, fixed = {}, {}
        for override in OverridesParser.create().parse_overrides(lines):
            d = distribution(override)
            if d is None:
                fixed[override.get_key_element()] = override.get_value_element_as_str()
            else:
                space[override.get_key_element()] = d
        return space, fixed

    def sweep(self, arguments: list[str]) -> None:
        import optuna

        space, fixed = self._space(arguments)
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
                self._save(study, required=False)
                raise RuntimeError(f"{self.failed} of the sweep's {self.n_trials} trials failed, "
                                   f"above hydra.sweeper.max_failure_rate="
                                   f"{self.max_failure_rate:g} of them: see the failed jobs' "
                                   "logs, or raise the rate")
        self._save(study)

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
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
                log.warning("trial %d failed: %s", trial.number, why)

    def _save(self, study: Any, required: bool = True) -> None:
        """optimization_results.yaml; with no completed trial, an error (or, when the sweep
        is stopping anyway, nothing)."""
        import optuna

        done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        assert self.config is not None, "setup() first"
        out = Path(self.config.hydra.sweep.dir)
        out.mkdir(parents=True, exist_ok=True)
        if not done:
            if not required:
                return
            raise RuntimeError("no trial of the Optuna sweep completed: see the jobs' logs")
        best = study.best_trial
        OmegaConf.save(OmegaConf.create({"name": "optuna", "direction": self.direction,
                                         "best_params": best.params, "best_value": best.value,
                                         "trials": len(study.trials), "completed": len(done)}),
                       out / "optimization_results.yaml")
        log.info("best value %s with %s", best.value, best.params)


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
