"""The guide's surrogate (ga.guide): its features, per-rung standardization, the corners of
the unit box, and the pick of the candidates it predicts best."""
from __future__ import annotations

import pytest
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


def _fake_cache(scores: "dict[tuple[int, ...], list[float]]"):
    """An evaluator's view of the cache as posterior.py reads it: the seeds' outcomes of each
    genome at the one (target) fidelity."""
    from types import SimpleNamespace

    def replicates(arch, fidelity=None):
        return [SimpleNamespace(status="ok", evaluation=SimpleNamespace(fitness=f))
                for f in scores.get(arch.compact, [])]

    return SimpleNamespace(replicates=replicates)


def test_posterior_mean_lifts_a_predicted_good_genome_whose_one_seed_was_unlucky():
    from galstm_torch.ga.fidelity.rungs import Schedule
    from galstm_torch.ga.guide.posterior import posterior_means, rescued
    from galstm_torch.training.architecture import Architecture

    space = SearchSpace(max_lstm_layers=1, max_dense_layers=1)
    noise = torch.Generator().manual_seed(3)
    scores = {}
    for lstm in range(40, 257, 8):  # fitness rises with the LSTM's width, plus seed noise
        for dense in (64, 192):
            true = 0.5 + lstm / 1000
            seeds = 3 if lstm % 48 == 0 else 1
            scores[(1, 1, lstm, dense)] = [true + 0.01 * float(torch.randn(1, generator=noise))
                                           for _ in range(seeds)]
    unlucky = (1, 1, 256, 64)
    scores[unlucky] = [0.5 + 256 / 1000 - 0.06]  # its one seed fell 6 noise sd low
    seen = [Architecture.from_compact(c) for c in scores]
    schedule = Schedule((1.0,), seeds=3)
    post = posterior_means(_fake_cache(scores), seen, schedule, space)
    assert post[unlucky] > scores[unlucky][0] + 0.03  # pulled most of the way back up
    # closer to the truth than the measured means, on average over every genome
    error = {c: abs(sum(s) / len(s) - (0.5 + c[2] / 1000)) for c, s in scores.items()}
    assert sum(abs(post[c] - (0.5 + c[2] / 1000)) for c in scores) < 0.8 * sum(error.values())
    assert rescued(_fake_cache(scores), seen, schedule=schedule, space=space, k=3)[0].compact[2] >= 240
    # no genome with several seeds yet: no estimate of the seed noise, nothing to rescue
    single = {c: s[:1] for c, s in scores.items()}
    assert posterior_means(_fake_cache(single), seen, schedule, space) == {}


def test_rescue_without_racing_is_refused_in_one_line():
    from galstm_torch.app import to_config
    from galstm_torch.errors import ConfigError

    from conftest import compose_cfg

    with pytest.raises(ConfigError, match=r"ga.rescue=1 races genomes to ga.seeds seeds, but "
                                          r"ga.seeds=1"):
        to_config(compose_cfg("ga.rescue=1", "ga.seeds=1"))
