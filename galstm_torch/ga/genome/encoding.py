"""The genome encoding: a population is one masked integer tensor.

Row layout, with L = max_lstm_layers and D = max_dense_layers:
``[n_lstm, n_dense, lstm_1 .. lstm_L, dense_1 .. dense_D]``. A unit slot beyond its layer
count holds 0. The mask of active genes is always derived from the two count columns, so it
can never disagree with them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from galstm_torch.training.architecture import Architecture, format_compact

N_LSTM, N_DENSE = 0, 1  # columns of the two layer-count genes


@dataclass(frozen=True)
class SearchSpace:
    """Bounds of the search: layer counts in [1, max] and units in [min_units, max_units]."""

    max_lstm_layers: int = 3
    max_dense_layers: int = 3
    min_units: int = 32
    max_units: int = 256

    @classmethod
    def of(cls, model: Any) -> "SearchSpace":
        """The search space a model config (``cfg.model``) bounds."""
        return cls(model.max_lstm_layers, model.max_dense_layers, model.min_units,
                   model.max_units)

    def __post_init__(self) -> None:
        if self.max_lstm_layers < 1 or self.max_dense_layers < 1:
            raise ValueError("max_lstm_layers and max_dense_layers must be at least 1")
        if not 1 <= self.min_units <= self.max_units:
            raise ValueError("units bounds need 1 <= min_units <= max_units")

    @property
    def n_genes(self) -> int:
        return 2 + self.max_lstm_layers + self.max_dense_layers

    @property
    def lstm_slots(self) -> slice:
        return slice(2, 2 + self.max_lstm_layers)

    @property
    def dense_slots(self) -> slice:
        return slice(2 + self.max_lstm_layers, self.n_genes)


def active_mask(population: torch.Tensor, space: SearchSpace) -> torch.Tensor:
    """Boolean mask of the unit genes in use; the two count columns are False."""
    device = population.device
    lstm_pos = torch.arange(space.max_lstm_layers, device=device)
    dense_pos = torch.arange(space.max_dense_layers, device=device)
    lstm = lstm_pos < population[:, N_LSTM : N_LSTM + 1]
    dense = dense_pos < population[:, N_DENSE : N_DENSE + 1]
    counts = torch.zeros(population.shape[0], 2, dtype=torch.bool, device=device)
    return torch.cat([counts, lstm, dense], dim=1)


def unit_mask(space: SearchSpace, device: "torch.device | str | None" = None) -> torch.Tensor:
    """Boolean row mask of the unit columns (every column but the two counts)."""
    mask = torch.ones(space.n_genes, dtype=torch.bool, device=device)
    mask[:2] = False
    return mask


def random_units(shape: tuple[int, ...], space: SearchSpace, *, generator: torch.Generator,
                 device: "torch.device | str | None" = None) -> torch.Tensor:
    return torch.randint(space.min_units, space.max_units + 1, shape, generator=generator,
                         device=device, dtype=torch.long)


def random_population(pop_size: int, space: SearchSpace, *, generator: torch.Generator,
                      device: "torch.device | str | None" = None) -> torch.Tensor:
    """Layer counts uniform in [1, max], active units uniform in [min_units, max_units]."""
    pop = random_units((pop_size, space.n_genes), space, generator=generator, device=device)
    pop[:, N_LSTM] = torch.randint(1, space.max_lstm_layers + 1, (pop_size,),
                                   generator=generator, device=device)
    pop[:, N_DENSE] = torch.randint(1, space.max_dense_layers + 1, (pop_size,),
                                    generator=generator, device=device)
    return pop.masked_fill(~active_mask(pop, space) & unit_mask(space, pop.device), 0)


def invalid_rows(population: torch.Tensor, space: SearchSpace) -> torch.Tensor:
    """Boolean per row: counts out of bounds, active units out of bounds, or inactive slots != 0."""
    if population.dim() != 2 or population.shape[1] != space.n_genes:
        raise ValueError(f"population must have shape [pop_size, {space.n_genes}], "
                         f"got {tuple(population.shape)}")
    n_lstm, n_dense = population[:, N_LSTM], population[:, N_DENSE]
    bad = (n_lstm < 1) | (n_lstm > space.max_lstm_layers)
    bad |= (n_dense < 1) | (n_dense > space.max_dense_layers)
    active = active_mask(population, space)
    units_ok = (population >= space.min_units) & (population <= space.max_units)
    bad |= (active & ~units_ok).any(dim=1)
    inactive_units = ~active & unit_mask(space, population.device)
    bad |= (inactive_units & (population != 0)).any(dim=1)
    return bad


def check_population(population: torch.Tensor, space: SearchSpace) -> None:
    """Raise ValueError naming the first invalid genome, if any."""
    bad = invalid_rows(population, space)
    if bool(bad.any()):
        i = int(bad.nonzero()[0, 0])
        raise ValueError(f"invalid genome at row {i}: {population[i].tolist()} "
                         f"(layer counts in [1, max], active units in "
                         f"[{space.min_units}, {space.max_units}], inactive slots 0)")


def to_compact(row: torch.Tensor, space: SearchSpace) -> tuple[int, ...]:
    """The article's compact form of one genome row."""
    values = row.tolist()
    n_lstm, n_dense = values[N_LSTM], values[N_DENSE]
    lstm = values[space.lstm_slots][:n_lstm]
    dense = values[space.dense_slots][:n_dense]
    return (n_lstm, n_dense, *lstm, *dense)


def from_compact(compact: "list[int] | tuple[int, ...]", space: SearchSpace) -> torch.Tensor:
    """One genome row from its compact form; raises ValueError if it is outside the space."""
    arch = Architecture.from_compact(compact)
    n_lstm, n_dense = len(arch.lstm_units), len(arch.dense_units)
    if n_lstm > space.max_lstm_layers or n_dense > space.max_dense_layers:
        raise ValueError(f"genome {format_compact(compact)} has more layers than the space allows "
                         f"({space.max_lstm_layers} LSTM, {space.max_dense_layers} dense)")
    row = torch.zeros(space.n_genes, dtype=torch.long)
    row[N_LSTM], row[N_DENSE] = n_lstm, n_dense
    row[space.lstm_slots.start : space.lstm_slots.start + n_lstm] = torch.tensor(arch.lstm_units)
    row[space.dense_slots.start : space.dense_slots.start + n_dense] = torch.tensor(arch.dense_units)
    check_population(row.unsqueeze(0), space)
    return row


def decode(row: torch.Tensor, space: SearchSpace) -> Architecture:
    return Architecture.from_compact(to_compact(row, space))


def population_from_compact(genomes: "list[list[int]]", space: SearchSpace) -> torch.Tensor:
    return torch.stack([from_compact(g, space) for g in genomes])
