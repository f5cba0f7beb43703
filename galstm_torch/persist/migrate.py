"""Older runs brought to this version's form, once, where they are loaded: a checkpoint's
state.json (``state``), a saved config.yaml (``saved_config``) and the config hashes earlier
versions wrote for a config (``hashed_forms``). The search itself knows one form only.

Each rule names the version change it undoes. A run written by this version passes through
unchanged.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Iterator

from omegaconf import DictConfig, OmegaConf

from galstm_torch.errors import GalstmError

# Keys added after checkpoints already existed, by the version that added them, with the
# value that keeps the old behaviour: a config hashed before a key existed was hashed
# without it, so the key is left out of that era's form while it keeps that value.
ADDED: list[dict[str, Any]] = [
    {"ga.objectives": ["accuracy"], "ga.reference.accuracy": None, "ga.reference.params": None,
     "ga.reference.latency": None, "ga.latency_batch": 1},  # the Pareto search
    {"trainer.screen_batch_size": None},                    # the screening batch
    {"space.name": "article", "space.min_lr_step": -4, "space.max_lr_step": 4,
     "space.max_dropout": 0.5, "space.max_lstm_dropout": 0.5},  # the space config group
    {"ga.rescue": 0},                                       # racing by posterior mean
]


class MigrationError(GalstmError):
    """An older run lacks what its migration needs."""


# -- state.json ------------------------------------------------------------------------------

def state(meta: dict[str, Any], folder: Path) -> dict[str, Any]:
    """state.json of ``folder`` (already checked by the schema) in this version's form:
    ``spent`` (added with the compute budget) and ``seen`` (added with the front) filled in."""
    meta = dict(meta)
    if meta.get("spent") is None:  # before budgets every training was at the target fidelity
        meta["spent"] = meta["trained"] * _epochs(folder)
    if not meta.get("seen"):
        meta["seen"] = _seen(meta)
    return meta


def _epochs(folder: Path) -> float:
    """trainer.epochs of the checkpoint's own config (config.yaml beside it)."""
    try:
        return float(OmegaConf.load(folder / "config.yaml").trainer.epochs)
    except Exception as err:  # noqa: BLE001 - missing, unreadable or without the key
        raise MigrationError(f"checkpoint {folder} predates compute budgets and its "
                             f"config.yaml gives no trainer.epochs ({type(err).__name__}): "
                             "restore config.yaml or start a new run") from None


def _seen(meta: dict[str, Any]) -> list[list[int]]:
    """The genomes a checkpoint from before ``seen`` met: its best first, with the generation
    it recorded, then every other genome of its cache, at the checkpoint's generation (the
    one they were met in is unknown)."""
    cache, best = meta["cache"], meta.get("best") or {}
    first = [(best["generation"], cache[best["key"]]["compact"])] if best.get("key") in cache \
        else []
    seen: dict[tuple[int, ...], int] = {}
    for generation, compact in [*first, *((meta["generation"], o["compact"])
                                           for o in cache.values())]:
        seen.setdefault(tuple(compact), int(generation))
    return [[g, *compact] for compact, g in seen.items()]


# -- config.yaml -----------------------------------------------------------------------------

def saved_config(saved: DictConfig) -> DictConfig:
    """A saved config in this version's form:
    - from before executor=batched: trainer.engine=batched and trainer.max_group become
      executor=batched and executor.max_group, and the executor keys that then had defaults
      for every executor are null where the executor does not read them (executor settings
      never change a search);
    - from before nsga2 was its own strategy: ga.strategy=ga with several objectives is
      ga.strategy=nsga2."""
    ex = saved.get("executor")
    if ex is not None and ex.get("name") != "ray":  # also configs saved before trainer.engine
        for key, default in (("max_restarts", 3), ("start_timeout_s", 300)):
            if key in ex and ex[key] == default:
                ex[key] = None
    ga = saved.get("ga")
    if ga is not None and _implied_nsga2(ga.get("strategy"), ga.get("objectives")):
        ga.strategy = "nsga2"
    trainer = saved.get("trainer")
    if trainer is None or "engine" not in trainer:
        return saved
    engine, group = trainer.pop("engine"), trainer.pop("max_group", None)
    if engine == "batched":
        saved.executor = OmegaConf.create({"name": "batched", "max_group": group})
    return saved


def _implied_nsga2(strategy: Any, objectives: Any) -> bool:
    return strategy == "ga" and objectives is not None and len(objectives) > 1


# -- config hashes ---------------------------------------------------------------------------

def hashed_forms(cfg: DictConfig) -> Iterator[dict[str, Any]]:
    """``cfg`` as each earlier version saw it when it hashed it, as plain containers: without
    the keys added since (at their old behaviour), with the trainer.engine keys a version
    before executor=batched had, and with ga.strategy=ga where nsga2 was implied by it."""
    plain: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    for era in range(len(ADDED) + 1):
        for engine in [{}, *_engine_keys(plain)]:
            for strategy in _strategies(plain):
                form = _without(plain, {k: v for added in ADDED[era:] for k, v in added.items()})
                _set(form, "ga.strategy", strategy)
                for key, value in engine.items():
                    _set(form, key, value)
                yield form


def _engine_keys(plain: dict[str, Any]) -> list[dict[str, Any]]:
    """The trainer.engine / trainer.max_group values a version before executor=batched hashed
    for this config (auto and sequential both meant the serial engine)."""
    ex = plain.get("executor") or {}
    if ex.get("name") == "batched":
        return [{"trainer.engine": "batched", "trainer.max_group": ex.get("max_group")}]
    return [{"trainer.engine": e, "trainer.max_group": None} for e in ("auto", "sequential")]


def _strategies(plain: dict[str, Any]) -> list[Any]:
    ga = plain.get("ga") or {}
    now = ga.get("strategy")
    return [now, "ga"] if now == "nsga2" and _implied_nsga2("ga", ga.get("objectives")) else [now]


def _without(plain: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``plain`` without each dotted key of ``old`` that holds its old value; a
    section left empty goes too (it was added whole, as ``space`` was)."""
    form = copy.deepcopy(plain)
    for key, value in old.items():
        *path, leaf = key.split(".")
        node: Any = form
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and leaf in node and node[leaf] == value:
            del node[leaf]
            if not node and len(path) == 1:
                del form[path[0]]
    return form


def _set(form: dict[str, Any], key: str, value: Any) -> None:
    *path, leaf = key.split(".")
    node = form
    for part in path:
        node = node.setdefault(part, {})
    node[leaf] = value
