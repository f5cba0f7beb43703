"""Picking a Pareto search's children by the guide's predicted front
(``ga.guide_pick=crowding``): the NSGA-II survivors of the candidates' predicted accuracy and
exact parameters, never-seen genomes first."""
from __future__ import annotations

import torch

from galstm_torch.ga.guide.surrogate import features, first_occurrences, fit_ridge
from galstm_torch.ga.pareto.fronts import survivors
from galstm_torch.ga.pareto.goals import Goals
from galstm_torch.ga.pareto.objectives import as_maximised


def pick_front(candidates: torch.Tensor, known: torch.Tensor, scores: torch.Tensor, n: int,
               goals: Goals, *, predicted: "torch.Tensor | None" = None) -> torch.Tensor:
    """n distinct rows of ``candidates``: the NSGA-II survivors of (accuracy predicted by a
    ridge model of the scores so far, or ``predicted`` per candidate, exact parameters),
    never-seen genomes first."""
    space = goals.space
    first = first_occurrences(candidates)
    unique = candidates[first]
    if predicted is None:
        weights = fit_ridge(features(known, space), scores.to(torch.float64))
        predicted = features(unique, space) @ weights
    else:
        predicted = predicted[first]
    objectives = as_maximised({"accuracy": predicted, "params": goals.params(unique)},
                              [name for name in goals.names if name != "latency"])
    seen = (unique.unsqueeze(1) == known.unsqueeze(0)).all(dim=2).any(dim=1)
    fresh, old = torch.nonzero(~seen).squeeze(1), torch.nonzero(seen).squeeze(1)
    chosen = fresh[survivors(objectives[fresh], min(n, len(fresh)))] if len(fresh) else fresh
    if len(chosen) < n and len(old):  # fewer fresh candidates than slots: the best seen ones
        extra = old[survivors(objectives[old], min(n - len(chosen), len(old)))]
        chosen = torch.cat([chosen, extra])
    if len(chosen) < n:
        chosen = torch.cat([chosen, chosen[:1].repeat(n - len(chosen))])
    return unique[chosen]
