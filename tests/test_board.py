"""TensorBoard pieces on hand-made results: no training needed."""
from __future__ import annotations

import math

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import api_pb2, metadata

from galstm_torch.execution.executor import Outcome, Task, failed_outcome
from galstm_torch.ga.fidelity.rungs import Row
from galstm_torch.ga.genome.encoding import SearchSpace
from galstm_torch.observe.tb_hparams import HParamsLog, genome_hparams, session_name
from galstm_torch.training.architecture import Architecture
from galstm_torch.training.trainer import Evaluation

from conftest import one_seed_row


def result(arch: Architecture, fitness: "float | None") -> Row:
    if fitness is None:
        return one_seed_row(arch, failed_outcome(Task(arch.compact, 0), "diverged"))
    e = Evaluation(fitness, fitness, fitness - 0.01, 0.5, 1234, 2.0, 100.0)
    return one_seed_row(arch, Outcome(arch.compact, e))


def session(folder) -> tuple[dict, int, EventAccumulator]:
    acc = EventAccumulator(str(folder))
    acc.Reload()
    content = acc.PluginTagToContent(metadata.PLUGIN_NAME)
    start = metadata.parse_session_start_info_plugin_data(content[metadata.SESSION_START_INFO_TAG])
    end = metadata.parse_session_end_info_plugin_data(content[metadata.SESSION_END_INFO_TAG])
    return dict(start.hparams), end.status, acc


def test_each_genome_gets_one_session_folder_and_failures_are_marked(tmp_path):
    good, bad = Architecture((40, 32), (48,)), Architecture((32,), (40,))
    log = HParamsLog(tmp_path, SearchSpace())
    log.add(result(good, 0.9), 0)
    log.add(result(good, 0.9), 1)  # the same genome again: already has its session
    log.add(result(bad, None), 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["1-1-32-40", "2-1-40-32-48"]
    hparams, status, acc = session(tmp_path / "2-1-40-32-48")
    assert hparams["genome"].string_value == "[2,1,40,32,48]"
    assert [hparams[k].number_value for k in ("n_lstm", "lstm_1", "lstm_2", "lstm_3", "dense_1")] \
        == [2, 40, 32, 0, 48]
    assert status == api_pb2.STATUS_SUCCESS
    assert [(e.step, round(e.value, 4)) for e in acc.Scalars("hparam/fitness")] == [(0, 0.9)]
    hparams, status, acc = session(tmp_path / "1-1-32-40")
    assert hparams["status"].string_value == "failed" and status == api_pb2.STATUS_FAILURE
    assert math.isnan(acc.Scalars("hparam/val_acc")[0].value)


def test_session_names_and_hparams_cover_every_slot():
    space = SearchSpace(max_lstm_layers=2, max_dense_layers=3)
    arch = Architecture((100,), (50, 60))
    assert session_name(arch.compact) == "1-2-100-50-60"
    assert genome_hparams(arch, space) == {"genome": "[1,2,100,50,60]", "n_lstm": 1, "n_dense": 2,
                                           "lstm_1": 100, "lstm_2": 0, "dense_1": 50,
                                           "dense_2": 60, "dense_3": 0}


def test_accuracy_figure_draws_with_no_genome_yet(tmp_path):
    from galstm_torch.observe.plots import accuracy_params_figure, save_png

    save_png(accuracy_params_figure([]), tmp_path / "empty.png")  # every genome failed so far
    assert (tmp_path / "empty.png").stat().st_size > 0


def test_figures_take_at_most_a_twentieth_of_the_wall_time_and_show_the_last_generation(
        tmp_path, monkeypatch):
    """On a GPU a generation takes seconds and drawing the figures about 0.4 s: they are
    drawn again only once 20x their cost has passed, and the end always draws the last."""
    from galstm_torch.ga.genome.encoding import SearchSpace
    from galstm_torch.observe import plots, tb
    from galstm_torch.observe.plots import GenerationPoint
    from galstm_torch.observe.settings import TensorBoardConfig

    clock, drawn = [0.0], []
    monkeypatch.setattr(plots.time, "monotonic", lambda: clock[0])
    board = tb.Board(tmp_path, TensorBoardConfig(hparams=False), SearchSpace())

    def draw(g):  # a drawing that costs 1 s
        drawn.append(g)
        clock[0] += 1.0

    monkeypatch.setattr(board, "_figures", draw)
    for g in range(30):  # generations of 2 s each
        board._maybe_draw(g)
        clock[0] += 2.0
    assert drawn == [0, 10, 20]  # 1 s of drawing per 20 s of wall time
    board.history = [GenerationPoint(29, 0.5, 0.4, 0.3, 0.5, 0.5)]
    board.finish(None)
    assert drawn[-1] == 29
    board.finish(None)  # already drawn: not again
    assert drawn[-1] == 29 and len(drawn) == 4
