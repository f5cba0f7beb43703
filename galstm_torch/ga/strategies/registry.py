"""Every strategy by its ``ga.strategy`` name: the one list the config, the search and the
tests read (adding a strategy adds its line here)."""
from __future__ import annotations

from galstm_torch.errors import ConfigError
from galstm_torch.ga.strategies.base import Strategy
from galstm_torch.ga.strategies.ga import GA
from galstm_torch.ga.strategies.nsga2 import NSGA2
from galstm_torch.ga.strategies.optuna_nsga2 import OptunaNSGA2
from galstm_torch.ga.strategies.random_draw import RandomDraw
from galstm_torch.ga.strategies.tpe import TPE

REGISTRY: dict[str, Strategy] = {s.name: s for s in (GA(), NSGA2(), RandomDraw(), TPE(),
                                                      OptunaNSGA2())}
STRATEGIES = tuple(REGISTRY)


def strategy_of(name: str) -> Strategy:
    """The strategy ``ga.strategy=name`` asks for."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ConfigError(f"ga.strategy={name} is out of range: choose one of "
                          f"{', '.join(STRATEGIES)}") from None
