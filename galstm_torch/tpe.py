"""Optuna's samplers as proposal rules, for comparing the GA against them through the same
evaluator, cache and compute budget: TPE (``ga.strategy=tpe``; with several objectives,
Optuna's multi-objective TPE) and NSGA-II (``ga.strategy=optuna_nsga2``).

Each generation rebuilds an in-memory study from every genome scored at the target fidelity
and asks it for a population, with a sampler seeded from (run seed, generation). The
proposals therefore depend only on the history and the generation, which keeps a resumed run
exact. For NSGA-II the history is cut into generations of ``n`` trials in the order the
search met them, as Optuna's own loop would have tagged them, so that its parent selection
runs over the same generations. Optuna is an optional extra: ``pip install -e ".[compare]"``.
"""
from __future__ import annotations

import torch

from .errors import ConfigError
from .genome import SearchSpace, population_from_compact


def _optuna():
    try:
        import optuna
    except ImportError:
        raise ConfigError('ga.strategy=tpe needs Optuna: pip install -e ".[compare]"') from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _distributions(space: SearchSpace, compact: "tuple[int, ...]") -> dict:
    from optuna.distributions import IntDistribution

    n_lstm, n_dense = compact[0], compact[1]
    units = IntDistribution(space.min_units, space.max_units)
    d = {"n_lstm": IntDistribution(1, space.max_lstm_layers),
         "n_dense": IntDistribution(1, space.max_dense_layers)}
    d.update({f"lstm_{i + 1}": units for i in range(n_lstm)})
    d.update({f"dense_{i + 1}": units for i in range(n_dense)})
    return d


def _params(compact: "tuple[int, ...]") -> dict[str, int]:
    n_lstm, n_dense = compact[0], compact[1]
    p = {"n_lstm": n_lstm, "n_dense": n_dense}
    p.update({f"lstm_{i + 1}": u for i, u in enumerate(compact[2 : 2 + n_lstm])})
    p.update({f"dense_{i + 1}": u for i, u in enumerate(compact[2 + n_lstm :])})
    return p


def _ask(study, space: SearchSpace) -> tuple[int, ...]:
    trial = study.ask()
    n_lstm = trial.suggest_int("n_lstm", 1, space.max_lstm_layers)
    n_dense = trial.suggest_int("n_dense", 1, space.max_dense_layers)
    lstm = [trial.suggest_int(f"lstm_{i + 1}", space.min_units, space.max_units)
            for i in range(n_lstm)]
    dense = [trial.suggest_int(f"dense_{i + 1}", space.min_units, space.max_units)
             for i in range(n_dense)]
    return (n_lstm, n_dense, *lstm, *dense)


def _sampler(optuna, name: str, n: int, seed: int):
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(population_size=n, seed=seed % 2**32)
    return optuna.samplers.TPESampler(seed=seed % 2**32, constant_liar=True)


def propose(history: "list[tuple[tuple[int, ...], float | tuple[float, ...]]]", n: int,
            space: SearchSpace, *, seed: int, sampler: str = "tpe",
            directions: "tuple[str, ...]" = ("maximize",)) -> torch.Tensor:
    """n genomes given (genome, value or values) pairs; a population tensor. The n asks of
    one generation are pending together (TPE's constant liar keeps them apart)."""
    optuna = _optuna()
    study = optuna.create_study(directions=list(directions),
                                sampler=_sampler(optuna, sampler, n, seed))
    key = "NSGAIISampler:generation"  # the system attribute Optuna's GA samplers read
    for i, (compact, value) in enumerate(history):
        values = list(value) if isinstance(value, tuple) else [value]
        study.add_trial(optuna.trial.create_trial(
            params=_params(compact), distributions=_distributions(space, compact), values=values,
            system_attrs={key: i // n} if sampler == "nsga2" else None))
    return population_from_compact([list(_ask(study, space)) for _ in range(n)], space)
