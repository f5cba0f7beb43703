"""The objectives of a search (``ga.objectives``), each as a column to maximise.

- ``accuracy``: the fitness (the mean over a genome's seeds at the rung it reached).
- ``params``: the trainable parameter count, exact from the genome (no model is built).
- ``latency``: inference seconds per sample on the run's device, measured by the trainer
  after each training (latency.py); a genome's latency is the median over its trainings.

Costs are negated so that every column is maximised, as fronts.py and hypervolume.py expect.
"""
from __future__ import annotations

import statistics
from enum import Enum

import torch

from galstm_torch.ga.genome.encoding import SearchSpace, active_mask


class Objective(str, Enum):
    ACCURACY = "accuracy"
    PARAMS = "params"
    LATENCY = "latency"


OBJECTIVES = tuple(Objective)
MINIMISED = ("params", "latency")


def lstm_params(inputs: torch.Tensor, units: torch.Tensor) -> torch.Tensor:
    """PyTorch's nn.LSTM: four gates, each with input and recurrent weights and two biases."""
    return 4 * units * (inputs + units) + 8 * units


def param_counts(population: torch.Tensor, space: SearchSpace, *, n_features: int,
                 n_classes: int) -> torch.Tensor:
    """Trainable parameters of every genome of a population (int64 [N]), exactly as
    model.build_model counts them: LSTMs, Dense (+ BatchNorm) blocks, and the head."""
    pop = population.to(torch.long)
    active = active_mask(pop, space)
    lstm = pop[:, space.lstm_slots] * active[:, space.lstm_slots]
    dense = pop[:, space.dense_slots] * active[:, space.dense_slots]
    inputs = torch.cat([torch.full_like(lstm[:, :1], n_features), lstm[:, :-1]], dim=1)
    total = torch.where(lstm > 0, lstm_params(inputs, lstm), 0).sum(dim=1)
    last_lstm = lstm.gather(1, pop[:, :1] - 1)
    widths = torch.cat([last_lstm, dense[:, :-1]], dim=1)
    # W and b, and BatchNorm's weight and bias (space=extended: where the block's gene has it)
    norm = pop[:, space.batchnorm_slots] if space.genes else torch.ones_like(dense)
    total += torch.where(dense > 0, widths * dense + dense + 2 * dense * norm, 0).sum(dim=1)
    last = dense.gather(1, pop[:, 1:2] - 1).squeeze(1)
    return total + last * n_classes + n_classes


def largest(space: SearchSpace) -> torch.Tensor:
    """The genome with every layer at the widest (the most parameters, the slowest)."""
    row = torch.full((1, space.n_genes), space.max_units, dtype=torch.long)
    row[0, 0], row[0, 1] = space.max_lstm_layers, space.max_dense_layers
    return row


def genome_latency(latencies: list[float]) -> float:
    """One latency per genome: the median of its measurements (robust to a busy moment)."""
    finite = [x for x in latencies if x == x]
    return statistics.median(finite) if finite else float("nan")


def as_maximised(values: dict[str, torch.Tensor], objectives: "list[str] | tuple[str, ...]",
                 ) -> torch.Tensor:
    """[N, len(objectives)] float64, costs negated: larger is better in every column."""
    cols = [values[name].to(torch.float64) * (-1.0 if name in MINIMISED else 1.0)
            for name in objectives]
    return torch.stack(cols, dim=1)
