"""Checks of the objectives (``ga.objectives``, ``ga.reference``, ``ga.latency_batch``): a
setting that cannot apply to a Pareto search is refused with the fix, never ignored."""
from __future__ import annotations

import math
from typing import Any

from galstm_torch.config.bounds import check
from galstm_torch.config.capabilities import check_latency
from galstm_torch.errors import ConfigError
from galstm_torch.ga.pareto.objectives import OBJECTIVES


def _objective_list(ga: Any) -> list[str]:
    names = list(ga.objectives)
    for name in names:
        check(name in OBJECTIVES, "ga.objectives", names,
              f"each must be one of {', '.join(OBJECTIVES)}")
    check(len(set(names)) == len(names), "ga.objectives", names, "must not repeat an objective")
    check(bool(names) and names[0] == "accuracy", "ga.objectives", names,
          "must start with accuracy, e.g. [accuracy,params] or [accuracy,params,latency]")
    return names


def _reference(ga: Any, names: list[str]) -> None:
    ref = ga.reference.stated()
    for key, value in ref.items():
        check(key in names, f"ga.reference.{key}", value,
              f"names an objective this search does not have ({', '.join(names)})")
        check(math.isfinite(value), f"ga.reference.{key}", value, "must be a finite number")
    if "accuracy" in ref:
        check(0 <= ref["accuracy"] < 1, "ga.reference.accuracy", ref["accuracy"], "must be in [0, 1)")
    for key in ("params", "latency"):
        if key in ref:
            check(ref[key] > 0, f"ga.reference.{key}", ref[key], "must be > 0")
    if "latency" in names and "latency" not in ref:
        raise ConfigError("ga.objectives has latency: state the hypervolume's reference latency "
                          "in seconds per sample, e.g. ga.reference.latency=0.002")


GUIDE_PICKS = ("crowding", "improvement", "ucb")


def _single(ga: Any) -> None:
    """Pareto settings a single-objective search cannot apply."""
    if ga.guide_pick != "crowding":
        raise ConfigError(f"ga.guide_pick={ga.guide_pick} picks a Pareto search's children: add "
                          "an objective (ga=nsga2), or drop it")
    if ga.reference.stated():
        raise ConfigError(f"ga.reference={ga.reference.stated()} is the hypervolume's reference "
                          "point of a Pareto search: add an objective (ga=nsga2), or drop it")


def validate_goals(ga: Any, trainer: Any, executor: str) -> None:
    """One line naming the first setting a search with these objectives cannot apply."""
    names = _objective_list(ga)
    _reference(ga, names)
    check(ga.latency_batch >= 1, "ga.latency_batch", ga.latency_batch, "must be >= 1")
    check(ga.guide_pick in GUIDE_PICKS, "ga.guide_pick", ga.guide_pick,
          f"choose one of {', '.join(GUIDE_PICKS)}")
    if ga.latency_batch != 1 and "latency" not in names:
        raise ConfigError(f"ga.latency_batch={ga.latency_batch} sets how latency is measured, "
                          "but latency is not in ga.objectives: add it, or drop the setting")
    if len(names) == 1:
        return _single(ga)
    if "latency" in names:
        check_latency(executor)
    if ga.seeds > 1:
        raise ConfigError(f"ga.seeds={ga.seeds} races one leader, and a Pareto search has a "
                          "front of them: set ga.seeds=1")
