"""Fitness evaluation with a cache: a genome is never trained twice under the same settings."""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from typing import Any

import torch

from .architecture import Architecture, format_compact
from .data import DataSplits
from .runtime import derive_seed
from .trainer import Evaluation, TrainSettings, train_and_evaluate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Result:
    """One genome's evaluation within a generation; cache_hit means no training happened."""

    arch: Architecture
    evaluation: Evaluation
    cache_hit: bool


def settings_fingerprint(settings: TrainSettings, run_seed: int, data_desc: dict[str, Any]) -> str:
    """A short hash of everything besides the genome that changes a training's outcome."""
    blob = json.dumps({"train": asdict(settings), "seed": run_seed, "data": data_desc},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class Evaluator:
    """Trains architectures on one device, each seeded from (run seed, canonical genome)."""

    def __init__(self, data: DataSplits, settings: TrainSettings, *, run_seed: int,
                 device: torch.device, data_desc: "dict[str, Any] | None" = None) -> None:
        self.data, self.settings, self.run_seed, self.device = data, settings, run_seed, device
        self.fingerprint = settings_fingerprint(settings, run_seed, data_desc or {})
        self.cache: dict[str, Evaluation] = {}
        self.trained = 0
        self.cache_hits = 0

    def key(self, arch: Architecture) -> str:
        return f"{format_compact(arch.compact)}|{self.fingerprint}"

    def evaluate_one(self, arch: Architecture) -> Result:
        key = self.key(arch)
        if key in self.cache:
            self.cache_hits += 1
            return Result(arch, self.cache[key], cache_hit=True)
        seed = derive_seed(self.run_seed, format_compact(arch.compact))
        evaluation = train_and_evaluate(arch, self.data, self.settings, seed=seed, device=self.device)
        self.cache[key] = evaluation
        self.trained += 1
        log.debug("trained %s: fitness %.4f in %.1fs", arch, evaluation.fitness, evaluation.seconds)
        return Result(arch, evaluation, cache_hit=False)

    def evaluate(self, archs: list[Architecture]) -> list[Result]:
        """Evaluate in order; a repeated genome within the list is a cache hit too."""
        return [self.evaluate_one(arch) for arch in archs]
