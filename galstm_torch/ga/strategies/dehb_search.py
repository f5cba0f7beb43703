"""DEHB (``ga.strategy=dehb``): differential evolution inside Hyperband's brackets (Awad et
al. 2021, the ``dehb`` package), through the same evaluator, cache and budget as every other
strategy. DEHB is an optional extra: ``pip install -e ".[dehb]"``.

DEHB picks the fidelity of each job itself, so it owns fidelity (base.py): ga.rungs are its
Hyperband ladder (geometric with ratio eta = 1/ga.promote, up to 1.0), each genome trains
once, at the rung DEHB chose, and the loop promotes nothing on top of DEHB's own promotions.

Exact resume: generation g is DEHB's g-th batch of ga.pop_size asks. To find it, DEHB is
rebuilt with the run's seed and the generations before g are replayed as the loop ran them:
each batch asked with all its jobs pending together (as ga.pop_size parallel workers would
hold them), then each job told its score from the cache (fitness = -accuracy, since DEHB
minimises, a failed training's included; cost = its rung in epochs). A job the cache does
not know (the budget cut its generation short) stays pending, as a lost worker's would. So
a generation depends on the cache and the run's seed alone.

dehb 0.1.1 reconfigures loguru's handlers when imported (to stdout, INFO); the instances
built here log nothing and write nothing outside a temporary folder.
"""
from __future__ import annotations

import functools
import importlib.util
import math
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch

from galstm_torch.errors import ConfigError, GalstmError
from galstm_torch.ga.fidelity.rungs import Schedule
from galstm_torch.ga.genome.encoding import SearchSpace, gene_bounds, population_from_compact
from galstm_torch.ga.strategies.base import Context, Strategy
from galstm_torch.training.architecture import Architecture
from galstm_torch.training.runtime import derive_seed

INSTALL_HINT = "ga.strategy=dehb needs DEHB, which is not installed: pip install -e .[dehb]"
LADDER_TOLERANCE = 0.01  # rungs are written to three decimals: 0.111, 0.333, 1.0


class DEHBSearch(Strategy):
    name = "dehb"
    owns_fidelity = True

    def check(self, cfg: Any) -> None:
        super().check(cfg)
        ga = cfg.ga
        objectives = list(ga.objectives)
        if len(objectives) > 1:
            raise ConfigError(f"ga.strategy=dehb searches one objective, and ga.objectives="
                              f"[{','.join(objectives)}] has {len(objectives)}: use "
                              "ga.strategy=nsga2 or optuna_nsga2")
        if ga.seeds != 1:
            raise ConfigError(f"ga.seeds={ga.seeds}: ga.strategy=dehb trains each genome once, "
                              "at the rung it picks: set ga.seeds=1")
        if not is_ladder(list(ga.rungs), ga.promote):
            raise ConfigError(f"ga.rungs=[{','.join(f'{r:g}' for r in ga.rungs)}] with "
                              f"ga.promote={ga.promote:g} is not a Hyperband ladder: ga.strategy="
                              "dehb needs two rungs or more up to 1.0, each 1/ga.promote (an "
                              "integer) times the one before, e.g. ga.rungs=[0.111,0.333,1.0] "
                              "ga.promote=0.333")
        if importlib.util.find_spec("dehb") is None:
            raise ConfigError(INSTALL_HINT)

    def least_budget(self, ga: Any, epochs: int) -> float:
        """Generation 0 (its brackets' first rungs), then the first bracket's promotions up
        to the target: no genome reaches it sooner (more may be spent before it does)."""
        fids = [r * epochs for r in ga.rungs]
        top, eta = len(fids) - 1, round(1 / ga.promote)
        first = sum(fids[rung] for rung in first_rungs(top, eta, ga.pop_size))
        climbs = _bracket_sizes(top, eta, top)[1:]
        return first + sum(n * fids[i + 1] for i, n in enumerate(climbs))

    def generation_cost(self, schedule: Schedule, newcomers: int, *, first: bool) -> float:
        """Generation 0 asks the brackets' first rungs, one bracket after another, all
        pending; later ones mix the brackets' rungs, on average DEHB's mean cost per job
        over one round of its brackets."""
        fids, eta = schedule.fidelities, round(1 / schedule.promote)
        if first:
            return sum(fids[rung] for rung in first_rungs(len(fids) - 1, eta, newcomers))
        return newcomers * hyperband_mean(fids, eta)

    def initial(self, ctx: Context) -> torch.Tensor:
        return population_from_compact([list(g) for g in batch(ctx, 0)[0]], ctx.space)

    def propose(self, ctx: Context, population: torch.Tensor, generation: int) -> torch.Tensor:
        genomes, _ = batch(ctx, generation + 1)
        return population_from_compact([list(g) for g in genomes], ctx.space)

    def fidelities(self, ctx: Context, population: torch.Tensor, generation: int) -> list[float]:
        genomes, fidelities = batch(ctx, generation)
        if not torch.equal(population_from_compact([list(g) for g in genomes], ctx.space),
                           population.cpu()):
            raise GalstmError(f"generation {generation} is not the batch DEHB asks for it (the "
                              "run's cache or seed changed): start a new run")
        return fidelities


def is_ladder(rungs: list[float], promote: float) -> bool:
    """Whether ``rungs`` are a Hyperband ladder up to 1.0 whose ratio is 1/``promote``, an
    integer of at least 2."""
    eta = round(1 / promote)
    if len(rungs) < 2 or eta < 2 or abs(1 / promote / eta - 1) > LADDER_TOLERANCE:
        return False
    return abs(rungs[-1] - 1) <= 1e-9 and all(
        abs(high / low / eta - 1) <= LADDER_TOLERANCE for low, high in zip(rungs, rungs[1:]))


