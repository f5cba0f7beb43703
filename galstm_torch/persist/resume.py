"""Resuming a run in place: its saved config, the overrides allowed on top, the config hash."""
from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Optional

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from galstm_torch.errors import ConfigError
from galstm_torch.ga.genome.encoding import SearchSpace, check_population
from galstm_torch.ga.search.pace import limit_reached
from galstm_torch.persist import migrate
from galstm_torch.persist.checkpoint import CheckpointError, SearchState, check_cache_keys, load
from galstm_torch.persist.population_table import check_population_table

CONFIG = "config.yaml"
# Keys that do not change what the search computes (where it runs, how much longer, how it
# reports), so they may differ on resume. Everything else is part of the config hash.
NOT_SEARCH = ("resume", "ga.generations", "ga.budget_epochs", "trainer.device",
              "trainer.deterministic", "trainer.num_threads",
              "trainer.eval_batch_size", "data.root", "data.download", "progress", "executor",
              "tensorboard", "final", "mode", "genome")


def _is_free(key: str) -> bool:
    return any(key == k or key.startswith(k + ".") for k in NOT_SEARCH)


def config_hash(cfg: "DictConfig | dict[str, Any]") -> str:
    """SHA-256 over every search-changing value of a config (a DictConfig, or a plain
    container of one: migrate.hashed_forms)."""
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{prefix}.{k}" if prefix else str(k))
        elif not _is_free(prefix):
            flat[prefix] = node

    walk(cfg if isinstance(cfg, dict) else OmegaConf.to_container(cfg, resolve=True), "")
    return hashlib.sha256(json.dumps(flat, sort_keys=True).encode()).hexdigest()[:16]


def known_hashes(cfg: DictConfig) -> set[str]:
    """Every hash this config had under this version or an earlier one: a checkpoint written
    by any of them continues."""
    return {config_hash(form) for form in migrate.hashed_forms(cfg)}


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


def _not_a_run(run_dir: Path, path: Path) -> str:
    return (f"resume={run_dir} is not a run directory of this tool (no {path}); pass the "
            "folder that holds evaluations.csv and checkpoint/")


def not_a_run(run_dir: Path) -> Optional[str]:
    """Why ``run_dir`` cannot be resumed (it holds no checkpoint/config.yaml), or None."""
    path = run_dir / "checkpoint" / CONFIG
    return None if path.is_file() else _not_a_run(run_dir, path)


def _check_schema(path: Path, current: DictConfig, saved: DictConfig) -> None:
    """Every key of ``saved`` is one of the schema's (``current`` is a config of it), with a
    value of its type; else ConfigError naming the file and the key."""
    try:
        OmegaConf.merge(current, saved)
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or "?"
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"{path} has {key}, which this version cannot take ({first}): "
                          "restore it from the run's .hydra/config.yaml or start a new run"
                          ) from None


def resumed_config(folder: Path, current: DictConfig, overrides: list[str]) -> DictConfig:
    """The run's saved config, with the user's overrides applied where they do not change the
    search; an override that would change it raises ConfigError naming the key. An override
    of ga.generations brings ga.budget_epochs from ``current`` too: the generations asked for
    run unless the resuming command also sets a budget."""
    path = folder / CONFIG
    if not path.is_file():
        raise ConfigError(_not_a_run(folder.parent, path))
    try:
        saved = OmegaConf.load(path)
        if not isinstance(saved, DictConfig):
            raise ValueError("not a mapping")
    except Exception as err:  # noqa: BLE001 - YAML, tags (never constructed), anything
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"{path} cannot be read ({first}): restore it from the run's "
                          ".hydra/config.yaml or start a new run") from None
    saved = migrate.saved_config(saved)
    _check_schema(path, current, saved)
    keys = _override_keys(overrides)
    if "ga.generations" in keys and "ga.budget_epochs" not in keys:
        keys.append("ga.budget_epochs")  # one stopping rule: the resuming command's (null
        # from a preset's budget once ga.generations is set, docs/reliability.md)
    for key in keys:
        new, old = OmegaConf.select(current, key), OmegaConf.select(saved, key)
        if _is_free(key):
            OmegaConf.update(saved, key, new, merge=False)
        elif new != old:
            raise ConfigError(f"{key} cannot change on resume (the run used {old!r}, "
                              f"the override asks for {new!r}): start a new run instead")
    return saved


