"""The compact genome form and the population tensor convert both ways exactly."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from galstm_torch.ga.genome.encoding import (
    SearchSpace,
    active_mask,
    check_population,
    decode,
    from_compact,
    invalid_rows,
    random_population,
    to_compact,
)
from galstm_torch.training.architecture import Architecture, format_compact, parse_compact


def test_article_genome_round_trip(space):
    row = from_compact([3, 1, 135, 41, 126, 47], space)
    assert row.tolist() == [3, 1, 135, 41, 126, 47, 0, 0]
    assert to_compact(row, space) == (3, 1, 135, 41, 126, 47)
    assert decode(row, space) == Architecture((135, 41, 126), (47,))
    assert format_compact(decode(row, space).compact) == "[3,1,135,41,126,47]"
    assert parse_compact("[3, 1, 135,41,126,47]") == (3, 1, 135, 41, 126, 47)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**31), st.integers(1, 30))
def test_round_trip_for_random_populations(max_l, max_d, seed, n):
    space = SearchSpace(max_l, max_d, 32, 256)
    pop = random_population(n, space, generator=torch.Generator().manual_seed(seed))
    check_population(pop, space)
    back = torch.stack([from_compact(to_compact(row, space), space) for row in pop])
    assert torch.equal(back, pop)
    # The mask is derived from the counts: exactly n_lstm + n_dense active genes per row.
    assert torch.equal(active_mask(pop, space).sum(1), pop[:, 0] + pop[:, 1])


@pytest.mark.parametrize("compact, reason", [
    ([0, 1, 47], "at least one"),              # no LSTM layer
    ([4, 1, 40, 40, 40, 40, 47], "more layers"),
    ([1, 1, 31, 47], "invalid"),            # units below min_units
    ([1, 1, 64, 257], "invalid"),           # units above max_units
    ([2, 1, 64, 47], "needs 5 numbers"),    # length disagrees with the counts
    ([1], "two layer counts"),
])
def test_invalid_compact_genomes_are_rejected(space, compact, reason):
    with pytest.raises(ValueError, match=reason):
        from_compact(compact, space)


def test_invalid_rows_flags_each_kind_of_corruption(space):
    good = from_compact([2, 1, 64, 64, 47], space)
    bad_inactive = good.clone()
    bad_inactive[4] = 50  # third LSTM slot is inactive but non-zero
    bad_count = good.clone()
    bad_count[1] = 4
    bad_units = good.clone()
    bad_units[2] = 300
    pop = torch.stack([good, bad_inactive, bad_count, bad_units])
    assert invalid_rows(pop, space).tolist() == [False, True, True, True]
    with pytest.raises(ValueError, match="row 1"):
        check_population(pop, space)


def test_parse_rejects_garbage():
    with pytest.raises(ValueError, match="not a compact genome"):
        parse_compact("[3,x]")
