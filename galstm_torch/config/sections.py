"""The schema's sections (``data.*``, ``model.*``, ``trainer.*``, ``executor.*``,
``final.*``), each with its own ranges beside it (``check``). Their defaults are the default
config: conf/ restates none of them (tests/test_defaults.py). Rules that read two sections
are in rules.py."""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from enum import Enum
from typing import Optional

from galstm_torch.config.capabilities import check_keys
from galstm_torch.errors import ConfigError, check, one_of
from galstm_torch.training.choices import FITNESS_SPLITS, LR_SCHEDULES, PRECISIONS
from galstm_torch.training.model import INITS


@dataclass
class DataConfig:
    name: str = "mnist"  # mnist | fashion_mnist | tensors (conf/data/)
    root: str = "data"   # where MNIST/raw/ lives (conf/data/mnist.yaml: $GALSTM_DATA_ROOT, else
                         # data); offline, point it at existing files (data.root=../shared/data)
    download: bool = True
    train_samples: Optional[int] = None  # first N training images; null = all (60,000)
    test_samples: Optional[int] = None   # first N test images; null = all (10,000)
    path: Optional[str] = None  # data=tensors: a .pt or .npz file of your own sequences

    def check(self) -> None:
        if self.path is not None and self.name != "tensors":
            raise ConfigError(f"data.path={self.path} is read only with data=tensors "
                              f"(data.name={self.name}): add data=tensors, or drop data.path")
        for key in ("train_samples", "test_samples"):
            value = getattr(self, key)
            check(value is None or value >= 1, f"data.{key}", value,
                  "must be >= 1 or null for all")


@dataclass
class ModelConfig:
    """Search space bounds and the fixed parts of every model."""

    max_lstm_layers: int = 3
    max_dense_layers: int = 3
    min_units: int = 32
    max_units: int = 256
    dropout: float = 0.2
    l2: float = 0.001  # Keras-style L2 on the dense kernels, added to the loss
    init: str = "torch"  # torch | keras (Glorot/orthogonal, forget bias 1, Keras BatchNorm)

    def check(self) -> None:
        for key in ("max_lstm_layers", "max_dense_layers"):
            check(getattr(self, key) >= 1, f"model.{key}", getattr(self, key),
                  "must be at least 1")
        check(self.min_units >= 1, "model.min_units", self.min_units, "must be at least 1")
        check(self.min_units <= self.max_units, "model.min_units", self.min_units,
              f"must not exceed model.max_units={self.max_units}")
        check(0.0 <= self.dropout < 1.0, "model.dropout", self.dropout, "must be in [0, 1)")
        check(math.isfinite(self.l2) and self.l2 >= 0, "model.l2", self.l2,
              "must be a finite number >= 0")
        one_of("model.init", self.init, INITS)


class Space(str, Enum):
    ARTICLE = "article"    # layer counts and units: the article's genome
    EXTENDED = "extended"  # also the learning rate, dropouts and BatchNorm, as genes


SPACES = tuple(Space)


@dataclass
class SpaceConfig:
    """What a genome holds (conf/space/): the article's layer counts and units, or with
    space=extended also how each model is trained: a learning-rate step, the dropout between
    LSTM layers and each dense block's dropout and BatchNorm, each within the bounds below
    (the unit bounds are model.*). The bounds are read only by space=extended."""

    name: str = "article"   # article | extended
    min_lr_step: int = -4   # the learning rate is trainer.lr * 10 ** (step / 4): steps -4..4
    max_lr_step: int = 4    # are 1e-4 .. 1e-2 around trainer.lr=1e-3, 9 values on a log grid
    max_dropout: float = 0.5       # each dense block's dropout in 0, 0.1, .., max_dropout
    max_lstm_dropout: float = 0.5  # dropout between stacked LSTM layers in 0, 0.1, .., max

    def check(self) -> None:
        one_of("space.name", self.name, SPACES)
        if self.name == "article":
            for key, default in ((f.name, f.default) for f in fields(self) if f.name != "name"):
                if getattr(self, key) != default:
                    raise ConfigError(f"space.{key}={getattr(self, key)} bounds a training gene, "
                                      "which only space=extended has: add space=extended, or "
                                      "drop it")
            return
        check(-20 <= self.min_lr_step <= self.max_lr_step <= 20, "space.min_lr_step",
              self.min_lr_step, f"must be in [-20, space.max_lr_step={self.max_lr_step}] "
              "(space.max_lr_step at most 20: five decades either side of trainer.lr)")
        for key in ("max_dropout", "max_lstm_dropout"):
            value = getattr(self, key)
            check(0 <= value <= 0.9 and abs(value * 10 - round(value * 10)) < 1e-9,
                  f"space.{key}", value, "must be a multiple of 0.1 in [0, 0.9]")


