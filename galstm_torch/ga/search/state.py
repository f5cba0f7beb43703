"""The search's state: everything needed to continue a search exactly where it stopped
(persist/checkpoint.py writes and reads it)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import torch

from galstm_torch.execution.executor import Outcome


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
    spent: Optional[float] = None  # compute so far (epochs); None in checkpoints before budgets
    seen: list[list[int]] = field(default_factory=list)  # [generation, *compact] per genome,
                                                        # in the order the search met them
    idle: int = 0  # generations in a row that trained nothing
    budget_cut: Optional[float] = None  # the budget that cut the last generation short
