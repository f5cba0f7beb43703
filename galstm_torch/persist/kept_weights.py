"""A sink: after each generation, delete every kept weights file but the best genome's
(execution/weights.py writes them; the export reads the one left)."""
from __future__ import annotations

from pathlib import Path

from galstm_torch.execution.weights import prune, weights_file
from galstm_torch.ga.events import GenerationDone, Sink


class WeightKeeper(Sink):
    """A sink: after each generation, keep only the best genome's weights."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def generation_done(self, event: GenerationDone) -> None:
        outcome = event.best.result.outcome
        if outcome.status != "ok" or outcome.seed is None:  # nothing trained well yet
            return
        prune(self.folder, {weights_file(self.folder, outcome.compact, outcome.seed).name})

