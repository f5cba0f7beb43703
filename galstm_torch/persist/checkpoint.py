"""Search checkpoints: written after every evaluated genome, atomically, with no pickled objects.

``checkpoint/state.json`` holds the metadata (generation, phase, fitness cache with every
metric, best so far, config hash) and names the tensor file (population and GA generator
state, written with ``torch.save``) together with its SHA-256. The tensor file gets a new name
each time and the old one is deleted only after the new ``state.json`` is in place, so a kill
at any instant leaves one consistent checkpoint: the previous one or the new one.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import pickle
from pathlib import Path
from typing import Any

import torch

from galstm_torch.errors import GalstmError
from galstm_torch.execution.executor import Outcome
from galstm_torch.files.atomic import WriteFailed, atomic_write
from galstm_torch.files.safe_load import load_tensors
from galstm_torch.ga.search.events import Sink
from galstm_torch.ga.search.state import Met, SearchState
from galstm_torch.persist import migrate
from galstm_torch.persist.checkpoint_schema import SchemaError, check_keys, check_meta, check_tensors
from galstm_torch.training.trainer import Evaluation

FORMAT = 1
STATE = "state.json"


class CheckpointError(GalstmError):
    """A checkpoint is missing, truncated, tampered with or unsafe to load."""


def outcome_to_dict(outcome: Outcome) -> dict[str, Any]:
    data = dataclasses.asdict(outcome)
    data["compact"] = list(outcome.compact)
    if data["evaluation"]["latency"] != data["evaluation"]["latency"]:  # not measured: left
        del data["evaluation"]["latency"]  # out, as in checkpoints from before latency
    return data


def outcome_from_dict(data: dict[str, Any]) -> Outcome:
    return Outcome(compact=tuple(data["compact"]), evaluation=Evaluation(**data["evaluation"]),
                   status=data["status"], error=data["error"], retried=data["retried"],
                   seed=data.get("seed"))  # checkpoints before replicates have no seed


class Checkpoints(Sink):
    """A sink: saves every search state it is sent to ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def state(self, state: SearchState) -> None:
        save(self.folder, state)


def save(folder: Path, state: SearchState) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    torch.save({"population": state.population.cpu(), "rng_state": state.rng_state}, buf)
    tensors = buf.getvalue()
    digest = hashlib.sha256(tensors).hexdigest()
    name = f"tensors-{digest[:16]}.pt"
    try:
        atomic_write(folder / name, tensors)
        _write_meta(folder, state, name, digest)
    except WriteFailed:
        if name != _current_tensors(folder):  # the new tensor file no state.json names
            (folder / name).unlink(missing_ok=True)
        raise
    for old in folder.glob("tensors-*.pt"):
        if old.name != name:
            old.unlink(missing_ok=True)


def _current_tensors(folder: Path) -> "str | None":
    try:
        return json.loads((folder / STATE).read_text()).get("tensors")
    except (OSError, ValueError, AttributeError):
        return None


def _write_meta(folder: Path, state: SearchState, name: str, digest: str) -> None:
    meta = {
        "format": FORMAT, "tensors": name, "sha256": digest, "generation": state.generation,
        "phase": state.phase, "config_hash": state.config_hash,
        "cache": {k: outcome_to_dict(o) for k, o in state.cache.items()},
        "trained_in_generation": state.trained_in_generation, "best": state.best,
        "trained": state.trained, "cache_hits": state.cache_hits, "spent": state.spent,
        "seen": [[m.generation, *m.compact] for m in state.seen], "idle": state.idle,
        "budget_cut": state.budget_cut,
    }
    atomic_write(folder / STATE, json.dumps(meta, indent=1).encode())


def _invalid(path: Path, err: SchemaError) -> CheckpointError:
    return CheckpointError(f"checkpoint {path} is invalid ({err}): it was damaged or edited; "
                           "restore it or start a new run")


def check_cache_keys(folder: Path, state: SearchState, rungs: list[float], epochs: int,
                     seeds: int) -> None:
    """The cache holds only keys this run's evaluator makes: at one of its lower rungs or
    with one of its seeds (the schema checked the rest on load)."""
    try:
        check_keys(state.cache, rungs, epochs, seeds)
    except SchemaError as err:
        raise _invalid(folder / STATE, err) from None


def _read_meta(folder: Path) -> dict[str, Any]:
    path = folder / STATE
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}: resume needs the folder of a run "
                              "started by this version (it holds checkpoint/state.json)")
    try:
        meta = json.loads(path.read_text())
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError(f"format {meta.get('format') if isinstance(meta, dict) else None}")
    except (ValueError, UnicodeDecodeError) as err:
        raise CheckpointError(f"checkpoint {path} is truncated or corrupt ({err}); "
                              "it cannot be resumed, start a new run") from None
    try:
        check_meta(meta)
    except SchemaError as err:
        raise _invalid(path, err) from None
    return meta


def _load_tensors(folder: Path, meta: dict[str, Any]) -> dict[str, torch.Tensor]:
    path = folder / str(meta.get("tensors", ""))
    if not path.is_file():
        raise CheckpointError(f"checkpoint tensor file {path} is missing; start a new run")
    payload = path.read_bytes()
    if hashlib.sha256(payload).hexdigest() != meta.get("sha256"):
        raise CheckpointError(f"checkpoint {path} does not match the SHA-256 in {STATE}: it was "
                              "truncated or modified; refusing to load it")
    try:  # tensors and plain containers only, never code from the file, in one line
        tensors = load_tensors(io.BytesIO(payload))
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"checkpoint {path} is not a safe tensor file and was not "
                              f"loaded ({first})") from None
    if not isinstance(tensors, dict) or not {"population", "rng_state"} <= tensors.keys():
        raise CheckpointError(f"checkpoint {path} lacks the population or the RNG state")
    try:
        check_tensors(tensors["population"], tensors["rng_state"])
    except SchemaError as err:
        raise CheckpointError(f"checkpoint {path} is invalid ({err}); restore it or start a "
                              "new run") from None
    return tensors


def load(folder: Path) -> SearchState:
    """The search state saved in ``folder``; one written by an older version is brought to
    this version's form (migrate.py)."""
    meta = _read_meta(folder)
    tensors = _load_tensors(folder, meta)
    try:
        meta = migrate.state(meta, folder)
        return SearchState(
            generation=int(meta["generation"]), phase=str(meta["phase"]),
            population=tensors["population"], rng_state=tensors["rng_state"],
            config_hash=str(meta["config_hash"]),
            cache={k: outcome_from_dict(v) for k, v in meta["cache"].items()},
            trained_in_generation=list(meta["trained_in_generation"]), best=meta["best"],
            trained=int(meta["trained"]), cache_hits=int(meta["cache_hits"]),
            spent=float(meta["spent"]),
            seen=[Met(int(g), tuple(int(v) for v in compact)) for g, *compact in meta["seen"]],
            idle=int(meta.get("idle", 0)), budget_cut=meta.get("budget_cut"))
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"checkpoint {folder / STATE} is incomplete ({err!r}); "
                              "start a new run") from None
