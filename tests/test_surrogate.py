"""The guide's surrogate (ga.guide): its features, per-rung standardization, the corners of
the unit box, and the pick of the candidates it predicts best."""
from __future__ import annotations

import torch

from galstm_torch.ga.genome.encoding import SearchSpace, check_population, from_compact
from galstm_torch.ga.guide.surrogate import corners, features, pick, standardize

SPACE = SearchSpace()


def rows(*genomes):
    return torch.stack([from_compact(g, SPACE) for g in genomes])


def test_standardize_centres_and_scales_each_rung_apart():
    scores = torch.tensor([0.5, 0.6, 0.7, 0.80, 0.90, 0.85], dtype=torch.float64)
    rungs = torch.tensor([0, 0, 0, 1, 1, 2])
    z = standardize(scores, rungs)
    assert torch.allclose(z[:3], torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64))
    assert torch.allclose(z[3:5], torch.tensor([-0.7071, 0.7071], dtype=torch.float64), atol=1e-4)
    assert z[5] == 0.0  # a rung of one is only centred


def test_corners_are_valid_genomes_of_every_layer_count_at_the_bounds():
    c = corners(SPACE)
    check_population(c, SPACE)
    assert len(c) == sum(2 ** (a + b) for a in range(1, 4) for b in range(1, 4))  # 196
    active = c[:, 2:][c[:, 2:] > 0]
    assert set(active.unique().tolist()) == {SPACE.min_units, SPACE.max_units}


def test_features_see_the_narrowest_and_the_last_lstm_layer():
    f = features(rows((3, 1, 256, 32, 256, 256), (2, 1, 64, 128, 256)), SPACE)
    narrowest_lstm, narrowest_dense, last_lstm = f[:, -3], f[:, -2], f[:, -1]
    assert narrowest_lstm.tolist() == [32 / 256, 64 / 256]
    assert narrowest_dense.tolist() == [1.0, 1.0]
    assert last_lstm.tolist() == [1.0, 128 / 256]


def test_pick_proposes_the_corner_a_monotone_model_points_to():
    known = torch.cat([corners(SPACE)[::7], rows((1, 1, 100, 100), (2, 1, 150, 150, 150))])
    units = known[:, 2:].to(torch.float64).sum(dim=1)
    scores = units / units.max() - 0.3 * (known[:, 1] - 1)  # bigger is better, one dense best
    candidates = torch.cat([corners(SPACE), known])
    best = pick(candidates, known, scores, 1, SPACE)[0]
    assert best[1] == 1 and (best[2:2 + int(best[0])] == SPACE.max_units).all()
    assert not (known == best).all(dim=1).any()  # a genome not trained yet comes first
