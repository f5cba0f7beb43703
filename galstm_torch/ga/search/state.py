"""The search's state: everything needed to continue a search exactly where it stopped
(persist/checkpoint.py writes and reads it)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import torch

from galstm_torch.execution.executor import Outcome


@dataclass(frozen=True)
class Met:
    """A genome the search has met, with the generation that first met it (a checkpoint
    saves it as the list [generation, *compact])."""

    generation: int
    compact: tuple[int, ...]


@dataclass
class SearchState:
    """Everything needed to continue a search exactly where it stopped.

    phase 'evaluating': ``population`` is generation ``generation``, partly evaluated (the
    keys trained so far in it are ``trained_in_generation``). phase 'evaluated': that
    generation is fully evaluated and recorded; the next step is selection."""

    generation: int
    phase: str
    population: torch.Tensor
    rng_state: torch.Tensor
    config_hash: str
    cache: dict[str, Outcome] = field(default_factory=dict)
    trained_in_generation: list[str] = field(default_factory=list)
    best: Optional[dict[str, Any]] = None  # {"generation", "key"}
    trained: int = 0
    cache_hits: int = 0
    spent: float = 0.0  # compute so far (epochs of the training split)
    seen: list[Met] = field(default_factory=list)  # in the order the search met them
    idle: int = 0  # generations in a row that trained nothing
    budget_cut: Optional[float] = None  # the budget that cut the last generation short
