"""GA operators as pure, batched functions on the population tensor.

Each takes the population (and fitness) as tensors, draws only from the explicit
``torch.Generator`` it is given (on the population's device), returns a new tensor and never
modifies its input. No operator loops over individuals in Python.
"""
from __future__ import annotations

from enum import Enum

import torch

from galstm_torch.ga.genome.encoding import (
    N_DENSE,
    N_LSTM,
    SearchSpace,
    active_mask,
    columns_of,
    random_genes,
    unit_mask,
)


class Selection(str, Enum):
    ROULETTE = "roulette"
    TOURNAMENT = "tournament"
    RANK = "rank"


SELECTIONS = tuple(Selection)


_RESOLUTION = 1 << 24  # probabilities are applied in steps of 2**-24


def _chance(shape: tuple[int, ...], p: float, generator: torch.Generator,
            device: torch.device) -> torch.Tensor:
    """Boolean tensor, each entry True with probability p (to 2**-24). Integer draws are
    several times cheaper than float uniforms on CPU, and GA operators draw millions."""
    draws = torch.randint(0, _RESOLUTION, shape, generator=generator, device=device, dtype=torch.int32)
    return draws < round(p * _RESOLUTION)


def roulette_select(population: torch.Tensor, fitness: torch.Tensor, *, n: int,
                    generator: torch.Generator) -> torch.Tensor:
    """Fitness-proportional sampling with replacement (negative fitness counts as 0).

    n independent spins of the wheel, returned in wheel order: the uniforms are drawn already
    sorted (normalised cumulative sums of exponentials), so the wheel lookup and the row
    gather walk memory in order. The multiset of parents has exactly the distribution of n
    independent spins; only the row order differs, and no later operator depends on it.
    """
    weights = fitness.clamp(min=0).to(torch.float64)
    if not bool((weights > 0).any()):  # all-zero fitness: every genome equally likely
        weights = torch.ones_like(weights)
    wheel = weights.cumsum(0)
    # Exponential gaps as -log(uniform): cheaper than exponential_() on CPU.
    gaps = torch.rand(n + 1, dtype=torch.float64, device=fitness.device, generator=generator)
    spins = gaps.log_().neg_().cumsum(0)
    spins = spins[:-1] * (wheel[-1] / spins[-1])  # n sorted uniforms on [0, total)
    idx = torch.searchsorted(wheel, spins, right=True).clamp_(max=len(wheel) - 1)
    return population.index_select(0, idx)


def rank_select(population: torch.Tensor, fitness: torch.Tensor, *, n: int,
                generator: torch.Generator) -> torch.Tensor:
    """Linear ranking: the worst genome has weight 1, the best weight pop_size."""
    ranks = torch.empty_like(fitness, dtype=torch.float64)
    ranks[fitness.argsort(stable=True)] = torch.arange(
        1, len(fitness) + 1, dtype=torch.float64, device=fitness.device)
    idx = torch.multinomial(ranks, n, replacement=True, generator=generator)
    return population.index_select(0, idx)


def tournament_select(population: torch.Tensor, fitness: torch.Tensor, *, n: int,
                      tournament_size: int, generator: torch.Generator) -> torch.Tensor:
    """n tournaments of tournament_size contestants drawn with replacement; the fittest wins."""
    contestants = torch.randint(0, len(population), (n, tournament_size),
                                generator=generator, device=population.device)
    winners = fitness[contestants].argmax(dim=1)
    return population[contestants.gather(1, winners.unsqueeze(1)).squeeze(1)]


