"""Invariants of the batched GA operators."""
from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from galstm_torch.ga.genome.encoding import (
    N_DENSE,
    N_LSTM,
    SearchSpace,
    active_mask,
    invalid_rows,
    random_population,
)
from galstm_torch.ga.genome.operators import (
    crossover,
    elite_indices,
    mutate_layers,
    mutate_units,
    next_generation,
    rank_select,
    roulette_select,
    tournament_select,
)


def test_crossover_never_crosses_layer_genes_and_swaps_only_genes_active_in_both(space, gen):
    pop = random_population(400, space, generator=gen)
    child = crossover(pop, space, crossover_rate=1.0, generator=gen)
    assert torch.equal(child[:, :2], pop[:, :2])
    changed = child != pop
    assert not changed[:, :2].any()
    # A changed gene must be active in the child; its new value must come from some row
    # where that gene is active (the partner), so a 0 never leaks in.
    assert (child[changed] > 0).all()
    assert not (changed & ~active_mask(pop, space)).any()
    assert not invalid_rows(child, space).any()
    assert changed.any()  # rate 1 on 400 genomes does swap something


def test_crossover_takes_each_swapped_gene_from_one_partner(space):
    # Two genomes only: every swap must copy the other genome's gene at that position.
    pop = torch.tensor([[3, 1, 40, 50, 60, 70, 0, 0], [2, 3, 100, 110, 0, 120, 130, 140]])
    g = torch.Generator().manual_seed(0)
    seen_swap = False
    for _ in range(50):
        child = crossover(pop, space, crossover_rate=1.0, generator=g)
        for i in range(2):
            diff = (child[i] != pop[i]).nonzero().flatten().tolist()
            assert set(diff) <= {2, 3, 5}  # active in both: lstm 1-2, dense 1
            for j in diff:
                assert child[i, j] == pop[1 - i, j]
            seen_swap |= bool(diff)
    assert seen_swap


def test_crossover_rate_zero_is_identity(space, gen):
    pop = random_population(50, space, generator=gen)
    assert torch.equal(crossover(pop, space, crossover_rate=0.0, generator=gen), pop)


def test_mutation_rate_zero_is_identity_and_rate_one_redraws_every_active_gene(space, gen):
    pop = random_population(300, space, generator=gen)
    assert torch.equal(mutate_units(pop, space, mutation_rate=0.0, generator=gen), pop)
    mutated = mutate_units(pop, space, mutation_rate=1.0, generator=gen)
    active = active_mask(pop, space)
    assert torch.equal(mutated[~active], pop[~active])  # counts and inactive slots untouched
    # Redrawn from 225 values: about 1/225 keep their value by chance, far fewer than half.
    same = (mutated[active] == pop[active]).float().mean()
    assert same < 0.02
    assert not invalid_rows(mutated, space).any()


def test_mutation_keeps_units_in_bounds_for_a_narrow_space(gen):
    space = SearchSpace(2, 2, 5, 7)
    pop = random_population(500, space, generator=gen)
    mutated = mutate_units(pop, space, mutation_rate=1.0, generator=gen)
    values = mutated[active_mask(mutated, space)]
    assert values.min() >= 5 and values.max() <= 7
    assert set(values.unique().tolist()) == {5, 6, 7}


def test_layer_mutation_moves_counts_by_one_and_keeps_genomes_valid(space, gen):
    pop = random_population(500, space, generator=gen)
    out = mutate_layers(pop, space, layer_mutation_rate=1.0, generator=gen)
    assert not invalid_rows(out, space).any()
    step = (out[:, :2] - pop[:, :2]).abs()
    assert (step == 1).all()  # rate 1 with max 3: every count moves, by exactly one
    kept = active_mask(pop, space) & active_mask(out, space)
    assert torch.equal(out[kept], pop[kept])  # surviving layers keep their units
    assert torch.equal(mutate_layers(pop, space, layer_mutation_rate=0.0, generator=gen), pop)


def test_layer_mutation_leaves_single_count_spaces_alone(gen):
    space = SearchSpace(1, 1, 32, 256)
    pop = random_population(100, space, generator=gen)
    assert torch.equal(mutate_layers(pop, space, layer_mutation_rate=1.0, generator=gen), pop)


