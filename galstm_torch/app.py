"""`run(cfg)`: one search from a composed config, returning the best fitness for sweepers."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from .architecture import format_compact
from .config import Config, validate
from .data import load_data
from .errors import ConfigError
from .evaluator import Evaluator
from .executor import SerialExecutor
from .genome import SearchSpace
from .records import RunRecorder
from .runtime import pick_device, set_threads
from .search import SearchResult, run_search
from .trainer import TrainSettings

log = logging.getLogger(__name__)


def to_config(cfg: "DictConfig | Config") -> Config:
    """A validated Config object; a plain DictConfig is merged into the schema first."""
    if isinstance(cfg, Config):
        config = cfg
    else:
        merged = OmegaConf.merge(OmegaConf.structured(Config), cfg)
        config = OmegaConf.to_object(merged)
    validate(config)
    return config


def train_settings(cfg: Config) -> TrainSettings:
    t, m = cfg.trainer, cfg.model
    return TrainSettings(epochs=t.epochs, batch_size=t.batch_size, lr=t.lr, adam_eps=t.adam_eps,
                         dropout=m.dropout, l2=m.l2, init=m.init, fitness_split=t.fitness_split,
                         eval_batch_size=t.eval_batch_size)


def hydra_output_dir() -> Path:
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        raise ConfigError("run(cfg) outside Hydra needs out_dir: pass run(cfg, out_dir=...)")
    return Path(HydraConfig.get().runtime.output_dir)


def _summary(result: SearchResult, out_dir: Path) -> str:
    e = result.best.result.evaluation
    return "\n".join([
        f"best genome  {format_compact(result.best.result.arch.compact)} "
        f"(generation {result.best.generation})",
        f"fitness      {e.fitness:.4f}   val acc {e.val_acc:.4f}   test acc {e.test_acc:.4f}   "
        f"params {e.params:,}",
        f"trainings    {result.trained} (cache hits {result.cache_hits})   "
        f"wall time {result.seconds:.1f}s",
        f"outputs      {out_dir}",
    ])


def run(cfg: "DictConfig | Config", out_dir: "str | Path | None" = None) -> float:
    """Validate, load the data onto the device, search, write outputs; return the best fitness."""
    config = to_config(cfg)
    out = Path(out_dir) if out_dir is not None else hydra_output_dir()
    device = pick_device(config.trainer.device)
    set_threads(config.trainer.num_threads)
    d, t = config.data, config.trainer
    data = load_data(d.name, d.root, download=d.download, train_samples=d.train_samples,
                     test_samples=d.test_samples, val_fraction=t.val_fraction).to(device)
    data_desc: dict[str, Any] = {"name": d.name, "train_samples": d.train_samples,
                                 "test_samples": d.test_samples, "val_fraction": t.val_fraction}
    log.info("data %s on %s: %s", d.name, device, data.sizes)
    settings = train_settings(config)
    executor = SerialExecutor(data, settings, device)
    evaluator = Evaluator(executor, settings, run_seed=config.seed, data_desc=data_desc)
    m = config.model
    space = SearchSpace(m.max_lstm_layers, m.max_dense_layers, m.min_units, m.max_units)
    generator = torch.Generator().manual_seed(config.seed)
    result = run_search(space, config.ga, evaluator, RunRecorder(out), generator=generator)
    print(_summary(result, out), flush=True)
    return float(result.best.result.evaluation.fitness)
