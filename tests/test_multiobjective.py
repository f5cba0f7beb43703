"""The Pareto search's parts: exact parameter counts, the hypervolume and knee, the front of
what was measured, NSGA-II's offspring and promotion, Optuna's NSGA-II as a proposal rule,
the refusals, and exact resume (a fast noisy stand-in fitness)."""
from __future__ import annotations

import dataclasses
import itertools

import pytest
import torch

from galstm_torch.config import Config, GAConfig, ReferenceConfig
from galstm_torch.errors import ConfigError
from galstm_torch.ga.fidelity.evaluator import Evaluator
from galstm_torch.ga.fidelity.rungs import Schedule
from galstm_torch.ga.genome.encoding import (
    SearchSpace,
    check_population,
    decode,
    from_compact,
    random_population,
)
from galstm_torch.ga.guide.front_pick import pick_front
from galstm_torch.ga.pareto.goals import FrontPoint, Goals
from galstm_torch.ga.pareto.hypervolume import hypervolume, knee
from galstm_torch.ga.pareto.objectives import largest, param_counts
from galstm_torch.ga.search.loop import Search
from galstm_torch.persist import checkpoint
from galstm_torch.persist.checkpoint import Checkpoints
from galstm_torch.persist.records import Tables
from galstm_torch.training.architecture import Architecture, parse_compact
from galstm_torch.training.model import build_model, count_parameters
from galstm_torch.training.trainer import TrainSettings

from test_search_quality import NoisyExecutor, rows

SPACE = SearchSpace()
GOALS = Goals(("accuracy", "params"), SPACE)


@pytest.mark.parametrize("n_features,n_classes", [(28, 10), (5, 3)])
def test_parameter_counts_match_the_built_models(n_features, n_classes):
    g = torch.Generator().manual_seed(3)
    population = torch.cat([random_population(60, SPACE, generator=g), largest(SPACE)])
    counted = param_counts(population, SPACE, n_features=n_features, n_classes=n_classes)
    built = [count_parameters(build_model(decode(row, SPACE), n_features=n_features,
                                          n_classes=n_classes)) for row in population]
    assert counted.tolist() == built


def _inclusion_exclusion(points: torch.Tensor) -> float:
    """Reference: the union of boxes [0, p] by inclusion-exclusion (exact, small sets)."""
    total = 0.0
    for k in range(1, len(points) + 1):
        for subset in itertools.combinations(range(len(points)), k):
            total += (-1) ** (k + 1) * float(points[list(subset)].min(dim=0).values.prod())
    return total


@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_hypervolume_equals_inclusion_exclusion_on_random_fronts(m):
    g = torch.Generator().manual_seed(m)
    for _ in range(20):
        points = torch.rand(7, m, generator=g, dtype=torch.float64)
        got = hypervolume(points, torch.zeros(m), torch.ones(m))
        assert got == pytest.approx(_inclusion_exclusion(points), abs=1e-12)


def test_hypervolume_by_hand_and_below_the_reference():
    ref, ideal = torch.tensor([0.5, -1000.0]), torch.tensor([1.0, 0.0])
    # (0.9, 100 params) and (0.7, 10 params): 0.4*0.9 + 0.2*0.09 of the box 0.5*1000
    points = torch.tensor([[0.9, -100.0], [0.7, -10.0], [0.4, -1.0], [0.99, -2000.0]])
    assert hypervolume(points, ref, ideal) == pytest.approx(0.4 * 0.9 / 0.5 + 0.2 * 0.09 / 0.5)
    assert hypervolume(points[2:], ref, ideal) == 0.0  # each is worse than the reference once
    with pytest.raises(ValueError, match="must be worse than the ideal"):
        hypervolume(points, torch.tensor([1.0, -1.0]), ideal)


def test_the_knee_is_the_balanced_point_not_an_extreme():
    front = torch.tensor([[0.99, -1e6], [0.97, -1e5], [0.5, -1e3]])
    assert knee(front) == 1
    assert knee(torch.tensor([[0.9, -5.0], [0.9, -5.0]])) == 0  # ties: the first


def _point(compact, accuracy, params):
    return FrontPoint(Architecture.from_compact(compact), accuracy, 1, params, float("nan"))


