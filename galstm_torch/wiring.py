"""The search's parts, made from a validated config: the training settings, the rungs'
schedule and the objectives."""
from __future__ import annotations

from galstm_torch.config import Config
from galstm_torch.data.load import DataSpec
from galstm_torch.ga.fidelity.rungs import Schedule
from galstm_torch.ga.genome.encoding import SearchSpace
from galstm_torch.ga.pareto.goals import Goals
from galstm_torch.training.trainer import TrainSettings


def train_settings(cfg: Config) -> TrainSettings:
    t, m = cfg.trainer, cfg.model
    return TrainSettings(epochs=t.epochs, batch_size=t.batch_size, lr=t.lr, adam_eps=t.adam_eps,
                         dropout=m.dropout, l2=m.l2, init=m.init, fitness_split=t.fitness_split,
                         eval_batch_size=t.eval_batch_size, precision=t.precision,
                         lr_schedule=t.lr_schedule, screen_batch_size=t.screen_batch_size or 0,
                         latency_batch=cfg.ga.latency_batch if "latency" in cfg.ga.objectives else 0)


def schedule(cfg: Config) -> Schedule:
    """The rungs (in epochs) and the seeds policy of a search."""
    ga = cfg.ga
    return Schedule(tuple(r * cfg.trainer.epochs for r in ga.rungs), promote=ga.promote,
                    seeds=ga.seeds, confirm=ga.confirm)


def goals_of(cfg: Config) -> Goals:
    """The search's objectives (one: accuracy; several: a Pareto search, whose params count
    needs the data's shape: a tensor file is read once)."""
    space, names = SearchSpace.of(cfg.model, cfg.space), tuple(cfg.ga.objectives)
    if len(names) == 1:
        return Goals(names, space)
    n_features, n_classes = DataSpec.of(cfg.data, cfg.trainer.val_fraction).shape()
    return Goals(names, space, n_features, n_classes, cfg.ga.reference.stated())
