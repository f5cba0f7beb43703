"""Model-guided offspring: a ridge regression on the genomes scored so far picks which of
many candidate children get trained (``ga.guide``).

The GA makes ``guide`` times more children than it needs with its usual operators; as many
random genomes and every corner of the unit box (where a linear model peaks) join them, so
the model can point beyond the population's neighbourhood. A linear model of fitness on
simple genome features keeps the candidates it predicts best. It is fitted
to every score at every rung, each standardized within its rung (a third of an epoch and a
full epoch rank genomes alike but on different scales, RESULTS.md section 5). Children never
evaluated come first: a known genome costs nothing to repeat but teaches nothing. Pure
tensor functions, no Python loop over individuals.
"""
from __future__ import annotations

import torch

from galstm_torch.ga.genome.encoding import N_DENSE, N_LSTM, SearchSpace, active_mask, unit_mask
from galstm_torch.training.architecture import TENTHS


def features(population: torch.Tensor, space: SearchSpace) -> torch.Tensor:
    """Per genome: a constant, one-hot layer counts, each unit slot scaled to [0, 1] (0 where
    the slot is inactive), and the narrowest LSTM layer, the narrowest dense layer and the
    last LSTM layer (a narrow layer is a bottleneck that slot-wise weights cannot see)."""
    pop = population.to(torch.float64)
    n_lstm, n_dense = population[:, N_LSTM].long(), population[:, N_DENSE].long()
    lstm = torch.nn.functional.one_hot(n_lstm - 1, space.max_lstm_layers).to(torch.float64)
    dense = torch.nn.functional.one_hot(n_dense - 1, space.max_dense_layers).to(torch.float64)
    units = pop[:, 2 : space.dense_slots.stop] / space.max_units
    lstm_units = units[:, : space.max_lstm_layers]
    dense_units = units[:, space.max_lstm_layers:]
    lstm_on = torch.arange(space.max_lstm_layers) < n_lstm.unsqueeze(1)
    dense_on = torch.arange(space.max_dense_layers) < n_dense.unsqueeze(1)
    narrowest_lstm = lstm_units.masked_fill(~lstm_on, 2.0).amin(dim=1, keepdim=True)
    narrowest_dense = dense_units.masked_fill(~dense_on, 2.0).amin(dim=1, keepdim=True)
    last_lstm = lstm_units.gather(1, (n_lstm - 1).unsqueeze(1))
    ones = torch.ones(len(pop), 1, dtype=torch.float64)
    base = [ones, lstm, dense, units, narrowest_lstm, narrowest_dense, last_lstm]
    return torch.cat(base + (_gene_features(pop, space) if space.genes else []), dim=1)


def _gene_features(pop: torch.Tensor, space: SearchSpace) -> list[torch.Tensor]:
    """space=extended: the learning-rate step scaled to [-1, 1] and its square (a rate has
    an optimum inside its range on the log scale, which a linear term cannot place), the
    LSTM dropout and its square, and each block's dropout and BatchNorm (0 where absent)."""
    c = space.lr_column
    span = max(space.max_lr_step - space.min_lr_step, 1)
    lr = (pop[:, c : c + 1] - space.min_lr_step) * (2.0 / span) - 1.0
    between = pop[:, c + 1 : c + 2] / TENTHS
    return [lr, lr.square(), between, between.square(), pop[:, space.dropout_slots] / TENTHS,
            pop[:, space.batchnorm_slots]]