def test_goals_front_keeps_the_nondominated_and_the_automatic_reference():
    a = _point([1, 1, 32, 32], 0.6, 9_000)
    b = _point([2, 1, 64, 64, 64], 0.9, 80_000)
    c = _point([2, 1, 64, 64, 32], 0.8, 90_000)  # dominated by b
    d = _point([1, 1, 64, 64], 0.9, 80_000)      # equal to b: on the front too
    assert GOALS.nondominated([a, b, c, d]) == [a, b, d]
    ref = GOALS.reference_point()
    assert ref == {"accuracy": 0.1, "params": float(param_counts(largest(SPACE), SPACE,
                                                                   n_features=28, n_classes=10)[0])}
    assert 0 < GOALS.hypervolume([a, b]) < 1 and GOALS.hypervolume([]) == 0.0
    assert GOALS.hypervolume([a, b]) > GOALS.hypervolume([b])


def test_pick_front_takes_fresh_genomes_spread_along_the_predicted_front():
    g = torch.Generator().manual_seed(0)
    known = random_population(40, SPACE, generator=g)
    scores = known[:, 2:].sum(1).double() / 1000  # more units: more accurate (and bigger)
    candidates = torch.cat([random_population(80, SPACE, generator=g), known[:3]])
    chosen = pick_front(candidates, known, scores, 6, GOALS)
    check_population(chosen, SPACE)
    assert len(torch.unique(chosen, dim=0)) == 6
    assert not (chosen.unsqueeze(1) == known.unsqueeze(0)).all(2).any()
    params = GOALS.params(chosen)
    pool = GOALS.params(candidates[:80])
    assert params.min() == pool.min()  # the cheapest extreme of the predicted front is kept


def search(tmp, config: GAConfig, executor: NoisyExecutor, start: int = 0) -> Search:
    """A search with the stand-in fitness; a Pareto search when config has objectives."""
    evaluator = Evaluator(executor, TrainSettings(), run_seed=0, budget=config.budget_epochs)
    schedule = Schedule(tuple(config.rungs), promote=config.promote, seeds=config.seeds)
    sinks = [Tables(tmp, SPACE, start_generation=start), Checkpoints(tmp / "checkpoint")]
    return Search(SPACE, config, evaluator, sinks,
                  generator=torch.Generator().manual_seed(0),
                  config_hash="test", schedule=schedule,
                  goals=Goals(tuple(config.objectives), SPACE))


def mo(**overrides) -> GAConfig:
    base = dict(strategy="nsga2", objectives=["accuracy", "params"], pop_size=8, generations=None,
                budget_epochs=24.0, rungs=[1.0], seeds=1, elitism=0, tournament_size=2,
                mutation_rate=0.3, guide=0)
    return GAConfig(**{**base, **overrides})


@pytest.mark.parametrize("guide", [0, 4])
def test_nsga2_search_returns_its_front_and_resumes_exactly(tmp_path, guide):
    config = mo(guide=guide)
    whole = search(tmp_path / "whole", config, NoisyExecutor()).run()
    pareto = whole.best.pareto
    assert pareto is not None and pareto.knee in pareto.front
    assert GOALS.nondominated(list(pareto.front)) == list(pareto.front)
    run = tmp_path / "stopped"
    with pytest.raises(KeyboardInterrupt):
        search(run, config, NoisyExecutor(stop_after=13)).run()
    state = checkpoint.load(run / "checkpoint")
    resumed = search(run, config, NoisyExecutor(),
                     start=state.generation + (state.phase == "evaluated"))
    resumed.restore(state)
    again = resumed.run()
    assert torch.equal(again.population, whole.population)
    assert again.best.to_json() == whole.best.to_json() and rows(run) == rows(tmp_path / "whole")


def test_rungs_promote_the_extremes_of_the_screened_front(tmp_path):
    config = mo(rungs=[0.25, 1.0], promote=0.25, budget_epochs=None, generations=1)
    executor = NoisyExecutor()
    search(tmp_path, config, executor).run()
    screened = [r for r in rows(tmp_path) if r["fidelity"] == "0.25"]
    promoted_ = {t.compact for t in executor.tasks if t.fidelity is None}
    assert len(screened) == 8 and len(promoted_) == 2  # ceil(8 * 0.25)
    genomes = [parse_compact(r["genome"]) for r in screened]
    params = GOALS.params(torch.stack([from_compact(list(c), SPACE) for c in genomes]))
    most_accurate = max(range(8), key=lambda i: float(screened[i]["fitness"]))
    # both ends of the screened front have infinite crowding: they go up first
    assert promoted_ == {genomes[most_accurate], genomes[int(params.argmin())]}


