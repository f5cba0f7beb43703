"""Optuna's samplers as proposal rules, for comparing the GA against them through the same
evaluator, cache and compute budget: TPE (``ga.strategy=tpe``; with several objectives,
Optuna's multi-objective TPE) and NSGA-II (``ga.strategy=optuna_nsga2``).

Each generation rebuilds an in-memory study from every genome scored at the target fidelity
and asks it for a population, with a sampler seeded from (run seed, generation). The
proposals therefore depend only on the history and the generation, which keeps a resumed run
exact. For NSGA-II each trial is tagged with the generation in which the search first met
its genome, and the new asks with the generation being proposed, so that Optuna's parent
selection runs over the search's own generations (a generation with fewer distinct new
genomes than ``n`` is still a whole generation). Optuna is an optional extra:
``pip install -e ".[compare]"``.
"""
from __future__ import annotations

from typing import Sequence, TypeAlias

import torch

from galstm_torch.errors import ConfigError
from galstm_torch.ga.genome.encoding import SearchSpace, population_from_compact
from galstm_torch.training.architecture import slot_names


def _optuna():
    try:
        import optuna
    except ImportError:
        raise ConfigError('ga.strategy=tpe and optuna_nsga2 need Optuna: pip install -e '
                          '".[compare]"') from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _distributions(space: SearchSpace, compact: "tuple[int, ...]") -> dict:
    from optuna.distributions import IntDistribution

    n_lstm, n_dense = compact[0], compact[1]
    units = IntDistribution(space.min_units, space.max_units)
    d = {"n_lstm": IntDistribution(1, space.max_lstm_layers),
         "n_dense": IntDistribution(1, space.max_dense_layers)}
    d.update(dict.fromkeys(slot_names(n_lstm, n_dense), units))
    return d


def _params(compact: "tuple[int, ...]") -> dict[str, int]:
    n_lstm, n_dense = compact[0], compact[1]
    p = {"n_lstm": n_lstm, "n_dense": n_dense}
    p.update(zip(slot_names(n_lstm, n_dense), compact[2:]))
    return p


def _ask(study, space: SearchSpace) -> tuple[int, ...]:
    trial = study.ask()
    n_lstm = trial.suggest_int("n_lstm", 1, space.max_lstm_layers)
    n_dense = trial.suggest_int("n_dense", 1, space.max_dense_layers)
    units = [trial.suggest_int(name, space.min_units, space.max_units)
             for name in slot_names(n_lstm, n_dense)]
    return (n_lstm, n_dense, *units)


def _nsga2(optuna, n: int, seed: int, generation: int):
    """Optuna's NSGAIISampler whose new trials belong to ``generation``, whatever the size of
    the generations before it."""

    class Sampler(optuna.samplers.NSGAIISampler):
        def get_trial_generation(self, study, trial) -> int:
            key = self._get_generation_key()
            if key not in trial.system_attrs:
                study._storage.set_trial_system_attr(trial._trial_id, key, generation)
                return generation
            return trial.system_attrs[key]

    return Sampler(population_size=n, seed=seed % 2**32)


Entry: TypeAlias = "tuple[tuple[int, ...], float | tuple[float, ...], int]"


def propose(history: "Sequence[Entry]", n: int, space: SearchSpace, *, seed: int,
            sampler: str = "tpe", directions: "tuple[str, ...]" = ("maximize",),
            generation: int = 0) -> torch.Tensor:
    """n genomes for ``generation`` given (genome, value or values, generation met) triples;
    a population tensor. The n asks of one generation are pending together (TPE's constant
    liar keeps them apart)."""
    optuna = _optuna()
    chosen = _nsga2(optuna, n, seed, generation) if sampler == "nsga2" else \
        optuna.samplers.TPESampler(seed=seed % 2**32, constant_liar=True)
    study = optuna.create_study(directions=list(directions), sampler=chosen)
    key = chosen._get_generation_key() if sampler == "nsga2" else None
    for compact, value, met in history:
        values = list(value) if isinstance(value, tuple) else [value]
        study.add_trial(optuna.trial.create_trial(
            params=_params(compact), distributions=_distributions(space, compact), values=values,
            system_attrs={key: met} if key else None))
    return population_from_compact([list(_ask(study, space)) for _ in range(n)], space)
