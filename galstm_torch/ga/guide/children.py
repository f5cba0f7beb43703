"""The guide's children (``ga.guide = k``), for the GA and NSGA-II alike: k batches of the
strategy's children, as many random genomes and the corners of the unit box form the pool
from which a model of the scores so far picks. The random candidates are there because the
linear model extrapolates (more units, fewer dense layers) to corners the parents' children
never reach (RESULTS.md section 5)."""
from __future__ import annotations

from typing import Callable

import torch

from galstm_torch.ga.fidelity.evaluator import Evaluator
from galstm_torch.ga.fidelity.rungs import Schedule
from galstm_torch.ga.genome.encoding import SearchSpace, random_population
from galstm_torch.ga.guide.history import guide_data
from galstm_torch.ga.guide.surrogate import corners
from galstm_torch.training.architecture import Architecture

# (candidates, genomes the guide has scores for, their standardized scores) -> the children
Choose = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def guided_children(breed: Callable[[], torch.Tensor], choose: Choose, *, guide: int,
                    evaluator: Evaluator, seen: list[Architecture], schedule: Schedule,
                    space: SearchSpace, generator: torch.Generator) -> torch.Tensor:
    """One batch of ``breed``'s children, or with ``guide`` >= 2 (and two scores to fit a
    model to) those ``choose`` picks among ``guide`` batches, as many random genomes and the
    corners of the unit box. ``breed`` draws from ``generator`` as often either way, so the
    random stream does not depend on whether the model could be fitted."""
    batches = [breed() for _ in range(max(guide, 1))]
    if guide < 2:
        return batches[0]
    known, scores = guide_data(evaluator, seen, schedule, space)
    if len(scores) < 2:  # nothing to fit a model to yet
        return batches[0]
    children = torch.cat(batches)
    pool = torch.cat([children, random_population(len(children), space, generator=generator),
                      corners(space).to(children.dtype)])
    return choose(pool, known, scores)