def test_optuna_nsga2_proposals_are_valid_and_seeded():
    from galstm_torch.ga.strategies.optuna_samplers.nsga2 import nsga2_sampler
    from galstm_torch.ga.strategies.optuna_samplers.study import propose
    from galstm_torch.ga.strategies.optuna_samplers.tpe import tpe_sampler

    g = torch.Generator().manual_seed(1)
    pop = random_population(16, SPACE, generator=g)
    history = [(decode(r, SPACE).compact, (float(i) / 16, float(GOALS.params(r[None])[0])),
                i // 8) for i, r in enumerate(pop)]
    for sampler in (nsga2_sampler, tpe_sampler):  # Optuna's NSGA-II, its multi-objective TPE
        kw = dict(seed=3, sampler=sampler, directions=("maximize", "minimize"), generation=2)
        a, b = propose(history, 8, SPACE, **kw), propose(history, 8, SPACE, **kw)
        check_population(a, SPACE)
        assert a.shape == (8, SPACE.n_genes) and torch.equal(a, b)


def test_optuna_nsga2_asks_belong_to_the_generation_proposed():
    """A last generation with fewer distinct genomes than the population is still whole:
    the new asks are the next generation, bred from parents that include it."""
    import optuna

    from galstm_torch.ga.strategies.optuna_samplers.nsga2 import nsga2_sampler

    sampler = nsga2_sampler(optuna, 8, seed=0, generation=2)
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    key = sampler._get_generation_key()
    dist = optuna.distributions.FloatDistribution(0, 1)
    for i in range(15):  # generation 0: 8 trials, generation 1: only 7 (a cache hit)
        study.add_trial(optuna.trial.create_trial(
            params={"x": i / 15}, distributions={"x": dist}, values=[i / 15, i / 15],
            system_attrs={key: 0 if i < 8 else 1}))
    trial = study.ask()
    trial.suggest_float("x", 0, 1)
    assert study._storage.get_trial(trial._trial_id).system_attrs[key] == 2
    parents = {t.number for t in sampler.get_parent_population(study, 2)}
    assert parents & set(range(8, 15))  # the newest generation's results can be parents


@pytest.mark.parametrize("changes,message", [
    ({"objectives": ["accuracy", "size"]}, "each must be one of accuracy, params, latency"),
    ({"objectives": ["params", "accuracy"]}, "must start with accuracy"),
    ({"objectives": ["accuracy", "params", "params"]}, "must not repeat"),
    ({"elitism": 2}, "ga.elitism=2: NSGA-II keeps the best fronts itself"),
    ({"tournament_size": 3}, "binary tournament"),
    ({"seeds": 3, "confirm": 1}, "ga.seeds=3 races one leader"),
    ({"objectives": ["accuracy", "params", "latency"]}, "state the hypervolume's reference latency"),
    ({"objectives": ["accuracy", "params", "latency"], "reference": ReferenceConfig(latency=0.01),
      "guide": 4}, "no model of latency"),
    ({"reference": ReferenceConfig(latency=0.01)}, "names an objective this search does not have"),
    ({"reference": ReferenceConfig(accuracy=1.5)}, "ga.reference.accuracy=1.5 is out of range"),
    ({"objectives": ["accuracy"], "strategy": "optuna_nsga2"}, "is a Pareto search"),
    ({"latency_batch": 0}, "ga.latency_batch=0 is out of range"),
    ({"latency_batch": 8}, "latency is not in ga.objectives"),
    ({"guide_pick": "best"}, "ga.guide_pick=best is out of range"),
    ({"strategy": "ga", "objectives": ["accuracy"], "guide_pick": "improvement"},
     "picks a Pareto search's children"),
    ({"strategy": "ga", "objectives": ["accuracy"], "reference": ReferenceConfig(accuracy=0.5)},
     "reference point of a Pareto search"),
])
def test_settings_a_pareto_search_cannot_apply_are_refused_in_one_line(changes, message):
    from galstm_torch.app import to_config

    with pytest.raises(ConfigError) as err:
        to_config(dataclasses.replace(Config(), ga=mo(**changes)))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_latency_is_timed_only_by_the_serial_executor():
    from galstm_torch.app import to_config
    from galstm_torch.config import ExecutorConfig

    ga_cfg = mo(objectives=["accuracy", "params", "latency"],
                reference=ReferenceConfig(latency=0.01))
    with pytest.raises(ConfigError, match="the latency objective with executor=pool"):
        to_config(dataclasses.replace(Config(), ga=ga_cfg, executor=ExecutorConfig(name="pool")))
    to_config(dataclasses.replace(Config(), ga=ga_cfg))  # serial: accepted


def test_resume_auto_accepts_a_checkpoint_hashed_before_the_pareto_keys():
    """A run started before ga.objectives existed was hashed without it: resume=auto after
    an upgrade still recognises it, and only while the new keys keep the old behaviour."""
    from omegaconf import OmegaConf

    from galstm_torch.persist.migrate import ADDED
    from galstm_torch.persist.resume import config_hash, known_hashes

    from conftest import compose_cfg

    cfg = compose_cfg()
    old = OmegaConf.to_container(cfg)
    for key in (k for era in ADDED for k in era):
        node, *path = key.split(".")[::-1]
        parent = old
        for part in reversed(path):
            parent = parent[part]
        del parent[node]
    old_hash = config_hash(OmegaConf.create(old))
    assert old_hash in known_hashes(cfg) and old_hash != config_hash(cfg)
    assert old_hash not in known_hashes(compose_cfg("ga.objectives=[accuracy,params]"))


def test_single_objective_runs_are_unchanged_by_the_pareto_code(tmp_path):
    """ga.objectives=[accuracy] (the default) searches as before: no front, no Pareto files."""
    result = search(tmp_path, GAConfig(pop_size=6, generations=2, mutation_rate=0.3),
                    NoisyExecutor()).run()
    assert result.best.pareto is None
    assert not (tmp_path / "pareto.csv").exists() and not (tmp_path / "fronts.csv").exists()


def test_greedy_improvement_adds_the_largest_gain_first_and_stops_when_nothing_adds():
    from galstm_torch.ga.guide.improvement import greedy_improvement

    goals = Goals(("accuracy", "params"), SPACE, reference={"accuracy": 0.5, "params": 1000.0})
    front = torch.tensor([[0.9, -500.0]], dtype=torch.float64)
    points = torch.tensor([[0.8, -600.0],    # dominated by the front: adds nothing
                           [0.95, -400.0],   # dominates the front member: gains 0.14
                           [0.7, -100.0],    # a cheap point: gains 0.16 of the box
                           [0.95, -400.0]], dtype=torch.float64)  # the same as 1
    assert greedy_improvement(points, front, 4, goals) == [2, 1]


def test_pick_improving_returns_fresh_distinct_children():
    from galstm_torch.ga.guide.improvement import pick_improving

    g = torch.Generator().manual_seed(2)
    known = random_population(12, SPACE, generator=g)
    accuracy = 0.5 + known[:, 2:].sum(1).double() / 3000
    front = GOALS.matrix(GOALS.nondominated([
        FrontPoint(decode(r, SPACE), float(a), 1, int(GOALS.params(r[None])[0]), float("nan"))
        for r, a in zip(known, accuracy)]))
    candidates = torch.cat([random_population(50, SPACE, generator=g), known[:4]])
    chosen = pick_improving(candidates, known, known, accuracy, front, 6, GOALS)
    check_population(chosen, SPACE)
    assert len(torch.unique(chosen, dim=0)) == 6
    assert not (chosen.unsqueeze(1) == known.unsqueeze(0)).all(2).any()


def test_ucb_optimism_is_largest_where_no_genome_was_measured():
    """Every measured genome has two dense blocks: candidates with one get more optimism."""
    from galstm_torch.ga.guide.improvement import optimistic_accuracy

    g = torch.Generator().manual_seed(4)
    known = random_population(10, SPACE, generator=g)
    known[:, 1] = 2
    known[:, SPACE.dense_slots] = torch.tensor([100, 120, 0])
    accuracy = 0.5 + known[:, 2:5].sum(1).double() / 3000
    one_dense = known[:3].clone()
    one_dense[:, 1], one_dense[:, SPACE.max_lstm_layers + 3] = 1, 0
    candidates = torch.cat([known[:3], one_dense])
    plain = optimistic_accuracy(candidates, known, accuracy, GOALS)
    ucb = optimistic_accuracy(candidates, known, accuracy, GOALS, posterior=True)
    extra = ucb - plain  # the same prediction: only the optimism differs
    assert (extra[3:] > extra[:3].max()).all()
