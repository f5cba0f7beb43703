"""The rules that read more than one section of the config, in one place: each section's
own ranges are checked beside its schema first (``check``), then these, in the order a user
meets them. Each raises ConfigError in one line naming the setting and the fix."""
from __future__ import annotations

import dataclasses
from typing import Any

from galstm_torch.config.capabilities import check_device, check_latency, check_training
from galstm_torch.config.sections import ModelConfig
from galstm_torch.data.images import TRAIN_IMAGES, too_few_val_images
from galstm_torch.errors import ConfigError, check
from galstm_torch.ga.genome.encoding import SearchSpace, from_compact
from galstm_torch.ga.strategies.registry import strategy_of
from galstm_torch.training.architecture import Architecture


def check_rules(cfg: Any) -> None:
    """Raise ConfigError naming the first setting that cannot apply with the others."""
    _mode(cfg)
    _validation_split(cfg.data, cfg.trainer)
    _budget(cfg.ga, cfg.trainer, cfg.mode)
    _screening(cfg.ga, cfg.trainer)
    check_training(cfg.executor.name, list(cfg.ga.rungs), cfg.tensorboard.curves,
                   cfg.space.name == "extended")
    _genes(cfg.space, cfg.model)
    check_device(cfg.executor, cfg.trainer.device)
    strategy_of(cfg.ga.strategy).check(cfg)  # what the strategy cannot apply (its own module)
    _objectives(cfg.ga, cfg.executor.name)


def _mode(cfg: Any) -> None:
    """mode=evaluate trains one genome of the configured space; a search reads no genome."""
    if cfg.mode != "evaluate":
        if cfg.genome is not None:  # a search would silently ignore it
            raise ConfigError(f"genome={list(cfg.genome)} is read only by mode=evaluate: add "
                              "mode=evaluate to train this genome, or drop genome= to search")
        return
    if cfg.resume:
        raise ConfigError("resume continues a search; drop mode=evaluate (or resume)")
    if cfg.genome is None:
        raise ConfigError("mode=evaluate needs a genome: add genome=[3,1,135,41,126,47] "
                          "([n_lstm, n_dense, lstm units..., dense units...])")
    try:
        arch = Architecture.from_compact(cfg.genome)
    except ValueError as err:
        raise ConfigError(f"genome={list(cfg.genome)} is not a genome: {err}") from None
    _in_space(arch, cfg.model, list(cfg.genome))
    space = SearchSpace.of(cfg.model, cfg.space)
    # Evaluate mode trains exactly the genome: its length says which space it is of (an
    # article genome under a preset of space=extended too); the genes' bounds still apply.
    space = dataclasses.replace(space, genes=arch.genes is not None)
    try:
        from_compact(list(cfg.genome), space)
    except ValueError as err:
        raise ConfigError(f"genome={list(cfg.genome)} is outside the search space: "
                          f"{err}") from None


def _genes(space: Any, model: Any) -> None:
    """space=extended's dropout genes replace model.dropout, which would be ignored."""
    if space.name == "extended" and model.dropout != ModelConfig.dropout:
        raise ConfigError(f"model.dropout={model.dropout} cannot apply with space=extended, "
                          "where each dense block's dropout is a gene: bound it with "
                          "space.max_dropout, or use space=article")


def _in_space(arch: Architecture, model: Any, genome: list[int]) -> None:
    """A genome the search could never propose would not be comparable with its results."""
    limits = [(len(arch.lstm_units), model.max_lstm_layers, "LSTM layers", "model.max_lstm_layers"),
              (len(arch.dense_units), model.max_dense_layers, "dense layers",
               "model.max_dense_layers"),
              (max(arch.lstm_units + arch.dense_units), model.max_units, "units", "model.max_units")]
    for value, bound, what, key in limits:
        if value > bound:
            raise ConfigError(f"genome={genome} has {value} {what}, above {key}={bound}: "
                              f"fix the genome or raise {key}")
    low = min(arch.lstm_units + arch.dense_units)
    if low < model.min_units:
        raise ConfigError(f"genome={genome} has a layer of {low} units, below "
                          f"model.min_units={model.min_units}: fix the genome or lower "
                          "model.min_units")


def _validation_split(data: Any, trainer: Any) -> None:
    """A fitness on the validation split needs MIN_VAL_IMAGES images in it (data/images.py).
    The image data sets' size is known here; a tensor file's is checked when it loads."""
    size = TRAIN_IMAGES.get(data.name)
    if trainer.fitness_split != "val" or size is None or not 0 < trainer.val_fraction < 1 \
            or (data.train_samples is not None and data.train_samples < 1):
        return
    problem = too_few_val_images(min(data.train_samples or size, size), trainer.val_fraction)
    if problem is not None:
        raise ConfigError(problem)


def least_budget(ga: Any, epochs: int) -> float:
    """The least compute that brings one genome to the target fidelity, by the strategy's
    own reckoning (successive halving's, or DEHB's brackets)."""
    return strategy_of(ga.strategy).least_budget(ga, epochs)


def _budget(ga: Any, trainer: Any, mode: str) -> None:
    if ga.budget_epochs is not None and mode == "search":  # evaluate mode trains one genome
        least = least_budget(ga, trainer.epochs)
        check(ga.budget_epochs >= least - 1e-9, "ga.budget_epochs", ga.budget_epochs,
              f"must bring at least one genome to the target fidelity ({least:g} epochs "
              f"with ga.pop_size={ga.pop_size} and ga.rungs={list(ga.rungs)})")


def _screening(ga: Any, trainer: Any) -> None:
    if trainer.screen_batch_size is not None and len(ga.rungs) == 1:
        raise ConfigError(f"trainer.screen_batch_size={trainer.screen_batch_size} sets the "
                          f"batch of screening rungs, and ga.rungs={list(ga.rungs)} has none: "
                          "add a lower rung (ga.rungs=[0.333,1.0]) or drop the setting")


def _objectives(ga: Any, executor: str) -> None:
    """Pareto settings a single-objective search cannot apply, and what a Pareto search
    cannot."""
    if len(ga.objectives) == 1:
        if ga.guide_pick != "crowding":
            raise ConfigError(f"ga.guide_pick={ga.guide_pick} picks a Pareto search's children: "
                              "add an objective (ga=nsga2), or drop it")
        if ga.reference.stated():
            raise ConfigError(f"ga.reference={ga.reference.stated()} is the hypervolume's "
                              "reference point of a Pareto search: add an objective (ga=nsga2), "
                              "or drop it")
        return
    if "latency" in ga.objectives:
        check_latency(executor)
    if ga.seeds > 1:
        raise ConfigError(f"ga.seeds={ga.seeds} races one leader, and a Pareto search has a "
                          "front of them: set ga.seeds=1")
