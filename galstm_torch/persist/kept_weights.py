"""A sink: after each generation, delete the kept weights of every genome but the answer so
far: the best genome, and in a Pareto search every genome of the front, since a later
generation may make another front member the knee (execution/weights.py writes them; the
export reads the answer's)."""
from __future__ import annotations

from pathlib import Path

from galstm_torch.execution.weights import prune
from galstm_torch.ga.search.events import GenerationDone, Sink


class WeightKeeper(Sink):
    """A sink: after each generation, keep only the weights of the best genome (or front)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def generation_done(self, event: GenerationDone) -> None:
        best = event.best
        if best.status != "ok":  # nothing trained well yet
            return
        keep = {best.arch.compact}
        if best.pareto is not None:
            keep |= {p.arch.compact for p in best.pareto.front}
        prune(self.folder, keep)
