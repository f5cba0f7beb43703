"""Training on the committed real-MNIST sample: it learns, and it is reproducible."""
from __future__ import annotations

import pytest
import torch

from galstm_torch.execution.executor import SerialExecutor
from galstm_torch.ga.fidelity.evaluator import Evaluator
from galstm_torch.training.architecture import Architecture
from galstm_torch.training.trainer import TrainSettings, train

from conftest import sample as sample_splits

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def sample():
    return sample_splits(train_samples=3000, test_samples=1000, val_fraction=0.1)


def test_short_training_is_clearly_above_chance(sample):
    settings = TrainSettings(epochs=10, init="keras")
    result = train(Architecture((64,), (64,)), sample, settings, seed=1, device=CPU).evaluation
    assert result.test_acc > 0.85
    assert result.fitness == result.val_acc > 0.85
    assert result.params == 4 * (64 * 28 + 64 * 64 + 128) + 64 * 64 + 64 + 128 + 650
    assert result.seconds > 0 and result.samples_per_s > 0


def test_same_genome_same_seed_gives_identical_fitness(sample):
    small = sample_splits(train_samples=600, test_samples=200)
    settings = TrainSettings(fitness_split="test")
    arch = Architecture((40, 32), (48,))
    a = train(arch, small, settings, seed=5, device=CPU).evaluation
    b = train(arch, small, settings, seed=5, device=CPU).evaluation
    c = train(arch, small, settings, seed=6, device=CPU).evaluation
    assert (a.fitness, a.loss, a.val_acc) == (b.fitness, b.loss, b.val_acc)
    assert a.fitness == a.test_acc
    assert c.loss != a.loss


def test_evaluator_caches_and_is_independent_of_order():
    small = sample_splits(train_samples=400, test_samples=100)
    archs = [Architecture((32,), (32,)), Architecture((48,), (40, 32)), Architecture((32,), (32,))]
    def evaluator(settings: TrainSettings) -> Evaluator:
        return Evaluator(SerialExecutor(small, settings, CPU), settings, run_seed=3)

    first = evaluator(TrainSettings())
    results = first.evaluate(archs)
    assert [r.cache_hit for r in results] == [False, False, True]
    assert (first.trained, first.cache_hits) == (2, 1)
    # Another evaluator (a fresh process would do the same) in the reverse order.
    second = evaluator(TrainSettings())
    reverse = second.evaluate(list(reversed(archs[:2])))
    assert reverse[1].evaluation.fitness == results[0].evaluation.fitness
    assert reverse[0].evaluation.loss == results[1].evaluation.loss
    # Different training settings are a different cache key.
    other = evaluator(TrainSettings(batch_size=16))
    assert other.key(archs[0]) != first.key(archs[0])


def test_eval_batch_size_is_not_part_of_the_cache_key():
    # It may change on resume, so it must not change the fitness cache's keys.
    from galstm_torch.ga.fidelity.evaluator import settings_fingerprint

    a = settings_fingerprint(TrainSettings(eval_batch_size=1000), 0, {})
    assert a == settings_fingerprint(TrainSettings(eval_batch_size=10), 0, {})
    assert a != settings_fingerprint(TrainSettings(batch_size=16), 0, {})


def test_cosine_schedule_decays_the_rate_to_zero_over_all_steps():
    from galstm_torch.training.trainer import lr_scheduler

    opt = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
    assert lr_scheduler(opt, "constant", 10) is None
    schedule = lr_scheduler(opt, "cosine", 10)
    rates = []
    for _ in range(10):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        schedule.step()
    assert rates[0] == pytest.approx(0.01) and rates[5] == pytest.approx(0.005)
    assert rates == sorted(rates, reverse=True) and opt.param_groups[0]["lr"] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="lr_schedule=linear is unknown"):
        lr_scheduler(opt, "linear", 10)


def test_cosine_schedule_changes_the_training_and_the_cache_key(sample):
    small = sample_splits(train_samples=600, test_samples=200)
    arch = Architecture((32,), (32,))
    constant = train(arch, small, TrainSettings(), seed=2, device=CPU).evaluation
    cosine = train(arch, small, TrainSettings(lr_schedule="cosine"), seed=2, device=CPU).evaluation
    assert cosine.loss != constant.loss
    from galstm_torch.ga.fidelity.evaluator import settings_fingerprint

    assert (settings_fingerprint(TrainSettings(), 0, {})
            != settings_fingerprint(TrainSettings(lr_schedule="cosine"), 0, {}))
