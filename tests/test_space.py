"""space=extended: the learning rate, dropouts and BatchNorm as genes of the same masked
population tensor, carried end to end (operators, compact form, model, trainer, samplers,
surrogate, config refusals)."""
from __future__ import annotations

import math

import pytest
import torch

from galstm_torch.app import to_config
from galstm_torch.errors import ConfigError
from galstm_torch.ga.genome.encoding import (
    SearchSpace,
    active_mask,
    check_population,
    decode,
    from_compact,
    gene_bounds,
    invalid_rows,
    random_population,
    to_compact,
)
from galstm_torch.ga.genome.operators import crossover, mutate_layers, mutate_units, next_generation
from galstm_torch.ga.guide.surrogate import corners, features, pick
from galstm_torch.ga.pareto.objectives import param_counts
from galstm_torch.training.architecture import Architecture, lr_factor
from galstm_torch.training.model import build_model, count_parameters
from galstm_torch.training.trainer import TrainSettings, train

from conftest import compose_cfg, sample

EXTENDED = SearchSpace(min_units=16, max_units=48, genes=True, min_lr_step=-3, max_lr_step=2,
                       max_dropout=4, max_lstm_dropout=3)


def in_bounds(pop: torch.Tensor, space: SearchSpace) -> None:
    """Every row valid, and each active training gene inside its own bounds."""
    check_population(pop, space)
    active, (low, high) = active_mask(pop, space), space.bounds()
    assert bool(((pop >= low) | ~active).all()) and bool(((pop <= high) | ~active).all())


@pytest.mark.parametrize("step", [0.0, 0.2])
def test_operators_keep_every_gene_within_its_own_bounds(gen, step):
    pop = random_population(64, EXTENDED, generator=gen)
    in_bounds(pop, EXTENDED)
    lr_seen: set[int] = set()
    for _ in range(60):
        fitness = torch.rand(len(pop), generator=gen)
        pop = next_generation(pop, fitness, EXTENDED, selection="tournament", elitism=2,
                              crossover_rate=0.5, mutation_rate=0.3, layer_mutation_rate=0.3,
                              tournament_size=3, generator=gen, mutation_step=step)
        in_bounds(pop, EXTENDED)
        lr_seen |= set(pop[:, EXTENDED.lr_column].tolist())
    # the genes do move: the learning-rate step visits its whole range, no value beyond it
    assert lr_seen == set(range(EXTENDED.min_lr_step, EXTENDED.max_lr_step + 1))


def test_each_operator_alone_keeps_the_bounds_and_leaves_its_input(gen):
    pop = random_population(200, EXTENDED, generator=gen)
    before = pop.clone()
    for out in (crossover(pop, EXTENDED, crossover_rate=1.0, generator=gen),
                mutate_units(pop, EXTENDED, mutation_rate=1.0, generator=gen),
                mutate_units(pop, EXTENDED, mutation_rate=1.0, generator=gen, step=1.0),
                mutate_layers(pop, EXTENDED, layer_mutation_rate=1.0, generator=gen)):
        in_bounds(out, EXTENDED)
    assert torch.equal(pop, before)


def test_a_single_lstm_layer_holds_no_lstm_dropout_and_absent_blocks_hold_zeros(gen):
    pop = random_population(300, EXTENDED, generator=gen)
    single = pop[:, 0] == 1
    assert bool((pop[single, EXTENDED.lr_column + 1] == 0).all())
    bad = pop[single][:1].clone()
    bad[0, EXTENDED.lr_column + 1] = 2
    with pytest.raises(ValueError, match="lstm_dropout=2 must be 0: it acts on no layer"):
        check_population(bad, EXTENDED)
    wide = pop[~single][:1].clone()
    wide[0, EXTENDED.lr_column] = EXTENDED.max_lr_step + 1
    assert bool(invalid_rows(wide, EXTENDED).all())


def test_compact_form_round_trips_and_says_which_space_it_belongs_to(gen):
    pop = random_population(50, EXTENDED, generator=gen)
    for row in pop:
        compact = to_compact(row, EXTENDED)
        assert len(compact) == 4 + compact[0] + 3 * compact[1]
        assert torch.equal(from_compact(compact, EXTENDED), row)
        assert decode(row, EXTENDED).compact == compact
    with pytest.raises(ValueError, match="lacks the training genes space=extended needs"):
        from_compact([1, 1, 32, 32], EXTENDED)
    with pytest.raises(ValueError, match="carries training genes"):
        from_compact([1, 1, 32, 32, 0, 0, 2, 1], SearchSpace())
    with pytest.raises(ValueError, match="needs 6 numbers .or 12 with"):
        Architecture.from_compact([2, 2, 32, 32, 32])


def test_samplers_name_the_genes_in_compact_order():
    bounds = gene_bounds(EXTENDED, 1, 2)
    assert list(bounds) == ["lstm_1", "dense_1", "dense_2", "lr_step", "lstm_dropout",
                            "dropout_1", "dropout_2", "batchnorm_1", "batchnorm_2"]
    assert bounds["lstm_dropout"] == (0, 0) and gene_bounds(EXTENDED, 2, 1)["lstm_dropout"] == (0, 3)
    assert bounds["lr_step"] == (-3, 2) and bounds["dropout_2"] == (0, 4)


