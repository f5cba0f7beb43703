"""The typed config schema (registered in Hydra's ConfigStore) and its validation.

Hydra merges every YAML file and override into these dataclasses, so a misspelled key or a
wrong type fails before anything runs; ``validate`` then checks each section's ranges beside
its schema (``check``), then the rules across sections (rules.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import List, Optional

from galstm_torch.config.rules import check_rules, least_budget
from galstm_torch.config.sections import (
    DataConfig,
    ExecutorConfig,
    FinalConfig,
    ModelConfig,
    SpaceConfig,
    TrainerConfig,
)
from galstm_torch.errors import check, one_of
from galstm_torch.ga.search.settings import GAConfig, ReferenceConfig
from galstm_torch.ga.strategies.registry import STRATEGIES
from galstm_torch.observe.settings import TensorBoardConfig

__all__ = ["Config", "DataConfig", "ExecutorConfig", "FinalConfig", "GAConfig", "ModelConfig",
           "ReferenceConfig", "SpaceConfig", "TensorBoardConfig", "TrainerConfig", "MODES", "STRATEGIES",
           "least_budget", "register_configs", "validate"]

MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed and derive_seed take 63-bit seeds


class Mode(str, Enum):
    SEARCH = "search"
    EVALUATE = "evaluate"  # train exactly `genome` once


MODES = tuple(Mode)


@dataclass
class Config:
    """The whole configuration. Its defaults are the default config (conf/config.yaml composes
    these schemas; its presets state only what they change; tests/test_defaults.py)."""

    data: DataConfig = field(default_factory=DataConfig)
    executor: ExecutorConfig = field(default_factory=ExecutorConfig)
    ga: GAConfig = field(default_factory=GAConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    space: SpaceConfig = field(default_factory=SpaceConfig)
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

    def check(self) -> None:
        one_of("mode", self.mode, MODES)
        check(0 <= self.seed <= MAX_SEED, "seed", self.seed, "must be in [0, 2**63 - 1]")


def validate(cfg: Config) -> None:
    """Raise ConfigError with one line naming the first bad key and its allowed range: each
    section's own ranges first, then the rules that read several."""
    for section in (cfg, cfg.data, cfg.model, cfg.space, cfg.trainer, cfg.executor, cfg.final,
                    cfg.tensorboard, cfg.ga):
        section.check()
    check_rules(cfg)


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