def test_selection_returns_rows_of_the_population_and_prefers_fitter(space, gen):
    pop = random_population(10, space, generator=gen)
    pop[:, 2] = torch.arange(10) + 32  # tag rows by their first LSTM units
    fitness = torch.linspace(0.0, 1.0, 10, dtype=torch.float64)
    for pick in (
        lambda: roulette_select(pop, fitness, n=5000, generator=gen),
        lambda: rank_select(pop, fitness, n=5000, generator=gen),
        lambda: tournament_select(pop, fitness, n=5000, tournament_size=3, generator=gen),
    ):
        chosen = pick()
        tags = chosen[:, 2] - 32
        assert torch.equal(chosen, pop[tags])
        counts = torch.bincount(tags, minlength=10)
        assert counts[9] > counts[1] and counts[0] <= counts[1]
    roulette = roulette_select(pop, fitness, n=5000, generator=gen)
    assert not (roulette[:, 2] == 32).any()  # fitness 0 is never drawn by roulette


def test_tournament_of_size_one_can_pick_any_genome(space, gen):
    pop = random_population(6, space, generator=gen)
    fitness = torch.tensor([0.1, 0.9, 0.3, 0.2, 0.5, 0.4], dtype=torch.float64)
    uniform = tournament_select(pop, fitness, n=3000, tournament_size=1, generator=gen)
    assert len({tuple(r) for r in uniform.tolist()}) == 6


def test_elitism_keeps_the_best_rows_unchanged(space, gen):
    pop = random_population(12, space, generator=gen)
    fitness = torch.rand(12, generator=gen, dtype=torch.float64)
    nxt = next_generation(pop, fitness, space, selection="roulette", elitism=3, crossover_rate=1.0,
                          mutation_rate=1.0, layer_mutation_rate=1.0, tournament_size=3,
                          generator=gen)
    assert nxt.shape == pop.shape
    assert torch.equal(nxt[:3], pop[elite_indices(fitness, 3)])


def test_elites_are_the_fittest_best_first_and_a_tie_keeps_the_earlier_row():
    fitness = torch.tensor([0.2, 0.9, 0.5, 0.9, 0.1], dtype=torch.float64)
    assert elite_indices(fitness, 3).tolist() == [1, 3, 2]
    assert elite_indices(fitness, 0).tolist() == []


def test_same_seed_gives_same_population_and_input_is_never_modified(space):
    def step(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(seed)
        pop = random_population(30, space, generator=g)
        before = pop.clone()
        fitness = torch.rand(30, generator=g, dtype=torch.float64)
        nxt = next_generation(pop, fitness, space, selection="tournament", elitism=2,
                              crossover_rate=0.5, mutation_rate=0.3, layer_mutation_rate=0.3,
                              tournament_size=3, generator=g)
        assert torch.equal(pop, before)
        return pop, nxt

    a, b = step(7), step(7)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(step(8)[1], a[1])



@st.composite
def space_and_pop(draw):
    max_l, max_d = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    lo = draw(st.integers(1, 300))
    hi = draw(st.integers(lo, lo + 300))
    space = SearchSpace(max_l, max_d, lo, hi)
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31)))
    return space, random_population(draw(st.integers(2, 40)), space, generator=g), g


@settings(max_examples=60, deadline=None)
@given(space_and_pop(), st.sampled_from(["roulette", "rank", "tournament"]),
       st.floats(0, 1), st.floats(0, 1), st.floats(0, 1), st.integers(0, 1))
def test_property_every_generation_is_valid(sp, selection, cx, mut, layer_mut, elitism):
    space, pop, g = sp
    fitness = torch.rand(len(pop), generator=g, dtype=torch.float64)
    for _ in range(3):
        before = pop.clone()
        nxt = next_generation(pop, fitness, space, selection=selection, elitism=elitism,
                              crossover_rate=cx, mutation_rate=mut, layer_mutation_rate=layer_mut,
                              tournament_size=2, generator=g)
        assert torch.equal(pop, before)
        assert nxt.shape == pop.shape and nxt.dtype == pop.dtype
        assert not invalid_rows(nxt, space).any()
        if layer_mut == 0:  # counts only ever come from selected parents
            parents = {tuple(r) for r in pop[:, [N_LSTM, N_DENSE]].tolist()}
            assert {tuple(r) for r in nxt[:, [N_LSTM, N_DENSE]].tolist()} <= parents
        pop = nxt


def test_a_mutation_step_moves_units_locally_and_stays_in_bounds(space, gen):
    from galstm_torch.ga.genome.encoding import active_mask, check_population, random_population
    from galstm_torch.ga.genome.operators import mutate_units

    pop = random_population(2000, space, generator=gen)
    out = mutate_units(pop, space, mutation_rate=1.0, generator=gen, step=0.05)
    check_population(out, space)
    active = active_mask(pop, space)
    moved = (out - pop)[active].abs().float()
    assert moved.mean() < 0.1 * (space.max_units - space.min_units)  # local, not a redraw
    assert (moved > 0).float().mean() > 0.5
    assert torch.equal(out[~active], pop[~active])