def test_model_follows_the_training_genes():
    arch = Architecture.from_compact([2, 2, 24, 32, 40, 16, -2, 3, 1, 4, 0, 1])
    model = build_model(arch, dropout=0.2)
    (_, drop1, bn1), (_, drop2, bn2) = model.dense_layers()
    assert (drop1.p, drop2.p) == (0.1, 0.4) and bn1 is None and bn2 is not None
    assert model.between is not None and model.between.p == pytest.approx(0.3)
    assert arch.lr_factor == pytest.approx(10 ** -0.5) and lr_factor(4) == pytest.approx(10.0)
    assert build_model(Architecture.from_compact([2, 1, 24, 32, 40]), dropout=0.2).between is None


def test_parameter_objective_counts_blocks_without_batchnorm(gen):
    pop = random_population(40, EXTENDED, generator=gen)
    exact = [count_parameters(build_model(decode(row, EXTENDED))) for row in pop]
    assert param_counts(pop, EXTENDED, n_features=28, n_classes=10).tolist() == exact


def test_the_article_settings_as_genes_train_bit_for_bit_as_the_article_genome():
    data = sample(300, 100)
    settings = TrainSettings(epochs=0.5, lr_schedule="cosine")
    article = train(Architecture.from_compact([2, 1, 16, 24, 20]), data, settings, seed=3,
                    device=torch.device("cpu")).evaluation
    same = train(Architecture.from_compact([2, 1, 16, 24, 20, 0, 0, 2, 1]), data, settings,
                 seed=3, device=torch.device("cpu")).evaluation
    faster = train(Architecture.from_compact([2, 1, 16, 24, 20, 4, 0, 2, 1]), data, settings,
                   seed=3, device=torch.device("cpu")).evaluation
    assert (same.loss, same.val_acc) == (article.loss, article.val_acc)
    assert faster.loss != article.loss and math.isfinite(faster.loss)


def test_surrogate_learns_the_genes_and_its_corners_are_genomes_of_the_space(gen):
    pop = random_population(80, EXTENDED, generator=gen)
    x = features(pop, EXTENDED)
    assert x.shape[0] == 80 and bool(torch.isfinite(x).all())
    grid = corners(EXTENDED)
    check_population(grid, EXTENDED)
    assert set(grid[:, EXTENDED.lr_column].tolist()) == set(range(-3, 3))
    # scores peaked at lr_step -1: the quadratic term lets the model place the optimum inside
    scores = -(pop[:, EXTENDED.lr_column].double() + 1) ** 2
    chosen = pick(grid, pop, scores, 5, EXTENDED)
    assert set(chosen[:, EXTENDED.lr_column].tolist()) == {-1}


@pytest.mark.parametrize("strategy", ["tpe", "dehb"])
def test_model_based_peers_propose_genomes_of_the_extended_space(strategy):
    if strategy == "tpe":
        import optuna

        from galstm_torch.ga.strategies.optuna_samplers.study import propose

        history = [((1, 1, 20, 30, -1, 0, 2, 1), 0.5, 0), ((2, 1, 20, 30, 40, 2, 3, 0, 0), 0.6, 0)]
        pop = propose(history, 6, EXTENDED, seed=1, sampler=lambda o, n, s, g:
                      optuna.samplers.TPESampler(seed=s))
    else:
        from galstm_torch.ga.strategies.dehb_search import genome, search_space

        cs = search_space(EXTENDED, seed=1)
        pop = torch.stack([from_compact(genome(c, EXTENDED), EXTENDED)
                           for c in cs.sample_configuration(20)])
    in_bounds(pop, EXTENDED)


@pytest.mark.parametrize("overrides, message", [
    (["space=extended", "model.dropout=0.3"], "model.dropout=0.3 cannot apply with space=extended"),
    (["space=extended", "executor=batched"], "executor=batched trains a group of genomes"),
    (["space.max_lr_step=2"], "space.max_lr_step=2 bounds a training gene, which only"),
    (["space=extended", "space.max_dropout=0.35"], "max_dropout=0.35 is out of range: must be a multiple"),
    (["space=extended", "space.min_lr_step=3", "space.max_lr_step=2"], "space.min_lr_step=3"),
    (["space=extended", "mode=evaluate", "genome=[1,1,32,32,9,0,2,1]"], "lr_step=9 must be"),
])
def test_settings_the_space_cannot_apply_are_refused_in_one_line(overrides, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        to_config(compose_cfg(*overrides))


def test_evaluate_mode_trains_a_genome_of_either_space_its_length_says_which():
    for overrides in (["space=extended"], []):
        for genome in ("[1,1,32,32]", "[1,1,32,32,0,0,2,1]"):
            to_config(compose_cfg(*overrides, "mode=evaluate", f"genome={genome}"))


def test_the_extended_config_composes_and_bounds_the_space():
    cfg = to_config(compose_cfg("space=extended", "space.max_dropout=0.3", "space.min_lr_step=-2"))
    space = SearchSpace.of(cfg.model, cfg.space)
    assert (space.genes, space.max_dropout, space.min_lr_step, space.max_lr_step) == \
        (True, 3, -2, 4)
    assert SearchSpace.of(compose_cfg().model, compose_cfg().space) == SearchSpace()