def elite_indices(fitness: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the k fittest genomes, best first (ties keep the earlier row)."""
    return fitness.argsort(descending=True, stable=True)[:k]


def crossover(population: torch.Tensor, space: SearchSpace, *, crossover_rate: float,
              generator: torch.Generator) -> torch.Tensor:
    """The article's crossover, batched.

    With probability crossover_rate each genome takes a random partner from the population;
    it then takes each unit gene from the partner with probability 0.5, but only where the
    gene is active in both. Layer-count genes are never crossed.
    """
    n, device = population.shape[0], population.device
    partners = torch.randint(0, n, (n,), generator=generator, device=device)
    partner_rows = population.index_select(0, partners)
    crossing = _chance((n, 1), crossover_rate, generator, device)
    coin = _chance(tuple(population.shape), 0.5, generator, device)
    both_active = active_mask(population, space) & active_mask(partner_rows, space)
    swap = crossing & coin & both_active
    return torch.where(swap, partner_rows, population)


def mutate_units(population: torch.Tensor, space: SearchSpace, *, mutation_rate: float,
                 generator: torch.Generator, step: float = 0.0) -> torch.Tensor:
    """Mutate each active gene (units, and the training genes of space=extended) with
    probability mutation_rate: redraw it uniformly within its bounds (step 0, the article's
    rule), or move it by a Gaussian step of sd step * (its high - its low bound), rounded and
    clipped to its bounds (a local move)."""
    device = population.device
    hit = _chance(tuple(population.shape), mutation_rate, generator, device) & active_mask(population, space)
    where = hit.nonzero(as_tuple=True)  # ~mutation_rate of the genes: draw only those
    out = population.clone()
    if step > 0:
        low, high = space.bounds(device)
        low, high = low[where[1]], high[where[1]]
        moves = torch.randn(len(where[0]), generator=generator, device=device, dtype=torch.float64)
        moved = out[where].to(torch.float64) + (moves * step * (high - low)).round()
        out[where] = torch.minimum(torch.maximum(moved, low), high).to(out.dtype)
    else:
        out[where] = random_genes(where[1], space, generator=generator).to(out.dtype)
    return out


def mutate_layers(population: torch.Tensor, space: SearchSpace, *, layer_mutation_rate: float,
                  generator: torch.Generator) -> torch.Tensor:
    """Move each layer count by +-1 with probability layer_mutation_rate, keeping genomes valid.

    A count at a bound moves inward instead (a space with a single allowed count never
    changes). A gene that becomes active is drawn within its bounds; one that becomes inactive
    is zeroed.
    """
    if layer_mutation_rate == 0:  # the article's setting: nothing to draw
        return population.clone()
    n, device = population.shape[0], population.device
    counts = population[:, [N_LSTM, N_DENSE]]
    upper = torch.tensor([space.max_lstm_layers, space.max_dense_layers], device=device)
    hit = _chance((n, 2), layer_mutation_rate, generator, device)
    step = torch.where(_chance((n, 2), 0.5, generator, device), -1, 1)
    step = torch.where(counts + step < 1, 1, step)
    step = torch.where(counts + step > upper, -1, step)
    new_counts = torch.where(hit & (upper > 1), counts + step, counts)
    out = population.clone()
    out[:, [N_LSTM, N_DENSE]] = new_counts.to(out.dtype)
    old_active, new_active = active_mask(population, space), active_mask(out, space)
    fresh = random_genes(columns_of(tuple(out.shape), device), space, generator=generator).to(out.dtype)
    out = torch.where(new_active & ~old_active, fresh, out)
    return out.masked_fill(~new_active & unit_mask(space, device), 0)


def select(population: torch.Tensor, fitness: torch.Tensor, *, method: str, n: int,
           tournament_size: int, generator: torch.Generator) -> torch.Tensor:
    """Dispatch to one of SELECTIONS."""
    if method == "roulette":
        return roulette_select(population, fitness, n=n, generator=generator)
    if method == "rank":
        return rank_select(population, fitness, n=n, generator=generator)
    if method == "tournament":
        return tournament_select(population, fitness, n=n, tournament_size=tournament_size,
                                 generator=generator)
    raise ValueError(f"unknown selection {method!r}; choose one of {', '.join(SELECTIONS)}")


def next_generation(population: torch.Tensor, fitness: torch.Tensor, space: SearchSpace, *,
                    selection: str, elitism: int, crossover_rate: float, mutation_rate: float,
                    layer_mutation_rate: float, tournament_size: int,
                    generator: torch.Generator, mutation_step: float = 0.0) -> torch.Tensor:
    """One GA step: elites first, unchanged; then select -> crossover -> mutate for the rest."""
    # Genes fit in int16 (units <= 32767; training genes are small): a quarter of int64's
    # memory traffic per operator.
    small = space.max_units <= torch.iinfo(torch.int16).max and population.dtype == torch.long
    original, population = population, population.to(torch.int16) if small else population
    n_children = population.shape[0] - elitism
    elites = population[elite_indices(fitness, elitism)] if elitism else population[:0]
    parents = select(population, fitness, method=selection, n=n_children,
                     tournament_size=tournament_size, generator=generator)
    children = crossover(parents, space, crossover_rate=crossover_rate, generator=generator)
    children = mutate_units(children, space, mutation_rate=mutation_rate, generator=generator,
                            step=mutation_step)
    children = mutate_layers(children, space, layer_mutation_rate=layer_mutation_rate,
                             generator=generator)
    return torch.cat([elites, children.to(population.dtype)]).to(original.dtype)
