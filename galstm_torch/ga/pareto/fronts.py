"""NSGA-II's selection as pure tensor functions (Deb et al. 2002): non-dominated sorting,
crowding distance, the binary tournament on (rank, crowding) and the survivors of a
generation. Every objective is maximised (negate one to minimise it, e.g. -params).

Loops run over fronts, never over genomes. Two ways to sort:
- any number of objectives: a dominance matrix (N x N booleans; about 10^4 genomes);
- two objectives: staircase peeling after one sort (memory O(N); 10^6 genomes).

A failed genome is dominated by every working one: it gets a rank after the last front.
Equal genomes (equal objectives) never dominate each other, so they share a front.
"""
from __future__ import annotations

from typing import Optional

import torch


def dominates(objectives: torch.Tensor) -> torch.Tensor:
    """[N, N] booleans: row i dominates column j (no worse in every objective, better in one)."""
    a, b = objectives.unsqueeze(1), objectives.unsqueeze(0)
    return (a >= b).all(dim=2) & (a > b).any(dim=2)


def _ranks_matrix(objectives: torch.Tensor, until: int) -> torch.Tensor:
    dom = dominates(objectives)
    beaten_by = dom.sum(dim=0)  # how many dominate each genome
    ranks = torch.full((len(objectives),), -1, dtype=torch.long)
    front, rank, ranked = beaten_by == 0, 0, 0
    while bool(front.any()) and ranked < until:  # one step per front
        ranks[front] = rank
        ranked += int(front.sum())
        beaten_by = beaten_by - dom[front].sum(dim=0)
        beaten_by[ranks >= 0] = -1
        front, rank = beaten_by == 0, rank + 1
    ranks[ranks < 0] = rank
    return ranks


def _ranks_2d(objectives: torch.Tensor, until: int) -> torch.Tensor:
    """Two objectives: sort by the first (descending, ties by the second descending); a
    genome is on the current front when its second objective beats the best second objective
    of every genome before it with a strictly greater first, or ties an equal genome's."""
    f1, f2 = objectives[:, 0], objectives[:, 1]
    order = torch.argsort(f2, descending=True, stable=True)
    order = order[torch.argsort(f1[order], descending=True, stable=True)]
    ranks = torch.full((len(f1),), -1, dtype=torch.long)
    left, rank = order, 0
    while len(left) and len(f1) - len(left) < until:  # one step per front
        a, b = f1[left], f2[left]
        best = torch.cummax(b, dim=0).values
        # the best f2 among genomes strictly ahead on f1 (equal f1 does not dominate on f1)
        group_start = torch.ones_like(a, dtype=torch.bool)
        group_start[1:] = a[1:] != a[:-1]
        start_idx = torch.cummax(torch.where(group_start, torch.arange(len(a)), 0), dim=0).values
        ahead = torch.where(start_idx > 0, best[(start_idx - 1).clamp(min=0)],
                            torch.full_like(b, -torch.inf))
        # within an equal-f1 group, the group's first (largest f2) dominates smaller f2
        group_top = b[start_idx]
        on_front = (b > ahead) & (b >= group_top)
        ranks[left[on_front]] = rank
        left, rank = left[~on_front], rank + 1
    ranks[left] = rank
    return ranks


def nondominated_ranks(objectives: torch.Tensor, failed: Optional[torch.Tensor] = None, *,
                       until: Optional[int] = None) -> torch.Tensor:
    """Front index per genome (0 = non-dominated); failed genomes rank after every front.
    With ``until``, sorting stops once that many genomes are ranked (survivor selection
    needs no more): the rest share the next rank."""
    objectives = objectives.to(torch.float64)
    ok = torch.ones(len(objectives), dtype=torch.bool) if failed is None else ~failed
    ranks = torch.zeros(len(objectives), dtype=torch.long)
    working = objectives[ok]
    if len(working):
        sort = _ranks_2d if working.shape[1] == 2 else _ranks_matrix
        ranks[ok] = sort(working, len(working) if until is None else until)
    ranks[~ok] = (int(ranks[ok].max()) + 1) if bool(ok.any()) else 0
    return ranks


def crowding_distance(objectives: torch.Tensor, ranks: torch.Tensor) -> torch.Tensor:
    """Per genome, within its front: the sum over objectives of the normalised gap between
    its two neighbours; a front's extremes (and fronts of one or two) get infinity."""
    n, m = objectives.shape
    objectives = objectives.to(torch.float64)
    distance = torch.zeros(n, dtype=torch.float64)
    for k in range(m):  # one pass per objective, every front at once
        order = torch.argsort(objectives[:, k], stable=True)
        order = order[torch.argsort(ranks[order], stable=True)]  # by front, then value
        r, v = ranks[order], objectives[order, k]
        first = torch.ones(n, dtype=torch.bool)
        first[1:] = r[1:] != r[:-1]
        last = torch.ones(n, dtype=torch.bool)
        last[:-1] = r[1:] != r[:-1]
        lo = torch.full((int(ranks.max()) + 1,), torch.inf, dtype=torch.float64)
        hi = torch.full_like(lo, -torch.inf)
        lo = lo.scatter_reduce(0, r, v, reduce="amin")
        hi = hi.scatter_reduce(0, r, v, reduce="amax")
        span = (hi - lo)[r]
        gap = torch.zeros(n, dtype=torch.float64)
        inner = ~first & ~last
        gap[inner] = (v.roll(-1) - v.roll(1))[inner] / span[inner].clamp(min=1e-300)
        gap[inner & (span == 0)] = 0.0
        gap[first | last] = torch.inf
        distance[order] += gap
    return distance


def tournament(ranks: torch.Tensor, crowding: torch.Tensor, n: int, *,
               generator: torch.Generator) -> torch.Tensor:
    """n parent indices, each the better of two drawn at random: lower rank, then larger
    crowding distance; a full tie goes to the first drawn."""
    pairs = torch.randint(len(ranks), (n, 2), generator=generator)
    a, b = pairs[:, 0], pairs[:, 1]
    b_wins = (ranks[b] < ranks[a]) | ((ranks[b] == ranks[a]) & (crowding[b] > crowding[a]))
    return torch.where(b_wins, b, a)


def survivors(objectives: torch.Tensor, n: int, failed: Optional[torch.Tensor] = None,
              ) -> torch.Tensor:
    """The n genomes NSGA-II keeps: whole fronts in order, then the most crowded-apart of the
    front that does not fit. Indices, best first (rank, then crowding descending)."""
    ranks = nondominated_ranks(objectives, failed, until=n)
    crowding = crowding_distance(objectives, ranks)
    order = torch.argsort(-crowding, stable=True)
    order = order[torch.argsort(ranks[order], stable=True)]
    return order[:n]