def standardize(scores: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """Scores centred and scaled within each group (a rung); a group of one, or with no
    spread, is only centred."""
    out = torch.zeros_like(scores)
    for g in torch.unique(groups):  # a handful of rungs, not individuals
        mask = groups == g
        centred = scores[mask] - scores[mask].mean()
        sd = centred.std() if int(mask.sum()) > 1 else torch.zeros((), dtype=scores.dtype)
        out[mask] = centred / sd if float(sd) > 0 else centred
    return out


def fit_ridge(x: torch.Tensor, y: torch.Tensor, *, l2: float = 1.0) -> torch.Tensor:
    """Weights of a ridge regression y ~ x w (the constant column is not penalised)."""
    penalty = torch.eye(x.shape[1], dtype=x.dtype) * l2
    penalty[0, 0] = 0.0
    return torch.linalg.solve(x.T @ x + penalty, x.T @ y)


def pick(candidates: torch.Tensor, known: torch.Tensor, scores: torch.Tensor, n: int,
         space: SearchSpace) -> torch.Tensor:
    """n distinct rows of ``candidates``: those predicted best by a ridge model fitted on
    (``known`` genomes, their ``scores``), never-seen genomes before seen ones; ties keep
    candidate order."""
    weights = fit_ridge(features(known, space), scores.to(torch.float64))
    unique = first_occurrences(candidates)
    predicted = features(candidates[unique], space) @ weights
    seen = (candidates[unique].unsqueeze(1) == known.unsqueeze(0)).all(dim=2).any(dim=1)
    order = torch.argsort(-predicted, stable=True)  # best predicted first, ties in order
    order = order[torch.argsort(seen[order].to(torch.int8), stable=True)]  # unseen first
    chosen = unique[order[:n]]
    if len(chosen) < n:  # fewer distinct candidates than slots: repeat the best
        chosen = torch.cat([chosen, chosen[:1].repeat(n - len(chosen))])
    return candidates[chosen]


def corners(space: SearchSpace) -> torch.Tensor:
    """Every genome whose active unit genes are all at ``min_units`` or ``max_units``, for
    every layer count: the candidates where a linear model can peak (its optimum over a box
    is a corner), so the guide can propose the model's own optimum, not only what the
    operators happen to make. In space=extended each is crossed with every learning-rate
    step (the model is quadratic in it), the LSTM dropout at 0 or its bound, and one dropout
    (0, half its bound or its bound) and one BatchNorm setting for all blocks."""
    units = _unit_corners(space)
    if not space.genes:
        return units
    genes = _gene_corners(space)
    rows = torch.cat([units.repeat_interleave(len(genes), 0), genes.repeat(len(units), 1)], dim=1)
    return torch.unique(rows.masked_fill(~active_mask(rows, space) & unit_mask(space), 0), dim=0)


def _gene_corners(space: SearchSpace) -> torch.Tensor:
    """The training-gene columns of the extended corners, one row per combination."""
    grid = torch.cartesian_prod(torch.arange(space.min_lr_step, space.max_lr_step + 1),
                                torch.tensor([0, space.max_lstm_dropout]),
                                torch.tensor([0, space.max_dropout // 2, space.max_dropout]),
                                torch.tensor([0, 1]))
    d = space.max_dense_layers
    return torch.cat([grid[:, :2], grid[:, 2:3].expand(-1, d), grid[:, 3:4].expand(-1, d)], dim=1)


def _unit_corners(space: SearchSpace) -> torch.Tensor:
    """The corners of the unit box for every layer count (the article's columns)."""
    n_slots = space.max_lstm_layers + space.max_dense_layers
    bits = (torch.arange(2 ** n_slots).unsqueeze(1) >> torch.arange(n_slots)) & 1
    units = torch.where(bits.bool(), space.max_units, space.min_units)
    rows = []
    for n_lstm in range(1, space.max_lstm_layers + 1):
        for n_dense in range(1, space.max_dense_layers + 1):
            on = torch.cat([torch.arange(space.max_lstm_layers) < n_lstm,
                            torch.arange(space.max_dense_layers) < n_dense])
            counts = torch.tensor([n_lstm, n_dense]).expand(len(units), 2)
            rows.append(torch.cat([counts, units * on], dim=1))
    return torch.unique(torch.cat(rows), dim=0)


def first_occurrences(rows: torch.Tensor) -> torch.Tensor:
    """Indices of the first occurrence of each distinct row, in row order."""
    _, inverse = torch.unique(rows, dim=0, return_inverse=True)
    first = torch.full((int(inverse.max()) + 1,), len(rows), dtype=torch.long)
    first.scatter_reduce_(0, inverse, torch.arange(len(rows)), reduce="amin")
    return first.sort().values
