"""Every strategy by its ``ga.strategy`` name: the one list the config, the search and the
tests read. It is found, not written: every module of this package (its subpackages too) is
imported and each Strategy subclass with a ``name`` registered, so adding a strategy is
adding its module. The names are in alphabetical order."""
from __future__ import annotations

import importlib
import pkgutil

from galstm_torch.errors import ConfigError
from galstm_torch.ga import strategies
from galstm_torch.ga.strategies.base import Strategy


def _found() -> dict[str, Strategy]:
    for module in pkgutil.walk_packages(strategies.__path__, f"{strategies.__name__}."):
        importlib.import_module(module.name)
    classes, todo = [], list(Strategy.__subclasses__())
    while todo:  # a strategy may subclass another one
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.name and cls.__module__.startswith(f"{strategies.__name__}."):
            classes.append(cls)
    named: dict[str, Strategy] = {}
    for cls in sorted(classes, key=lambda c: c.name):
        if cls.name in named:
            raise TypeError(f"two strategies are named {cls.name}: {cls.__module__}, "
                            f"{type(named[cls.name]).__module__}")
        named[cls.name] = cls()
    return named


REGISTRY: dict[str, Strategy] = _found()
STRATEGIES = tuple(REGISTRY)


def strategy_of(name: str) -> Strategy:
    """The strategy ``ga.strategy=name`` asks for."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ConfigError(f"ga.strategy={name} is out of range: choose one of "
                          f"{', '.join(STRATEGIES)}") from None
