"""What a search has measured, as the models that propose genomes read it: TPE (every genome
scored at the target fidelity, with its mean) and the guide (every genome at every rung,
standardized within the rung)."""
from __future__ import annotations

from typing import Any

import torch

from galstm_torch.ga.fidelity.evaluator import Evaluator
from galstm_torch.ga.fidelity.rungs import Schedule, standing
from galstm_torch.ga.genome.encoding import SearchSpace, from_compact
from galstm_torch.ga.guide.surrogate import standardize
from galstm_torch.training.architecture import Architecture


def target_history(evaluator: Evaluator, seen: list[Architecture],
                   schedule: Schedule) -> list[tuple[tuple[int, ...], float]]:
    """Every genome with a score at the target fidelity, and its mean fitness there."""
    top = len(schedule.fidelities) - 1
    out = []
    for a in seen:
        st = standing(evaluator, a, schedule)
        if st.rung == top:
            out.append((a.compact, st.mean))
    return out


def rung_scores(evaluator: Any, seen: list[Architecture], schedule: Schedule
                ) -> list[tuple[Architecture, int, list[float]]]:
    """Every (genome, rung) scored so far, with its seeds' fitness there (failed trainings
    left out), in the order seen, rung by rung."""
    out = []
    for a in seen:
        for rung, fidelity in enumerate(schedule.fidelities):
            fit = [o.evaluation.fitness for o in evaluator.replicates(a, fidelity)
                   if o.status != "failed"]
            if fit:
                out.append((a, rung, fit))
    return out


def guide_data(evaluator: Evaluator, seen: list[Architecture], schedule: Schedule,
               space: SearchSpace) -> tuple[torch.Tensor, torch.Tensor]:
    """Every (genome, rung) scored so far, with its mean fitness there standardized within
    the rung, so that one model learns from screenings and full trainings alike."""
    scored = rung_scores(evaluator, seen, schedule)
    if not scored:
        return torch.zeros(0, space.n_genes, dtype=torch.long), torch.zeros(0)
    rows = torch.stack([from_compact(a.compact, space) for a, _, _ in scored])
    means = torch.tensor([sum(f) / len(f) for _, _, f in scored], dtype=torch.float64)
    return rows, standardize(means, torch.tensor([rung for _, rung, _ in scored]))
