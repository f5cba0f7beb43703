"""Bounds a config must respect before any training: values a machine cannot hold or a
training cannot use, and, for mode=evaluate, the configured search space."""
from __future__ import annotations

import math
from typing import Any

from galstm_torch.data.images import TRAIN_IMAGES, too_few_val_images
from galstm_torch.errors import ConfigError
from galstm_torch.training.architecture import Architecture


def check(ok: bool, key: str, value: Any, allowed: str) -> None:
    """Raise ConfigError naming the key, its value and what is allowed."""
    if not ok:
        raise ConfigError(f"{key}={value} is out of range: {allowed}")


MAX_POP = 100_000      # a population tensor, its candidates and its cache stay in memory
MAX_GUIDE = 1_000      # candidates per child the guide scores
MAX_SEED = 2**63 - 1   # torch.Generator.manual_seed and derive_seed take 63-bit seeds


def _finite_positive(key: str, value: float) -> None:
    check(math.isfinite(value) and value > 0, key, value, "must be a finite number > 0")


def bounds(cfg: Any) -> None:
    """Values a machine cannot hold, or a training cannot use, before any training starts."""
    ga, trainer = cfg.ga, cfg.trainer
    check(0 <= cfg.seed <= MAX_SEED, "seed", cfg.seed, "must be in [0, 2**63 - 1]")
    check(ga.pop_size <= MAX_POP, "ga.pop_size", ga.pop_size, f"must be at most {MAX_POP:,}")
    check(ga.guide <= MAX_GUIDE, "ga.guide", ga.guide, f"must be at most {MAX_GUIDE}")
    check(trainer.epochs >= 1, "trainer.epochs", trainer.epochs,
          "must be at least 1 (0 would record untrained models)")
    # BatchNorm needs two samples per batch: a batch of one is skipped, so nothing trains.
    check(trainer.batch_size >= 2, "trainer.batch_size", trainer.batch_size, "must be at least 2")
    for key in ("lr", "adam_eps"):
        _finite_positive(f"trainer.{key}", getattr(trainer, key))
    check(math.isfinite(cfg.model.l2) and cfg.model.l2 >= 0, "model.l2", cfg.model.l2,
          "must be a finite number >= 0")
    if ga.budget_epochs is not None:
        _finite_positive("ga.budget_epochs", ga.budget_epochs)
    _validation_split(cfg.data, trainer)


def _validation_split(data: Any, trainer: Any) -> None:
    """A fitness on the validation split needs MIN_VAL_IMAGES images in it (data.py). The
    image data sets' size is known here; a tensor file's is checked when it loads (app.py)."""
    size = TRAIN_IMAGES.get(data.name)
    if trainer.fitness_split != "val" or size is None or not 0 < trainer.val_fraction < 1 \
            or (data.train_samples is not None and data.train_samples < 1):
        return
    problem = too_few_val_images(min(data.train_samples or size, size), trainer.val_fraction)
    if problem is not None:
        raise ConfigError(problem)


def in_space(arch: Architecture, model: Any, genome: list[int]) -> None:
    """mode=evaluate trains only genomes of the configured search space (a genome the search
    could never propose would not be comparable with its results)."""
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


def validate_data(data: Any) -> None:
    if data.path is not None and data.name != "tensors":
        raise ConfigError(f"data.path={data.path} is read only with data=tensors "
                          f"(data.name={data.name}): add data=tensors, or drop data.path")
    for key in ("train_samples", "test_samples"):
        value = getattr(data, key)
        check(value is None or value >= 1, f"data.{key}", value, "must be >= 1 or null for all")
