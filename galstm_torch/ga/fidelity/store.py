"""The measurement store: one record per training, keyed by (genome, fidelity, seed) under
the run's training settings, as SMAC3's runhistory keeps one per trial.

A record is what the training measured (an ``Outcome``) and is never rewritten. Standings
(a genome's mean over its seeds, their standard error, the fronts) are computed from the
store (rungs.py, pareto/), never written into a record.
"""
from __future__ import annotations

from typing import Optional, Protocol

from galstm_torch.execution.executor import Outcome
from galstm_torch.training.architecture import Architecture, format_compact


class CacheView(Protocol):
    """What a walk over replicates reads: the store, the evaluator, or a view of the store
    (rungs._ReplayView)."""

    def cached(self, arch: Architecture, fidelity: Optional[float] = None,
               replicate: int = 0) -> Optional[Outcome]: ...


def replicates(view: CacheView, arch: Architecture,
               fidelity: Optional[float] = None) -> list[Outcome]:
    """The records of replicates 0, 1, ... of a genome at a fidelity, as far as stored."""
    found: list[Outcome] = []
    while (o := view.cached(arch, fidelity, len(found))) is not None:
        found.append(o)
    return found


class Measurements:
    """The records of one run, by key: ``genome[@fidelity][#replicate]|fingerprint``. The
    key strings are the checkpoint's cache keys; their format is pinned."""

    def __init__(self, fingerprint: str, target: float) -> None:
        self.fingerprint, self.target = fingerprint, target
        self.records: dict[str, Outcome] = {}

    def suffix(self, fidelity: Optional[float], replicate: int) -> str:
        """'' for the target fidelity's first replicate: keys (and seeds) of runs made before
        fidelities and replicates existed stay the same, so their checkpoints resume."""
        at = "" if fidelity is None or fidelity == self.target else f"@{fidelity:g}"
        return at + (f"#{replicate}" if replicate else "")

    def key(self, arch: Architecture, fidelity: Optional[float] = None, replicate: int = 0) -> str:
        """The key of (genome, fidelity, seed); fidelity None is the target fidelity."""
        return f"{format_compact(arch.compact)}{self.suffix(fidelity, replicate)}|{self.fingerprint}"

    def cached(self, arch: Architecture, fidelity: Optional[float] = None,
               replicate: int = 0) -> Optional[Outcome]:
        return self.records.get(self.key(arch, fidelity, replicate))

    def add(self, key: str, outcome: Outcome) -> None:
        self.records[key] = outcome

    def __contains__(self, key: object) -> bool:
        return key in self.records