def batch(ctx: Context, generation: int) -> tuple[list[tuple[int, ...]], list[float]]:
    """Generation ``generation``'s genomes and the rung (epochs) of each: DEHB's asks once the
    generations before it are replayed from the cache."""
    rungs = ctx.schedule.fidelities
    with _optimizer(ctx) as dehb:
        for _ in range(generation):
            for job in [dehb.ask() for _ in range(ctx.ga.pop_size)]:
                fidelity = _rung(job, rungs)
                outcome = ctx.evaluator.cached(
                    Architecture.from_compact(genome(job["config"], ctx.space)), fidelity)
                if outcome is not None:
                    dehb.tell(job, {"fitness": -outcome.evaluation.fitness, "cost": fidelity})
        jobs = [dehb.ask() for _ in range(ctx.ga.pop_size)]
    return [genome(job["config"], ctx.space) for job in jobs], [_rung(job, rungs) for job in jobs]


def genome(config: Any, space: SearchSpace) -> tuple[int, ...]:
    """The compact genome of a DEHB configuration (the genes beyond the layer counts are
    ignored, and the LSTM dropout of a single LSTM layer is 0)."""
    n_lstm, n_dense = int(config["n_lstm"]), int(config["n_dense"])
    return (n_lstm, n_dense, *(min(max(int(config[name]), low), high) for name, (low, high)
                               in gene_bounds(space, n_lstm, n_dense).items()))


def search_space(space: SearchSpace, seed: int) -> Any:
    """The genome as a ConfigSpace: the two layer counts and one integer per gene of the
    widest genome (units slots, and in space=extended the training genes)."""
    from ConfigSpace import ConfigurationSpace

    def between(low: int, high: int) -> "tuple[int, int] | int":
        return (low, high) if high > low else low  # one value: a constant

    widest = gene_bounds(space, space.max_lstm_layers, space.max_dense_layers)
    hyperparameters: dict[str, Any] = {"n_lstm": between(1, space.max_lstm_layers),
                                       "n_dense": between(1, space.max_dense_layers)}
    hyperparameters.update({name: between(*b) for name, b in widest.items()})
    return ConfigurationSpace(seed=seed, space=hyperparameters)


def _rung(job: dict, rungs: Sequence[float]) -> float:
    """Our rung nearest DEHB's fidelity for ``job`` (its ladder is ours, to the tolerance)."""
    return min(rungs, key=lambda r: abs(math.log(r / float(job["fidelity"]))))


@contextmanager
def _optimizer(ctx: Context) -> Iterator[Any]:
    """A fresh DEHB over the run's ladder, seeded from the run's seed."""
    rungs, eta = ctx.schedule.fidelities, round(1 / ctx.schedule.promote)
    seed = derive_seed(ctx.run_seed, "dehb") % 2**32
    with tempfile.TemporaryDirectory(prefix="galstm-dehb-") as folder, \
            warnings.catch_warnings():
        # dehb 0.1.1 calls names ConfigSpace 1.x deprecates
        warnings.simplefilter("ignore", DeprecationWarning)
        # Just below the lowest rung, so that DEHB's ladder has exactly our rungs' count.
        lowest = rungs[-1] * eta ** (1 - len(rungs)) * (1 - 1e-9)
        yield _dehb_class()(cs=search_space(ctx.space, seed), min_fidelity=lowest,
                            max_fidelity=rungs[-1], eta=eta, n_workers=1, seed=seed,
                            output_path=folder, save_freq=None)


class _Silent:
    """A logger that drops every line."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


@functools.lru_cache(maxsize=1)
def _dehb_class() -> Any:
    try:
        from dehb import DEHB
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None

    class Quiet(DEHB):
        def _setup_logger(self, kwargs: dict) -> None:
            # 0.1.1 adds a loguru file sink, with its thread, per instance and never removes
            # it: one per generation would pile up.
            self.output_path = Path(kwargs["output_path"])
            self.logger = _Silent()
            self.log_filename = ""

    return Quiet


def _bracket_sizes(top: int, eta: int, s: int) -> list[int]:
    """Genomes at each rung of bracket s, which starts s rungs below the top (dehb 0.1.1's
    get_next_iteration)."""
    n = (top + 1) // (s + 1) * eta ** s
    return [max(int(n * eta ** -i), 1) for i in range(s + 1)]


def first_rungs(top: int, eta: int, jobs: int) -> list[int]:
    """The rung of each of the first ``jobs`` asks, all pending: each bracket's first rung,
    bracket after bracket (s = top, top - 1, ..., 0, then again)."""
    rungs: list[int] = []
    s = top
    while len(rungs) < jobs:
        rungs += [top - s] * _bracket_sizes(top, eta, s)[0]
        s = s - 1 if s > 0 else top
    return rungs[:jobs]


def hyperband_mean(fidelities: Sequence[float], eta: int) -> float:
    """Mean compute (epochs) per job over one round of DEHB's brackets on this ladder."""
    top = len(fidelities) - 1
    jobs = cost = 0.0
    for s in range(top, -1, -1):
        for i, kept in enumerate(_bracket_sizes(top, eta, s)):
            jobs += kept
            cost += kept * fidelities[top - s + i]
    return cost / jobs
