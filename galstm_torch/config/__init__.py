"""Typed config schemas (registered in Hydra's ConfigStore) and the one range check.

Hydra merges every YAML file and override into these dataclasses, so a misspelled key or a
wrong type fails before anything runs; ``validate`` then checks ranges and consistency.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from galstm_torch.config.bounds import bounds, check, in_space, validate_data
from galstm_torch.config.capabilities import check_training, validate_executor
from galstm_torch.config.goals import validate_goals
from galstm_torch.errors import ConfigError
from galstm_torch.ga.genome.operators import SELECTIONS
from galstm_torch.ga.search.settings import GAConfig, ReferenceConfig
from galstm_torch.ga.strategies.registry import STRATEGIES, strategy_of
from galstm_torch.observe.settings import TensorBoardConfig
from galstm_torch.training.architecture import Architecture
from galstm_torch.training.model import INITS
from galstm_torch.training.trainer import FITNESS_SPLITS, LR_SCHEDULES, PRECISIONS

__all__ = ["Config", "DataConfig", "ExecutorConfig", "FinalConfig", "GAConfig", "ModelConfig",
           "ReferenceConfig", "TensorBoardConfig", "TrainerConfig", "MODES", "STRATEGIES",
           "least_budget", "register_configs", "validate"]


@dataclass
class DataConfig:
    name: str = "mnist"  # mnist | fashion_mnist | tensors (conf/data/)
    root: str = "data"   # where MNIST/raw/ lives (conf/data/mnist.yaml: $GALSTM_DATA_ROOT, else
                         # data); offline, point it at existing files (data.root=../shared/data)
    download: bool = True
    train_samples: Optional[int] = None  # first N training images; null = all (60,000)
    test_samples: Optional[int] = None   # first N test images; null = all (10,000)
    path: Optional[str] = None  # data=tensors: a .pt or .npz file of your own sequences


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


@dataclass
class ExecutorConfig:
    """Where trainings run: auto (the default: executors.resolve_executor picks one for the
    machine) or an executor of execution/registry.py, whose Capabilities say which of these
    keys it reads (any other one set is refused)."""

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


@dataclass
class FinalConfig:
    epochs: int = 0  # retrain the best genome from scratch on train+val for N epochs; 0 = skip
    lr_schedule: str = "cosine"  # a long training gains from decaying the rate (RESULTS.md)


MODES = ("search", "evaluate")


@dataclass
class Config:
    """The whole configuration. Its defaults are the default config (conf/config.yaml composes
    these schemas; its presets state only what they change; tests/test_defaults.py)."""

    data: DataConfig = field(default_factory=DataConfig)
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    ga: GAConfig = field(default_factory=GAConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    final: FinalConfig = field(default_factory=FinalConfig)
    tensorboard: TensorBoardConfig = field(default_factory=TensorBoardConfig)
    mode: str = "search"                 # search | evaluate (train exactly `genome` once:
                                         # mode=evaluate genome=[3,1,135,41,126,47])
    genome: Optional[List[int]] = None   # compact genome for mode=evaluate
    progress: bool = True                # progress bars (never shown when stdout is not a terminal)
    seed: int = 0
    resume: Optional[str] = None  # a run directory to continue in place (resume=outputs/...), or
                                  # auto: this run's own directory if it holds a checkpoint of
                                  # the same config (docs/cluster.md)


def _in_unit_interval(cfg: Config) -> None:
    for key in ("crossover_rate", "mutation_rate", "layer_mutation_rate"):
        value = getattr(cfg.ga, key)
        check(0.0 <= value <= 1.0, f"ga.{key}", value, "must be in [0, 1]")
    check(0.0 <= cfg.model.dropout < 1.0, "model.dropout", cfg.model.dropout, "must be in [0, 1)")
    check(0.0 <= cfg.trainer.val_fraction < 1.0, "trainer.val_fraction",
           cfg.trainer.val_fraction, "must be in [0, 1)")


def _one_of(key: str, value: str, choices: tuple[str, ...]) -> None:
    check(value in choices, key, value, f"choose one of {', '.join(choices)}")


def _check_outputs(cfg: Config) -> None:
    _one_of("mode", cfg.mode, MODES)
    if cfg.mode == "evaluate":
        if cfg.resume:
            raise ConfigError("resume continues a search; drop mode=evaluate (or resume)")
        if cfg.genome is None:
            raise ConfigError("mode=evaluate needs a genome: add genome=[3,1,135,41,126,47] "
                              "([n_lstm, n_dense, lstm units..., dense units...])")
        try:
            arch = Architecture.from_compact(cfg.genome)
        except ValueError as err:
            raise ConfigError(f"genome={list(cfg.genome)} is not a genome: {err}") from None
        in_space(arch, cfg.model, list(cfg.genome))
    elif cfg.genome is not None:  # a search would silently ignore it
        raise ConfigError(f"genome={list(cfg.genome)} is read only by mode=evaluate: add "
                          "mode=evaluate to train this genome, or drop genome= to search")
    check(cfg.final.epochs >= 0, "final.epochs", cfg.final.epochs, "must be >= 0 (0 = skip)")
    _one_of("final.lr_schedule", cfg.final.lr_schedule, LR_SCHEDULES)
    check(cfg.tensorboard.curve_every >= 1, "tensorboard.curve_every",
           cfg.tensorboard.curve_every, "must be >= 1")


def _engine_checks(trainer: TrainerConfig) -> None:
    _one_of("trainer.precision", trainer.precision, PRECISIONS)
    _one_of("trainer.lr_schedule", trainer.lr_schedule, LR_SCHEDULES)


def least_budget(ga: GAConfig, epochs: int) -> float:
    """The least compute that brings one genome to the target fidelity: with rungs, the whole
    first rung is screened before anyone is promoted; with one rung, one training."""
    first = ga.rungs[0] * epochs * (ga.pop_size if len(ga.rungs) > 1 else 1)
    return first + sum(r * epochs for r in ga.rungs[1:])


def _validate_budget(ga: GAConfig, trainer: TrainerConfig, mode: str) -> None:
    """Generations, budget, rungs and seeds: a setting that cannot apply is refused."""
    check(ga.generations is None or ga.generations >= 1, "ga.generations", ga.generations,
           "must be at least 1, or null with ga.budget_epochs set")
    if ga.generations is None and ga.budget_epochs is None:
        raise ConfigError("ga.generations=null needs a budget: set ga.budget_epochs (epochs of "
                          "training) or a number of generations")
    rungs = list(ga.rungs)
    check(bool(rungs) and rungs[-1] == 1.0 and all(0 < a < b for a, b in zip(rungs, rungs[1:]))
           and rungs[0] > 0, "ga.rungs", rungs,
           "fractions of trainer.epochs, increasing and ending at 1.0, e.g. [0.111,0.333,1.0]")
    check(0 < ga.promote <= 1, "ga.promote", ga.promote, "must be in (0, 1]")
    check(ga.seeds >= 1, "ga.seeds", ga.seeds, "must be at least 1")
    check(ga.confirm >= 1, "ga.confirm", ga.confirm, "must be at least 1")
    if ga.confirm > 1 and ga.seeds == 1:
        raise ConfigError(f"ga.confirm={ga.confirm} races leaders to ga.seeds seeds, but "
                          "ga.seeds=1: set ga.seeds above 1, or ga.confirm=1")
    check(ga.guide >= 0, "ga.guide", ga.guide, "must be >= 0 (0 = off)")
    check(0 <= ga.mutation_step <= 1, "ga.mutation_step", ga.mutation_step,
           "must be in [0, 1] (0 = uniform redraw)")
    if ga.budget_epochs is not None and mode == "search":  # evaluate mode trains one genome
        least = least_budget(ga, trainer.epochs)
        check(ga.budget_epochs >= least - 1e-9, "ga.budget_epochs", ga.budget_epochs,
               f"must bring at least one genome to the target fidelity ({least:g} epochs "
               f"with ga.pop_size={ga.pop_size} and ga.rungs={list(ga.rungs)})")


def _where_trainings_run(cfg: Config) -> None:
    """The screening batch, and the settings an executor cannot apply."""
    ga, trainer = cfg.ga, cfg.trainer
    if trainer.screen_batch_size is not None:
        check(trainer.screen_batch_size >= 2, "trainer.screen_batch_size",
              trainer.screen_batch_size, "must be >= 2 (BatchNorm needs 2 samples) or null")
        if len(ga.rungs) == 1:
            raise ConfigError(f"trainer.screen_batch_size={trainer.screen_batch_size} sets the "
                              f"batch of screening rungs, and ga.rungs={list(ga.rungs)} has none: "
                              "add a lower rung (ga.rungs=[0.333,1.0]) or drop the setting")
    check_training(cfg.executor.name, list(ga.rungs), cfg.tensorboard.curves)


def validate(cfg: Config) -> None:
    """Raise ConfigError with one line naming the first bad key and its allowed range."""
    _check_outputs(cfg)
    bounds(cfg)
    ga, model, trainer = cfg.ga, cfg.model, cfg.trainer
    check(ga.pop_size >= 2, "ga.pop_size", ga.pop_size, "must be at least 2")
    check(0 <= ga.elitism < ga.pop_size, "ga.elitism", ga.elitism,
           f"must be in [0, pop_size) = [0, {ga.pop_size - 1}]")
    _one_of("ga.strategy", ga.strategy, STRATEGIES)
    _one_of("ga.selection", ga.selection, SELECTIONS)
    if ga.selection == "tournament":
        check(1 <= ga.tournament_size <= ga.pop_size, "ga.tournament_size", ga.tournament_size,
               f"must be in [1, pop_size] = [1, {ga.pop_size}]")
    _in_unit_interval(cfg)
    for key in ("max_lstm_layers", "max_dense_layers"):
        check(getattr(model, key) >= 1, f"model.{key}", getattr(model, key), "must be at least 1")
    check(model.min_units >= 1, "model.min_units", model.min_units, "must be at least 1")
    check(model.min_units <= model.max_units, "model.min_units", model.min_units,
           f"must not exceed model.max_units={model.max_units}")
    _one_of("model.init", model.init, INITS)
    for key in ("batch_size", "eval_batch_size"):
        check(getattr(trainer, key) >= 1, f"trainer.{key}", getattr(trainer, key), "must be >= 1")
    _one_of("trainer.fitness_split", trainer.fitness_split, FITNESS_SPLITS)
    if trainer.fitness_split == "val" and trainer.val_fraction == 0:
        raise ConfigError("trainer.fitness_split=val needs trainer.val_fraction > 0 "
                          "(or use trainer.fitness_split=test)")
    _engine_checks(trainer)
    _where_trainings_run(cfg)
    if trainer.num_threads is not None:
        check(trainer.num_threads >= 1, "trainer.num_threads", trainer.num_threads, "must be >= 1 or null")
    validate_data(cfg.data)
    validate_executor(cfg.executor, trainer.device)
    _validate_budget(ga, trainer, cfg.mode)
    strategy_of(ga.strategy).check(cfg)  # what the strategy cannot apply (its own module)
    validate_goals(ga, trainer, cfg.executor.name)


BUDGET_RESOLVER = "galstm.budget_unless_generations"


def budget_unless_generations(generations: Optional[int], budget: float) -> Optional[float]:
    """A preset's default budget yields to a generation limit the user sets: a preset writes
    ``budget_epochs: ${galstm.budget_unless_generations:${.generations},12}``, which is null
    when ga.generations is set and 12 otherwise; ga.budget_epochs=B replaces it outright."""
    return None if generations is not None else float(budget)


def register_configs() -> None:
    """Register the schema as `base_config` (conf/config.yaml lists it first in its defaults)
    and the resolver the presets use; calling it again changes nothing."""
    from hydra.core.config_store import ConfigStore
    from omegaconf import OmegaConf

    ConfigStore.instance().store(name="base_config", node=Config)
    OmegaConf.register_new_resolver(BUDGET_RESOLVER, budget_unless_generations, replace=True)
