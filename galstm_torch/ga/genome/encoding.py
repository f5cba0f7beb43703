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

from galstm_torch.training.architecture import (
    TENTHS,
    Architecture,
    format_compact,
    gene_names,
    slot_names,
)

N_LSTM, N_DENSE = 0, 1  # columns of the two layer-count genes


@dataclass(frozen=True)
class SearchSpace:
    """Bounds of the search: layer counts in [1, max] and units in [min_units, max_units]; with
    ``genes`` (space=extended) also the training genes, each within its own bounds: the
    learning-rate step in [min_lr_step, max_lr_step] (trainer.lr * 10 ** (step / 4)), the
    dropout between LSTM layers in [0, max_lstm_dropout] tenths (used from 2 LSTM layers on),
    each dense block's dropout in [0, max_dropout] tenths and its BatchNorm in [0, 1]."""

    max_lstm_layers: int = 3
    max_dense_layers: int = 3
    min_units: int = 32
    max_units: int = 256
    genes: bool = False
    min_lr_step: int = -4
    max_lr_step: int = 4
    max_dropout: int = 5
    max_lstm_dropout: int = 5

    @classmethod
    def of(cls, model: Any, space: Any = None) -> "SearchSpace":
        """The search space a model config (``cfg.model``) and a space config (``cfg.space``;
        None: the article's) bound."""
        units = (model.max_lstm_layers, model.max_dense_layers, model.min_units, model.max_units)
        if space is None or space.name != "extended":
            return cls(*units)
        return cls(*units, genes=True, min_lr_step=space.min_lr_step,
                   max_lr_step=space.max_lr_step, max_dropout=round(space.max_dropout * TENTHS),
                   max_lstm_dropout=round(space.max_lstm_dropout * TENTHS))

    def __post_init__(self) -> None:
        if self.max_lstm_layers < 1 or self.max_dense_layers < 1:
            raise ValueError("max_lstm_layers and max_dense_layers must be at least 1")
        if not 1 <= self.min_units <= self.max_units:
            raise ValueError("units bounds need 1 <= min_units <= max_units")
        if self.min_lr_step > self.max_lr_step:
            raise ValueError("the learning-rate steps need min_lr_step <= max_lr_step")
        if not (0 <= self.max_dropout < TENTHS and 0 <= self.max_lstm_dropout < TENTHS):
            raise ValueError("dropout bounds count tenths in [0, 9]")

    @property
    def n_genes(self) -> int:
        base = 2 + self.max_lstm_layers + self.max_dense_layers
        return base + 2 + 2 * self.max_dense_layers if self.genes else base

    @property
    def lstm_slots(self) -> slice:
        return slice(2, 2 + self.max_lstm_layers)

    @property
    def dense_slots(self) -> slice:
        return slice(2 + self.max_lstm_layers, 2 + self.max_lstm_layers + self.max_dense_layers)

    @property
    def lr_column(self) -> int:
        return self.dense_slots.stop  # then lstm_dropout, then the per-block genes

    @property
    def dropout_slots(self) -> slice:
        return slice(self.lr_column + 2, self.lr_column + 2 + self.max_dense_layers)

    @property
    def batchnorm_slots(self) -> slice:
        return slice(self.dropout_slots.stop, self.dropout_slots.stop + self.max_dense_layers)

    @property
    def column_names(self) -> list[str]:
        """Each column's name in tables: n_lstm, n_dense, the unit slots, the training genes."""
        genes = gene_names(self.max_dense_layers) if self.genes else []
        return ["n_lstm", "n_dense", *slot_names(self.max_lstm_layers, self.max_dense_layers),
                *genes]

    def bounds(self, device: "torch.device | str | None" = None
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Each column's lowest and highest value while it is active (int64 [n_genes])."""
        low = torch.full((self.n_genes,), self.min_units, dtype=torch.long)
        high = torch.full((self.n_genes,), self.max_units, dtype=torch.long)
        low[:2], high[:2] = 1, torch.tensor([self.max_lstm_layers, self.max_dense_layers])
        if self.genes:
            c, d, b = self.lr_column, self.dropout_slots, self.batchnorm_slots
            low[c], high[c] = self.min_lr_step, self.max_lr_step
            low[c + 1:] = 0  # the LSTM dropout, each block's dropout and BatchNorm
            high[c + 1], high[d], high[b] = self.max_lstm_dropout, self.max_dropout, 1
        return low.to(device), high.to(device)


def gene_bounds(space: SearchSpace, n_lstm: int, n_dense: int) -> dict[str, tuple[int, int]]:
    """Each named gene of a genome with these layer counts, in compact order after the two
    counts, with its bounds: the units slots, then in space=extended the training genes (the
    LSTM dropout of a single LSTM layer acts on nothing: its bounds are (0, 0)). Samplers
    that name their parameters (Optuna, DEHB) read the genome through this."""
    bounds = dict.fromkeys(slot_names(n_lstm, n_dense), (space.min_units, space.max_units))
    if space.genes:
        names = gene_names(n_dense)
        bounds[names[0]] = (space.min_lr_step, space.max_lr_step)
        bounds[names[1]] = (0, space.max_lstm_dropout if n_lstm > 1 else 0)
        bounds.update(dict.fromkeys(names[2 : 2 + n_dense], (0, space.max_dropout)))
        bounds.update(dict.fromkeys(names[2 + n_dense :], (0, 1)))
    return bounds


def active_mask(population: torch.Tensor, space: SearchSpace) -> torch.Tensor:
    """Boolean mask of the genes in use; the two count columns are False. A training gene is
    active with what it acts on: the learning rate always, the LSTM dropout from 2 LSTM
    layers on, a block's dropout and BatchNorm with its block."""
    device = population.device
    lstm_pos = torch.arange(space.max_lstm_layers, device=device)
    dense_pos = torch.arange(space.max_dense_layers, device=device)
    lstm = lstm_pos < population[:, N_LSTM : N_LSTM + 1]
    dense = dense_pos < population[:, N_DENSE : N_DENSE + 1]
    counts = torch.zeros(population.shape[0], 2, dtype=torch.bool, device=device)
    if not space.genes:
        return torch.cat([counts, lstm, dense], dim=1)
    lr = torch.ones_like(counts[:, :1])
    stacked = population[:, N_LSTM : N_LSTM + 1] > 1
    return torch.cat([counts, lstm, dense, lr, stacked, dense, dense], dim=1)


def unit_mask(space: SearchSpace, device: "torch.device | str | None" = None) -> torch.Tensor:
    """Boolean row mask of the gene columns that are 0 while inactive (all but the counts)."""
    mask = torch.ones(space.n_genes, dtype=torch.bool, device=device)
    mask[:2] = False
    return mask


def random_units(shape: tuple[int, ...], space: SearchSpace, *, generator: torch.Generator,
                 device: "torch.device | str | None" = None) -> torch.Tensor:
    return torch.randint(space.min_units, space.max_units + 1, shape, generator=generator,
                         device=device, dtype=torch.long)


def random_genes(columns: torch.Tensor, space: SearchSpace, *, generator: torch.Generator
                 ) -> torch.Tensor:
    """A uniform draw within each entry's column bounds (``columns``: column indices, any
    shape). In the article's space every gene shares the units' range: one randint, the
    draws an article run has always made."""
    device = columns.device
    if not space.genes:
        return random_units(tuple(columns.shape), space, generator=generator, device=device)
    low, high = space.bounds(device)
    span = (high - low + 1)[columns]
    u = torch.rand(tuple(columns.shape), generator=generator, device=device, dtype=torch.float64)
    return low[columns] + torch.minimum((u * span).long(), span - 1)


def columns_of(shape: tuple[int, ...], device: "torch.device | str | None" = None
               ) -> torch.Tensor:
    """The column index of every entry of a [rows, n_genes] tensor."""
    return torch.arange(shape[1], device=device).expand(shape)


def random_population(pop_size: int, space: SearchSpace, *, generator: torch.Generator,
                      device: "torch.device | str | None" = None) -> torch.Tensor:
    """Layer counts uniform in [1, max], each active gene uniform within its bounds."""
    pop = random_genes(columns_of((pop_size, space.n_genes), device), space, generator=generator)
    pop[:, N_LSTM] = torch.randint(1, space.max_lstm_layers + 1, (pop_size,),
                                   generator=generator, device=device)
    pop[:, N_DENSE] = torch.randint(1, space.max_dense_layers + 1, (pop_size,),
                                    generator=generator, device=device)
    return pop.masked_fill(~active_mask(pop, space) & unit_mask(space, pop.device), 0)


def _checked(population: torch.Tensor, space: SearchSpace
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """(which cells are wrong, which cells must lie in their bounds): the counts and every
    active gene within its column's bounds, every inactive slot 0."""
    if population.dim() != 2 or population.shape[1] != space.n_genes:
        raise ValueError(f"population must have shape [pop_size, {space.n_genes}], "
                         f"got {tuple(population.shape)}")
    low, high = space.bounds(population.device)
    bounded = active_mask(population, space) | ~unit_mask(space, population.device)
    return torch.where(bounded, (population < low) | (population > high), population != 0), \
        bounded


def invalid_rows(population: torch.Tensor, space: SearchSpace) -> torch.Tensor:
    """Boolean per row: counts out of bounds, an active gene out of its bounds, or an inactive
    slot != 0."""
    return _checked(population, space)[0].any(dim=1)


def check_population(population: torch.Tensor, space: SearchSpace) -> None:
    """Raise ValueError naming the first invalid genome and its first gene out of bounds."""
    wrong, bounded = _checked(population, space)
    if bool(wrong.any()):
        i, j = (int(v) for v in wrong.nonzero()[0])
        low, high = space.bounds()
        why = (f"in [{int(low[j])}, {int(high[j])}]" if bool(bounded[i, j]) else
               "0: it acts on no layer of this genome")
        raise ValueError(f"invalid genome at row {i}: {population[i].tolist()} "
                         f"({space.column_names[j]}={int(population[i, j])} must be {why})")


def to_compact(row: torch.Tensor, space: SearchSpace) -> tuple[int, ...]:
    """The compact form of one genome row (Architecture.compact)."""
    values = row.tolist()
    n_lstm, n_dense = values[N_LSTM], values[N_DENSE]
    lstm = values[space.lstm_slots][:n_lstm]
    dense = values[space.dense_slots][:n_dense]
    if not space.genes:
        return (n_lstm, n_dense, *lstm, *dense)
    lr, lstm_dropout = values[space.lr_column], values[space.lr_column + 1]
    return (n_lstm, n_dense, *lstm, *dense, lr, lstm_dropout,
            *values[space.dropout_slots][:n_dense], *values[space.batchnorm_slots][:n_dense])


def from_compact(compact: "list[int] | tuple[int, ...]", space: SearchSpace) -> torch.Tensor:
    """One genome row from its compact form; raises ValueError if it is outside the space."""
    arch = Architecture.from_compact(compact)
    n_lstm, n_dense = len(arch.lstm_units), len(arch.dense_units)
    if n_lstm > space.max_lstm_layers or n_dense > space.max_dense_layers:
        raise ValueError(f"genome {format_compact(compact)} has more layers than the space allows "
                         f"({space.max_lstm_layers} LSTM, {space.max_dense_layers} dense)")
    if (arch.genes is None) == space.genes:
        raise ValueError(f"genome {format_compact(compact)} " + (
            f"lacks the training genes space=extended needs: append lr_step, lstm_dropout, "
            f"{n_dense} dropout and {n_dense} batchnorm genes" if space.genes else
            "carries training genes (space=extended): add space=extended, or drop them"))
    row = torch.zeros(space.n_genes, dtype=torch.long)
    row[N_LSTM], row[N_DENSE] = n_lstm, n_dense
    row[space.lstm_slots.start : space.lstm_slots.start + n_lstm] = torch.tensor(arch.lstm_units)
    row[space.dense_slots.start : space.dense_slots.start + n_dense] = torch.tensor(arch.dense_units)
    if arch.genes is not None:
        g = arch.genes
        row[space.lr_column], row[space.lr_column + 1] = g.lr_step, g.lstm_dropout
        row[space.dropout_slots.start : space.dropout_slots.start + n_dense] = torch.tensor(g.dropout)
        row[space.batchnorm_slots.start : space.batchnorm_slots.start + n_dense] = \
            torch.tensor(g.batchnorm)
    check_population(row.unsqueeze(0), space)
    return row


def decode(row: torch.Tensor, space: SearchSpace) -> Architecture:
    return Architecture.from_compact(to_compact(row, space))


def population_from_compact(genomes: "list[list[int]]", space: SearchSpace) -> torch.Tensor:
    return torch.stack([from_compact(g, space) for g in genomes])
