"""A fresh random population each generation (``ga.strategy=random``): the baseline with the
same evaluator, rungs and budget as every other strategy, and no inheritance."""
from __future__ import annotations

import torch

from galstm_torch.ga.genome.encoding import random_population
from galstm_torch.ga.strategies.base import Context, Strategy


class RandomDraw(Strategy):
    name = "random"

    def propose(self, ctx: Context, population: torch.Tensor, generation: int) -> torch.Tensor:
        return random_population(ctx.ga.pop_size, ctx.space, generator=ctx.generator)
