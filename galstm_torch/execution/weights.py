"""The weights the search trained, kept so the best genome is exported without retraining.

Trainings at the target fidelity save their weights to the run's ``.weights`` folder (the
executors that train on this machine: serial and pool). After each generation ``WeightKeeper``
deletes every file but the best genome's, so the folder holds one model between generations
and survives a restart; the export loads it and then removes the folder. Where no file exists
(Ray workers on other machines, the batched engine, a run started by an older version) the
export retrains the genome with its own seed instead.

Each file holds the state_dict and a SHA-256 of its tensors (names, dtypes, shapes, bytes).
The export loads a file only if the digest matches and every weight is finite; otherwise it
warns and retrains the genome from its seed, so best_model.pt never claims metrics that its
weights do not give. A weight file that cannot be written (a full or read-only disk, a file
size limit) is only a lost shortcut: the training's measurement stands.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from galstm_torch.files.safe_load import load_tensors

log = logging.getLogger(__name__)

FOLDER = ".weights"


def _prefix(compact: "tuple[int, ...]") -> str:
    """The start of every kept file of one genome's trainings."""
    return "-".join(map(str, compact)) + "_"


def weights_file(folder: Path, compact: "tuple[int, ...]", seed: int) -> Path:
    """Where the training of ``compact`` with ``seed`` keeps its weights."""
    return folder / f"{_prefix(compact)}{seed}.pt"


def digest(state: "dict[str, torch.Tensor]") -> str:
    """SHA-256 of a state_dict: each entry's name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def save_weights(folder: Path, compact: "tuple[int, ...]", seed: int, model: nn.Module) -> None:
    """Write the model's state_dict and its digest under a temporary name, then rename it: a
    kill leaves no half-written file under the final name. Not fsynced (kept weights are a
    shortcut: a file lost to a power cut means one retraining). Never raises: a failed write
    (torch.save raises RuntimeError on an unwritable folder or a file size limit) only logs a
    warning, and the export retrains the genome if it wins."""
    path = weights_file(folder, compact, seed)
    tmp = path.with_name(path.name + ".tmp")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        torch.save({"state_dict": state, "sha256": digest(state)}, tmp)
        os.replace(tmp, path)
    except Exception as err:  # noqa: BLE001 - a lost shortcut must never fail the training
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        log.warning("the weights of %s were not kept (%s); the export retrains it if it wins",
                    path.name, str(err).splitlines()[0] if str(err) else type(err).__name__)


def load_weights(folder: Path, compact: "tuple[int, ...]", seed: int) -> "Optional[dict]":
    """The kept state_dict, or None when this training's weights were not kept or cannot be
    trusted (unreadable, a digest that does not match, a weight that is not finite)."""
    path = weights_file(folder, compact, seed)
    if not path.is_file():
        return None
    try:
        saved = load_tensors(path)
    except Exception as err:  # noqa: BLE001 - the unpickler raises many types on a bad file
        log.warning("cannot read the kept weights %s (%s); the export retrains instead", path, err)
        return None
    problem = _untrusted(saved)
    if problem is not None:
        log.warning("the kept weights %s %s; the export retrains the genome from its seed "
                    "instead", path, problem)
        return None
    return saved["state_dict"]


def _untrusted(saved: object) -> Optional[str]:
    """Why a loaded weight file cannot be exported, or None."""
    if not (isinstance(saved, dict) and isinstance(saved.get("state_dict"), dict)
            and isinstance(saved.get("sha256"), str)):
        return "hold no digest (an older version's file, or not this tool's)"
    state = saved["state_dict"]
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        return "are not a state_dict"
    if digest(state) != saved["sha256"]:
        return "do not match their SHA-256 (the file was altered)"
    bad = next((k for k, v in state.items() if v.is_floating_point() and
                not bool(torch.isfinite(v).all())), None)
    return None if bad is None else f"hold non-finite values ({bad})"


def prune(folder: Path, genomes: "set[tuple[int, ...]]") -> None:
    """Delete the kept weights (and stray temporary files) of every genome not in ``genomes``
    (all seeds of a kept genome stay: the export reads its first seed's)."""
    if not folder.is_dir():
        return
    prefixes = tuple(_prefix(g) for g in genomes)
    for path in folder.iterdir():
        if not (path.name.endswith(".pt") and path.name.startswith(prefixes)):
            path.unlink(missing_ok=True)
