"""GA operators as pure, batched functions on the population tensor.

Each takes the population (and fitness) as tensors, draws only from the explicit
``torch.Generator`` it is given (on the population's device), returns a new tensor and never
modifies its input. No operator loops over individuals in Python.
"""
from __future__ import annotations

import torch

from .genome import N_DENSE, N_LSTM, SearchSpace, active_mask, random_units, unit_mask

SELECTIONS = ("roulette", "tournament", "rank")


def _rand(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(shape, generator=generator, device=device)


def roulette_select(population: torch.Tensor, fitness: torch.Tensor, *, n: int,
                    generator: torch.Generator) -> torch.Tensor:
    """Fitness-proportional sampling with replacement (negative fitness counts as 0)."""
    weights = fitness.clamp(min=0).to(torch.float64)
    if not bool((weights > 0).any()):  # all-zero fitness: every genome equally likely
        weights = torch.ones_like(weights)
    idx = torch.multinomial(weights, n, replacement=True, generator=generator)
    return population[idx]


def rank_select(population: torch.Tensor, fitness: torch.Tensor, *, n: int,
                generator: torch.Generator) -> torch.Tensor:
    """Linear ranking: the worst genome has weight 1, the best weight pop_size."""
    ranks = torch.empty_like(fitness, dtype=torch.float64)
    ranks[fitness.argsort(stable=True)] = torch.arange(
        1, len(fitness) + 1, dtype=torch.float64, device=fitness.device)
    idx = torch.multinomial(ranks, n, replacement=True, generator=generator)
    return population[idx]


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
    partner_rows = population[partners]
    crossing = _rand((n, 1), generator, device) < crossover_rate
    coin = _rand(tuple(population.shape), generator, device) < 0.5
    both_active = active_mask(population, space) & active_mask(partner_rows, space)
    swap = crossing & coin & both_active
    return torch.where(swap, partner_rows, population)


def mutate_units(population: torch.Tensor, space: SearchSpace, *, mutation_rate: float,
                 generator: torch.Generator) -> torch.Tensor:
    """Redraw each active unit gene uniformly in [min_units, max_units] with probability mutation_rate."""
    device = population.device
    hit = _rand(tuple(population.shape), generator, device) < mutation_rate
    fresh = random_units(tuple(population.shape), space, generator=generator, device=device)
    return torch.where(hit & active_mask(population, space), fresh, population)


def mutate_layers(population: torch.Tensor, space: SearchSpace, *, layer_mutation_rate: float,
                  generator: torch.Generator) -> torch.Tensor:
    """Move each layer count by +-1 with probability layer_mutation_rate, keeping genomes valid.

    A count at a bound moves inward instead (a space with a single allowed count never
    changes). A slot that becomes active gets random units; one that becomes inactive is zeroed.
    """
    n, device = population.shape[0], population.device
    counts = population[:, [N_LSTM, N_DENSE]]
    upper = torch.tensor([space.max_lstm_layers, space.max_dense_layers], device=device)
    hit = _rand((n, 2), generator, device) < layer_mutation_rate
    step = torch.where(_rand((n, 2), generator, device) < 0.5, -1, 1)
    step = torch.where(counts + step < 1, 1, step)
    step = torch.where(counts + step > upper, -1, step)
    new_counts = torch.where(hit & (upper > 1), counts + step, counts)
    out = population.clone()
    out[:, [N_LSTM, N_DENSE]] = new_counts
    old_active, new_active = active_mask(population, space), active_mask(out, space)
    fresh = random_units(tuple(out.shape), space, generator=generator, device=device)
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
                    generator: torch.Generator) -> torch.Tensor:
    """One GA step: elites first, unchanged; then select -> crossover -> mutate for the rest."""
    n_children = population.shape[0] - elitism
    elites = population[elite_indices(fitness, elitism)]
    parents = select(population, fitness, method=selection, n=n_children,
                     tournament_size=tournament_size, generator=generator)
    children = crossover(parents, space, crossover_rate=crossover_rate, generator=generator)
    children = mutate_units(children, space, mutation_rate=mutation_rate, generator=generator)
    children = mutate_layers(children, space, layer_mutation_rate=layer_mutation_rate,
                             generator=generator)
    return torch.cat([elites, children])
