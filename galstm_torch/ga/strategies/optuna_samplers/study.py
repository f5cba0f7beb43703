"""Optuna's samplers as strategies (tpe.py, nsga2.py), for comparing the GA against
them through the same evaluator, cache and compute budget.

Each generation rebuilds an in-memory study from every genome scored at the target fidelity
and asks it for a population, with a sampler seeded from (run seed, generation). The
proposals therefore depend only on the history and the generation, which keeps a resumed run
exact. Optuna is an optional extra: ``pip install -e ".[compare]"``.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence, TypeAlias

import torch

from galstm_torch.errors import ConfigError
from galstm_torch.ga.genome.encoding import SearchSpace, gene_bounds, population_from_compact
from galstm_torch.ga.guide.history import target_history
from galstm_torch.ga.pareto.objectives import MINIMISED
from galstm_torch.ga.strategies.base import Context
from galstm_torch.training.runtime import derive_seed

# (optuna, population size, seed, the generation being proposed) -> an Optuna sampler
SamplerFactory: TypeAlias = Callable[[Any, int, int, int], Any]
Entry: TypeAlias = "tuple[tuple[int, ...], float | tuple[float, ...], int]"


def optuna_module() -> Any:
    try:
        import optuna
    except ImportError:
        raise ConfigError('ga.strategy=tpe and optuna_nsga2 need Optuna: pip install -e '
                          '".[compare]"') from None
    return optuna


@contextmanager
def quiet(optuna: Any) -> Iterator[None]:
    """Optuna logs every trial added at INFO: silenced while a study is built, then set back,
    so the process's own Optuna studies (a sweep's) keep their level."""
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


def check_one_fidelity(cfg: Any) -> None:
    ga = cfg.ga
    if len(ga.rungs) > 1 or ga.seeds > 1:
        raise ConfigError(f"ga.strategy={ga.strategy} runs at the target fidelity with one seed: "
                          "set ga.rungs=[1.0] ga.seeds=1")


def _distributions(space: SearchSpace, compact: "tuple[int, ...]") -> dict:
    from optuna.distributions import IntDistribution

    n_lstm, n_dense = compact[0], compact[1]
    d = {"n_lstm": IntDistribution(1, space.max_lstm_layers),
         "n_dense": IntDistribution(1, space.max_dense_layers)}
    d.update({name: IntDistribution(low, high)
              for name, (low, high) in gene_bounds(space, n_lstm, n_dense).items()})
    return d


def _params(compact: "tuple[int, ...]", space: SearchSpace) -> dict[str, int]:
    n_lstm, n_dense = compact[0], compact[1]
    p = {"n_lstm": n_lstm, "n_dense": n_dense}
    p.update(zip(gene_bounds(space, n_lstm, n_dense), compact[2:]))
    return p


def _ask(study: Any, space: SearchSpace) -> tuple[int, ...]:
    trial = study.ask()
    n_lstm = trial.suggest_int("n_lstm", 1, space.max_lstm_layers)
    n_dense = trial.suggest_int("n_dense", 1, space.max_dense_layers)
    genes = [trial.suggest_int(name, low, high)
             for name, (low, high) in gene_bounds(space, n_lstm, n_dense).items()]
    return (n_lstm, n_dense, *genes)


def propose(history: "Sequence[Entry]", n: int, space: SearchSpace, *, seed: int,
            sampler: SamplerFactory, directions: "tuple[str, ...]" = ("maximize",),
            generation: int = 0) -> torch.Tensor:
    """n genomes for ``generation`` given (genome, value or values, generation met) triples;
    a population tensor. The n asks of one generation are pending together (TPE's constant
    liar keeps them apart)."""
    optuna = optuna_module()
    with quiet(optuna):
        chosen = sampler(optuna, n, seed, generation)
        study = optuna.create_study(directions=list(directions), sampler=chosen)
        # A generational sampler (NSGA-II) tags each trial with the generation it belongs to.
        key = chosen._get_generation_key() \
            if isinstance(chosen, optuna.samplers.NSGAIISampler) else None
        for compact, value, met in history:
            values = list(value) if isinstance(value, tuple) else [value]
            study.add_trial(optuna.trial.create_trial(
                params=_params(compact, space), distributions=_distributions(space, compact),
                values=values, system_attrs={key: met} if key else None))
        return population_from_compact([list(_ask(study, space)) for _ in range(n)], space)


def propose_for(ctx: Context, generation: int, sampler: SamplerFactory) -> torch.Tensor:
    """The population of generation ``generation`` + 1 asked of ``sampler``'s study of every
    genome scored at the target fidelity (with several objectives, every measured point)."""
    seed = derive_seed(ctx.run_seed, f"{ctx.ga.strategy}:{generation + 1}")
    if not ctx.goals.multi:
        history = [(c, f, ctx.met[c]) for c, f in
                   target_history(ctx.evaluator, ctx.seen, ctx.schedule)]
        return propose(history, ctx.ga.pop_size, ctx.space, seed=seed, sampler=sampler,
                       generation=generation + 1)
    points = ctx.goals.measured(ctx.evaluator, ctx.seen, ctx.schedule)
    directions = tuple("minimize" if n in MINIMISED else "maximize" for n in ctx.goals.names)
    values = [(p.arch.compact, tuple(p.values()[n] for n in ctx.goals.names),
               ctx.met[p.arch.compact]) for p in points]
    return propose(values, ctx.ga.pop_size, ctx.space, seed=seed, sampler=sampler,
                   directions=directions, generation=generation + 1)
