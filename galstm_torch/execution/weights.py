"""The weights the search trained, kept so the best genome is exported without retraining.

Trainings at the target fidelity save their weights to the run's ``.weights`` folder (the
executors that train on this machine: serial and pool). After each generation ``WeightKeeper``
deletes every file but the best genome's, so the folder holds one model between generations
and survives a restart; the export loads it and then removes the folder. Where no file exists
(Ray workers on other machines, the batched engine, a run started by an older version) the
export retrains the genome with its own seed instead.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional

import torch
from torch import nn

log = logging.getLogger(__name__)

FOLDER = ".weights"


def _prefix(compact: "tuple[int, ...]") -> str:
    """The start of every kept file of one genome's trainings."""
    return "-".join(map(str, compact)) + "_"


def weights_file(folder: Path, compact: "tuple[int, ...]", seed: int) -> Path:
    """Where the training of ``compact`` with ``seed`` keeps its weights."""
    return folder / f"{_prefix(compact)}{seed}.pt"


def save_weights(folder: Path, compact: "tuple[int, ...]", seed: int, model: nn.Module) -> None:
    """Write the model's state_dict under a temporary name, then rename it: a kill leaves no
    half-written file under the final name. Not fsynced (kept weights are a shortcut: a file
    lost to a power cut means one retraining), and a failed write only logs a warning."""
    path = weights_file(folder, compact, seed)
    tmp = path.with_name(path.name + ".tmp")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        torch.save({k: v.detach().cpu().clone() for k, v in model.state_dict().items()}, tmp)
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        log.warning("the weights of %s were not kept (%s); the export retrains it if it wins",
                    path.name, err)


def load_weights(folder: Path, compact: "tuple[int, ...]", seed: int) -> "Optional[dict]":
    """The kept state_dict, or None when this training's weights were not kept."""
    path = weights_file(folder, compact, seed)
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - the unpickler raises many types on a bad file
        log.warning("cannot read the kept weights %s (%s); the export retrains instead", path, err)
        return None


def prune(folder: Path, genomes: "set[tuple[int, ...]]") -> None:
    """Delete the kept weights (and stray temporary files) of every genome not in ``genomes``
    (all seeds of a kept genome stay: the export reads its first seed's)."""
    if not folder.is_dir():
        return
    prefixes = tuple(_prefix(g) for g in genomes)
    for path in folder.iterdir():
        if not (path.name.endswith(".pt") and path.name.startswith(prefixes)):
            path.unlink(missing_ok=True)
