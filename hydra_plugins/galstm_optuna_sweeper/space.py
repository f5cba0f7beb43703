"""The Optuna sweeper's settings and search space, checked before any trial: a setting or a
sweep override that cannot apply is a ``ConfigError`` in one line naming it and the fix.

A sweep's space is, in order (a later line for the same key wins): the space of the chosen GA
preset (``hydra.sweeper.spaces.<ga preset>``), ``hydra.sweeper.params``, then the command
line. A sweep override (``choice``, ``range``, ``interval``) searches that key; a plain
override pins it in every job and takes it out of the space (``ga.tournament_size=2`` with a
preset whose space sweeps it).
(No `from __future__ import annotations`: see optuna_sweeper.py.)
"""

import math
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import IntervalSweep, Override, RangeSweep, Transformer

from galstm_torch.errors import ConfigError

DIRECTIONS = ("maximize", "minimize")


def check_settings(direction: str, n_trials: int, n_jobs: int, max_failure_rate: float) -> None:
    """Refuse a sweeper setting that cannot apply, naming it and its allowed values."""
    if direction not in DIRECTIONS:
        raise ConfigError(f"hydra.sweeper.direction={direction}: choose one of "
                          f"{', '.join(DIRECTIONS)} (the value each trial returns)")
    if n_trials < 1:
        raise ConfigError(f"hydra.sweeper.n_trials={n_trials} is out of range: must be at least "
                          "1 (each trial is one search)")
    if n_jobs < 1:
        raise ConfigError(f"hydra.sweeper.n_jobs={n_jobs} is out of range: must be at least 1 "
                          "(the trials launched together)")
    if not (math.isfinite(max_failure_rate) and 0.0 <= max_failure_rate <= 1.0):
        raise ConfigError(f"hydra.sweeper.max_failure_rate={max_failure_rate:g} is out of "
                          "range: must be in [0, 1] (the share of the n_trials that may fail)")


def _range(override: Override, value: RangeSweep) -> Any:
    from optuna.distributions import IntDistribution

    assert value.start is not None and value.stop is not None
    if any(isinstance(v, float) for v in (value.start, value.stop, value.step)):
        raise ConfigError(f"{override.input_line}: the Optuna sweeper takes integer ranges; "
                          "use interval(lo,hi) for floats")
    start, stop, step = int(value.start), int(value.stop), int(value.step or 1)
    if step < 1 or stop <= start:
        raise ConfigError(f"{override.input_line}: a range needs start < stop and step >= 1, "
                          "e.g. range(2,5) for 2, 3 and 4")
    return IntDistribution(start, start + step * ((stop - start - 1) // step), step=step)


def _interval(override: Override, value: IntervalSweep) -> Any:
    from optuna.distributions import FloatDistribution

    assert value.start is not None and value.end is not None
    lo, hi, log = float(value.start), float(value.end), "log" in value.tags
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ConfigError(f"{override.input_line}: an interval needs finite ends with lo < hi, "
                          "e.g. interval(0.1,0.5) (for one value, write the value)")
    if log and lo <= 0:
        raise ConfigError(f"{override.input_line}: a log interval needs lo > 0, e.g. "
                          "tag(log, interval(0.001,0.1))")
    return FloatDistribution(lo, hi, log=log)


def distribution(override: Override) -> Any:
    """The Optuna distribution of a sweep override (None for a plain, fixed override)."""
    from optuna.distributions import CategoricalDistribution

    if not override.is_sweep_override():
        return None
    value = override.value()
    if override.is_choice_sweep():
        choices = list(override.sweep_iterator(transformer=Transformer.encode))
        try:
            return CategoricalDistribution(choices)  # type: ignore[arg-type]  # scalars only
        except ValueError as err:  # e.g. choice() or a list among the choices
            raise ConfigError(f"{override.input_line}: {err} (choice takes numbers, strings, "
                              "booleans or null)") from None
    if override.is_range_sweep():
        assert isinstance(value, RangeSweep)
        return _range(override, value)
    if override.is_interval_sweep():
        assert isinstance(value, IntervalSweep)
        return _interval(override, value)
    raise ConfigError(f"{override.input_line}: the Optuna sweeper takes choice, range or interval")


def _parse(lines: list[str]) -> list[Override]:
    try:
        return OverridesParser.create().parse_overrides(lines)
    except Exception as err:  # noqa: BLE001 - Hydra's parse errors: one line
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"the Optuna sweep's search space: {first}") from None


def search_space(preset: dict[str, str], params: dict[str, str], arguments: list[str],
                 choice: str) -> tuple[dict[str, Any], dict[str, str]]:
    """(distributions, fixed overrides): the preset's space, then hydra.sweeper.params, then
    the command line, a later override of a key replacing an earlier one. ``choice`` names
    the preset (``ga=nsga2``), for the message when there is nothing to search."""
    lines = [f"{k}={v}" for k, v in {**preset, **params}.items()] + list(arguments)
    space: dict[str, Any] = {}
    fixed: dict[str, str] = {}
    for override in _parse(lines):
        key, d = override.get_key_element(), distribution(override)
        space.pop(key, None)
        fixed.pop(key, None)
        if d is None:
            fixed[key] = override.get_value_element_as_str()
        else:
            space[key] = d
    if not space:
        raise ConfigError(f"the Optuna sweep has nothing to search: hydra.sweeper.spaces has no "
                          f"space for {choice} and no sweep override was given; add one, e.g. "
                          "ga.mutation_rate=interval(0.01,0.5)")
    return space, fixed
