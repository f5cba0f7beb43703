"""NSGA-II's operators (issue 13) against a straightforward reference: Deb's fast
non-dominated sort and crowding distance written as plain loops."""
from __future__ import annotations

import math

import pytest
import torch

from galstm_torch.ga.pareto.fronts import (
    crowding_distance,
    dominates,
    nondominated_ranks,
    survivors,
    tournament,
)


def reference_ranks(points: list[tuple[float, ...]]) -> list[int]:
    def dom(p, q):
        return all(a >= b for a, b in zip(p, q)) and any(a > b for a, b in zip(p, q))

    n = len(points)
    ranks, left, rank = [-1] * n, set(range(n)), 0
    while left:
        front = {i for i in left if not any(dom(points[j], points[i]) for j in left)}
        for i in front:
            ranks[i] = rank
        left -= front
        rank += 1
    return ranks


def reference_crowding(points: list[tuple[float, ...]], ranks: list[int]) -> list[float]:
    out = [0.0] * len(points)
    for r in set(ranks):
        members = [i for i in range(len(points)) if ranks[i] == r]
        for k in range(len(points[0])):
            members.sort(key=lambda i: (points[i][k], i))
            lo, hi = points[members[0]][k], points[members[-1]][k]
            out[members[0]] = out[members[-1]] = math.inf
            for a, i, b in zip(members, members[1:-1], members[2:]):
                if out[i] != math.inf:
                    out[i] += 0.0 if hi == lo else (points[b][k] - points[a][k]) / (hi - lo)
    return out


@pytest.mark.parametrize("m", [2, 3])
@pytest.mark.parametrize("seed", range(8))
def test_ranks_match_the_reference_on_random_inputs_with_ties(m, seed):
    g = torch.Generator().manual_seed(seed)
    objectives = torch.randint(0, 6, (60, m), generator=g).to(torch.float64)  # many ties
    points = [tuple(row) for row in objectives.tolist()]
    assert nondominated_ranks(objectives).tolist() == reference_ranks(points)


@pytest.mark.parametrize("seed", range(5))
def test_crowding_matches_the_reference_on_distinct_values(seed):
    g = torch.Generator().manual_seed(seed)
    objectives = torch.rand(40, 2, generator=g, dtype=torch.float64)
    ranks = nondominated_ranks(objectives)
    got = crowding_distance(objectives, ranks).tolist()
    want = reference_crowding([tuple(r) for r in objectives.tolist()], ranks.tolist())
    assert got == pytest.approx(want)


def test_a_hand_made_front():
    # (accuracy, -params): A and B trade off, C is dominated by B, D equals B, E is worst
    objectives = torch.tensor([[0.99, -200.0], [0.98, -100.0], [0.97, -150.0], [0.98, -100.0],
                               [0.90, -300.0]])
    assert nondominated_ranks(objectives).tolist() == [0, 0, 1, 0, 2]
    assert dominates(objectives)[1, 2] and not dominates(objectives)[1, 3]


def test_failed_genomes_rank_after_every_front_and_are_never_kept_first():
    objectives = torch.tensor([[0.0, 0.0], [0.5, -10.0], [0.9, -50.0], [1.0, 0.0]])
    failed = torch.tensor([False, False, False, True])  # would dominate all if it counted
    ranks = nondominated_ranks(objectives, failed)
    assert ranks.tolist() == [0, 0, 0, 1]
    assert 3 not in survivors(objectives, 3, failed).tolist()


def test_survivors_take_whole_fronts_then_the_most_spread_out():
    objectives = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.6, 0.45], [0.2, 0.2]])
    kept = survivors(objectives, 3).tolist()
    assert set(kept[:2]) == {0, 1}  # the extremes of the first front (infinite crowding)
    assert 4 not in kept


def test_tournament_prefers_lower_rank_then_larger_crowding():
    ranks = torch.tensor([0, 1, 0])
    crowding = torch.tensor([1.0, 5.0, 2.0])
    picks = tournament(ranks, crowding, 2000, generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(picks, minlength=3)
    assert counts[2] > counts[0] > counts[1]  # 2 beats 0 (crowding), both beat 1 (rank)


@pytest.mark.parametrize("m", [2, 3])
def test_sorting_until_n_ranks_the_first_fronts_exactly(m):
    objectives = torch.randint(0, 20, (200, m), generator=torch.Generator().manual_seed(m)).double()
    full, part = nondominated_ranks(objectives), nondominated_ranks(objectives, until=50)
    last = int(part.max())
    assert torch.equal(part[full < last], full[full < last]) and (part[full >= last] == last).all()
    assert int((full < last).sum()) >= 50
