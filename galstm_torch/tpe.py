"""Optuna's TPE sampler as a proposal rule, for comparing the GA against a model-based search
through the same evaluator, cache and compute budget (``ga.strategy=tpe``).

Each generation rebuilds an in-memory study from every genome scored at the target fidelity
and asks it for a population, with a sampler seeded from (run seed, generation). The
proposals therefore depend only on the history and the generation, which keeps a resumed run
exact. Optuna is an optional extra: ``pip install -e ".[compare]"``.
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


def propose(history: list[tuple[tuple[int, ...], float]], n: int, space: SearchSpace, *,
            seed: int) -> torch.Tensor:
    """n genomes from TPE given (genome, fitness) pairs; a population tensor. The n asks of
    one generation are pending together, so the constant liar keeps them apart."""
    optuna = _optuna()
    sampler = optuna.samplers.TPESampler(seed=seed % 2**32, constant_liar=True)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    for compact, fitness in history:
        study.add_trial(optuna.trial.create_trial(
            params=_params(compact), distributions=_distributions(space, compact), value=fitness))
    return population_from_compact([list(_ask(study, space)) for _ in range(n)], space)
