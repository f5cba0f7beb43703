"""Resuming a run in place: its saved config, the overrides allowed on top, the config hash."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from .errors import ConfigError

CONFIG = "config.yaml"
# Keys that do not change what the search computes (where it runs, how much longer, how it
# reports), so they may differ on resume. Everything else is part of the config hash.
NOT_SEARCH = ("resume", "ga.generations", "ga.budget_epochs", "trainer.device", "trainer.num_threads",
              "trainer.eval_batch_size", "data.root", "data.download", "progress", "executor",
              "tensorboard", "final", "mode", "genome")


def _is_free(key: str) -> bool:
    return any(key == k or key.startswith(k + ".") for k in NOT_SEARCH)


def config_hash(cfg: DictConfig) -> str:
    """SHA-256 over every search-changing value of a config."""
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{prefix}.{k}" if prefix else str(k))
        elif not _is_free(prefix):
            flat[prefix] = node

    walk(OmegaConf.to_container(cfg, resolve=True), "")
    return hashlib.sha256(json.dumps(flat, sort_keys=True).encode()).hexdigest()[:16]


def save_config(cfg: DictConfig, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    OmegaConf.save(cfg, folder / CONFIG, resolve=True)


def _override_keys(overrides: list[str]) -> list[str]:
    keys = []
    for item in overrides:
        key = item.split("=", 1)[0].lstrip("+~")
        if key and not key.startswith("hydra.") and key != "resume":
            keys.append(key)
    return keys


def resumed_config(folder: Path, current: DictConfig, overrides: list[str]) -> DictConfig:
    """The run's saved config, with the user's overrides applied where they do not change the
    search; an override that would change it raises ConfigError naming the key."""
    path = folder / CONFIG
    if not path.is_file():
        raise ConfigError(f"resume={folder.parent} is not a run directory of this tool "
                          f"(no {path}); pass the folder that holds evaluations.csv and checkpoint/")
    saved = OmegaConf.load(path)
    for key in _override_keys(overrides):
        new, old = OmegaConf.select(current, key), OmegaConf.select(saved, key)
        if _is_free(key):
            OmegaConf.update(saved, key, new, merge=False)
        elif new != old:
            raise ConfigError(f"{key} cannot change on resume (the run used {old!r}, "
                              f"the override asks for {new!r}): start a new run instead")
    return saved