@dataclass
class TrainerConfig:
    epochs: int = 1
    batch_size: int = 32
    lr: float = 0.001
    lr_schedule: str = "cosine"  # cosine (per-step decay to 0: 2.6x less seed noise,
                                 # docs/search.md) | constant (the article)
    adam_eps: float = 1e-7           # Keras' Adam epsilon
    val_fraction: float = 0.1        # the last 10% of the training images (Keras' validation_split)
    fitness_split: str = "val"       # val | test
    eval_batch_size: int = 1000
    device: str = "auto"             # auto | cpu | cuda | cuda:N
    num_threads: Optional[int] = None  # CPU threads for training (null = PyTorch's default)
    precision: str = "fp32"          # fp32 | bf16 (autocast) | fp16 (autocast + loss scaling;
                                     # CUDA only)
    # screening rungs (ga.rungs below 1.0) at this batch, lr scaled linearly: it ranks as
    # batch 32 does and pays on a GPU, not on CPU (RESULTS.md section 7); null = batch_size
    screen_batch_size: Optional[int] = None
    deterministic: bool = False      # CUDA: deterministic cuDNN/cuBLAS kernels, bit-identical
                                     # reruns (slower; a no-op with a warning on CPU, docs/cluster.md)

    def check(self) -> None:
        check(self.epochs >= 1, "trainer.epochs", self.epochs,
              "must be at least 1 (0 would record untrained models)")
        # BatchNorm needs two samples per batch: a batch of one is skipped, so nothing trains.
        check(self.batch_size >= 2, "trainer.batch_size", self.batch_size, "must be at least 2")
        check(self.eval_batch_size >= 1, "trainer.eval_batch_size", self.eval_batch_size,
              "must be >= 1")
        for key in ("lr", "adam_eps"):
            value = getattr(self, key)
            check(math.isfinite(value) and value > 0, f"trainer.{key}", value,
                  "must be a finite number > 0")
        check(0.0 <= self.val_fraction < 1.0, "trainer.val_fraction", self.val_fraction,
              "must be in [0, 1)")
        one_of("trainer.fitness_split", self.fitness_split, FITNESS_SPLITS)
        if self.fitness_split == "val" and self.val_fraction == 0:
            raise ConfigError("trainer.fitness_split=val needs trainer.val_fraction > 0 "
                              "(or use trainer.fitness_split=test)")
        one_of("trainer.precision", self.precision, PRECISIONS)
        one_of("trainer.lr_schedule", self.lr_schedule, LR_SCHEDULES)
        if self.screen_batch_size is not None:
            check(self.screen_batch_size >= 2, "trainer.screen_batch_size",
                  self.screen_batch_size, "must be >= 2 (BatchNorm needs 2 samples) or null")
        check(self.num_threads is None or self.num_threads >= 1, "trainer.num_threads",
              self.num_threads, "must be >= 1 or null")


@dataclass
class ExecutorConfig:
    """Where trainings run: auto (the default: executors.resolve_executor picks one for the
    machine) or an executor of execution/registry.py, whose Capabilities say which of these
    keys it reads (any other one set is refused). One flat schema rather than one per
    executor, so that a key another executor reads is refused in one line naming it."""

    name: str = "auto"
    address: Optional[str] = None  # null = start a local Ray; auto | host:port | ray://host:port
    num_workers: Optional[int] = None  # null = as many as the cluster's CPUs (or GPUs) allow
    threads_per_worker: Optional[int] = None  # null = trainer.num_threads, or 1 when that is null
    gpus_per_worker: Optional[float] = None  # null = 1 when the cluster has GPUs and device != cpu
    max_group: Optional[int] = None  # batched, graphs: most genomes trained at once (null = all)
    max_restarts: Optional[int] = None  # ray: per worker (null = 3); a genome whose worker died
                                        # is evaluated again as often
    start_timeout_s: Optional[float] = None  # pool, ray: for the workers to start and load the
                                             # data (null = 300 s)

    def check(self) -> None:
        check_keys(self)


@dataclass
class FinalConfig:
    epochs: int = 0  # retrain the best genome from scratch on train+val for N epochs; 0 = skip
    lr_schedule: str = "cosine"  # a long training gains from decaying the rate (RESULTS.md)

    def check(self) -> None:
        check(self.epochs >= 0, "final.epochs", self.epochs, "must be >= 0 (0 = skip)")
        one_of("final.lr_schedule", self.lr_schedule, LR_SCHEDULES)