def check_records(run_dir: Path, start: int, budget_cut: bool) -> None:
    """The CSV tables agree with the checkpoint: every generation before ``start`` has its
    rows (the last may have none when the budget cut it before any training)."""
    if start == 0:
        return
    for name in ("evaluations.csv", "population.csv", "generations.csv"):
        path = run_dir / name
        if not path.is_file():
            raise ConfigError(f"{path} is missing but the checkpoint is at generation {start}: "
                              "restore it, or start a new run")
        try:
            with path.open(newline="") as f:
                found = {int(row["generation"]) for row in csv.DictReader(f)}
        except (KeyError, ValueError, TypeError, csv.Error, UnicodeDecodeError) as err:
            raise ConfigError(f"{path} is not this tool's table ({type(err).__name__}: {err}): "
                              "restore it, or start a new run") from None
        needed = set(range(start - 1 if budget_cut else start))
        if not needed <= found:  # rows of generation >= start are redone, and dropped
            missing = min(needed - found)
            raise ConfigError(f"{path} has no rows for generation {missing}, which the "
                              "checkpoint has passed: restore it, or start a new run")


def check_state(config: Any, run_dir: Path, state: SearchState) -> None:
    """The checkpoint's population fits the run's search space, and its tables agree."""
    space = SearchSpace.of(config.model, config.space)
    try:
        if tuple(state.population.shape) != (config.ga.pop_size, space.n_genes):
            raise ValueError(f"shape {tuple(state.population.shape)}, expected "
                             f"{(config.ga.pop_size, space.n_genes)}")
        check_population(state.population, space)
    except ValueError as err:
        raise CheckpointError(f"the population in {run_dir}/checkpoint is invalid ({err}): "
                              "restore it or start a new run") from None
    check_cache_keys(run_dir / "checkpoint", state, list(config.ga.rungs), config.trainer.epochs,
                     config.ga.seeds)
    start = state.generation + (state.phase == "evaluated")
    check_records(run_dir, start, budget_cut=state.budget_cut is not None)
    if start > 0:  # its rows are kept: they must be this search's (population_table.py)
        check_population_table(run_dir / "population.csv", space, config.ga.pop_size, start,
                               state)


def continued(config: Any, run_dir: Path, plain: DictConfig, *,
              auto: bool) -> tuple[SearchState, str]:
    """The checkpoint ``run_dir`` continues, checked against its config (``plain``, as
    ``config``), and the config's hash (the checkpoint's from now on: one an earlier version
    wrote for this config is migrated)."""
    state = load(run_dir / "checkpoint")
    if state.config_hash not in known_hashes(plain):
        if auto:
            raise ConfigError(f"{run_dir} holds a checkpoint of another config: resume=auto "
                              "continues only the same run; choose another hydra.run.dir")
        raise ConfigError(f"{run_dir}/checkpoint/config.yaml does not match the checkpoint "
                          "(config hash differs): it was edited; restore it or start anew")
    check_state(config, run_dir, state)
    if config.ga.generations is not None and config.ga.generations < state.generation + 1:
        raise ConfigError(f"ga.generations={config.ga.generations} is below the "
                          f"{state.generation + 1} generations this run already reached")
    state.config_hash = config_hash(plain)
    return state, state.config_hash


def _best_json(run_dir: Path) -> Optional[dict]:
    """A run's best.json, or None when it is missing or unreadable."""
    try:
        best = json.loads((run_dir / "best.json").read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(best, dict) and isinstance(best.get("fitness"), (int, float))
    return best if ok else None


def finished(config: Any, state: SearchState, run_dir: Path) -> Optional[dict]:
    """The best.json of a resumed run that has nothing left to do (its stopping rule met, as
    the search's own, and best.json and its models written), else None."""
    models = ["best_model.pt", *(["final_model.pt"] if config.final.epochs > 0 else [])]
    best = _best_json(run_dir)
    if best is None or state.phase != "evaluated" or \
            not all((run_dir / m).is_file() for m in models):
        return None
    cheapest = config.ga.rungs[0] * config.trainer.epochs  # the first rung (wiring.schedule)
    stops = limit_reached(config.ga.generations, config.ga.budget_epochs, state, state.spent, cheapest)
    return best if stops else None


# What a resume rewrites before its first training: the tables (rewritten whole, each
# atomically, so a copy's worth), then the checkpoint's state.json and tensor file.
FIRST_WRITES = ("evaluations.csv", "population.csv", "generations.csv", "fronts.csv",
                "checkpoint/state.json")


def check_space(run_dir: Path) -> None:
    """A resume on a disk still full is refused before it writes anything (its log, its
    TensorBoard files): one line naming the first file it would fail to write."""
    try:
        stat = os.statvfs(run_dir)
    except (OSError, AttributeError):  # not POSIX, or unreadable: the writes will tell
        return
    free = stat.f_bavail * stat.f_frsize
    sizes = {n: (run_dir / n).stat().st_size for n in FIRST_WRITES if (run_dir / n).is_file()}
    need = sum(sizes.values()) + 2 * max(sizes.values(), default=0)  # and the largest's copy
    if free < need:
        first = next(iter(sizes), "evaluations.csv")
        raise ConfigError(f"cannot write {run_dir / first} (No space left on device): free at "
                          f"least {max(need - free, 1) / 1e3:.1f} KB on that disk, then resume "
                          f"with python train.py resume={run_dir}; the run is as it was")
