"""Progress bars appear only on terminals; observers never change what a training measures."""
from __future__ import annotations

import io

import pytest
import torch

from galstm_torch.execution.executor import Outcome
from galstm_torch.ga.fidelity.evaluator import Result
from galstm_torch.ga.search.events import (
    Best,
    GenerationDone,
    GenerationInfo,
    GenerationStarted,
    GenomeTrained,
)
from galstm_torch.observe.progress import Progress, bars_enabled
from galstm_torch.training.architecture import Architecture
from galstm_torch.training.observers import CurveCollector, Observers
from galstm_torch.training.trainer import Evaluation, TrainSettings, steps_per_epoch, train

from conftest import one_seed_row, sample

CPU = torch.device("cpu")


class Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_bars_only_when_asked_and_every_stream_is_a_terminal():
    assert bars_enabled(True, Stream(True), Stream(True))
    assert not bars_enabled(True, Stream(True), Stream(False))
    assert not bars_enabled(False, Stream(True), Stream(True))
    assert not bars_enabled(True, object())  # no isatty at all: a pipe or a log file


def drive(progress: Progress) -> None:
    progress.start_generation(0, 2, total=3, cached=1, best=None)
    progress.start(Architecture((32,), (16,)), total_steps=30)
    for _ in range(30):
        progress.step(torch.tensor(0.5), torch.tensor(3), 4)
    progress.end()
    progress.genome_done(1, 0.75)
    progress.end_generation(1, 0.75)


def test_enabled_progress_draws_bars_and_disabled_draws_nothing():
    shown, hidden = Stream(True), Stream(False)
    drive(Progress(True, file=shown))
    drive(Progress(False, file=hidden))
    text = shown.getvalue()
    assert "generation 0 (1/2)" in text and "3/3" in text and "best so far 0.7500" in text
    assert "[1,1,32,16]" in text and "batch" in text  # the inner bar of the genome
    assert hidden.getvalue() == ""


def test_the_search_bar_counts_generations_with_the_compute_based_eta():
    shown = Stream(True)
    progress = Progress(True, file=shown)
    arch = Architecture((32,), (16,))
    outcome = Outcome(arch.compact, Evaluation(0.75, 0.75, 0.75, 0.1, 10, 0.0, 0.0))
    result, row = Result(arch, outcome, cache_hit=False), one_seed_row(arch, outcome)
    for generation, eta in ((0, 125.0), (1, 0.0)):
        progress.generation_started(GenerationStarted(
            generation, 2, 1, 0, None, budget=12.0, compute=4.0 * generation,
            eta=None if generation == 0 else 125.0))
        progress.genome_trained(GenomeTrained("k", outcome))
        info = GenerationInfo(generation, 1.0, generation + 1, 0, 4.0 * (generation + 1), eta)
        progress.generation_done(GenerationDone([row], torch.tensor([0.75]),
                                                Best.of(row, 0), info, torch.zeros(1, 4), [result]))
    progress.finish(Best.of(row, 0))
    progress.close()
    text = shown.getvalue()
    assert "search:   0%" in text and "0/2 generations" in text and "ETA after this generation" in text
    assert "1/2 generations" in text and "compute 4.00/12 epochs, ETA 2m0" in text  # 125 s
    assert "2/2 generations" in text and "compute 8.00/12 epochs, done" in text
    assert "generation 1 (2/2)" in text and "<" not in text.split("search:")[-1]  # no tqdm ETA
    assert "None" not in text  # a generation of unknown length counts its trainings


def test_a_generation_of_unknown_length_ends_counting_its_trainings():
    shown = Stream(True)
    progress = Progress(True, file=shown)
    progress.start_generation(1, None, total=None, cached=0, best=None)
    for _ in range(3):
        progress.genome_done(0, 0.5)
    progress.end_generation(0, 0.5)
    assert "generation 1: 3training" in shown.getvalue() and "None" not in shown.getvalue()


def test_curve_points_average_each_window_of_steps():
    curves = CurveCollector(every=2)
    curves.start(Architecture((32,), (16,)), total_steps=3)
    for loss, correct in ((1.0, 2), (3.0, 4), (5.0, 1)):
        curves.step(torch.tensor(loss), torch.tensor(correct), 4)
    curves.end()
    curve = curves.pop()["[1,1,32,16]"]
    assert curve.steps == [2, 3]
    assert curve.loss == pytest.approx([2.0, 5.0])
    assert curve.accuracy == pytest.approx([6 / 8, 1 / 4])
    assert curves.pop() == {}


def test_observers_see_every_step_and_do_not_change_the_result():
    data = sample(train_samples=300, test_samples=100)
    arch, settings = Architecture((32,), (16,)), TrainSettings(batch_size=32, l2=0.0)
    plain = train(arch, data, settings, seed=7, device=CPU).evaluation
    curves, bar = CurveCollector(every=1), Progress(True, file=Stream(True))
    watched = train(arch, data, settings, seed=7, device=CPU,
                                 observer=Observers(curves, bar)).evaluation
    assert (watched.fitness, watched.test_acc, watched.loss) == (plain.fitness, plain.test_acc, plain.loss)
    curve = curves.pop()["[1,1,32,16]"]
    assert len(curve.steps) == steps_per_epoch(len(data.y_train), 32) == 9  # 270 images
    assert sum(loss * n for loss, n in zip(curve.loss, [32] * 8 + [14])) / 270 == pytest.approx(plain.loss)


@pytest.mark.parametrize("n, batch, steps",
                         [(270, 32, 9), (33, 32, 1), (34, 32, 2), (65, 32, 2), (64, 32, 2)])
def test_steps_per_epoch_skips_a_single_sample_batch(n, batch, steps):
    assert steps_per_epoch(n, batch) == steps
