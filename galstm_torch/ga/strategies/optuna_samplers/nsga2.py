"""Optuna's NSGA-II (``ga.strategy=optuna_nsga2``), asked for each generation through
study.py. Each trial is tagged with the generation in which the search first met its
genome, and the new asks with the generation being proposed, so that Optuna's parent
selection runs over the search's own generations (a generation with fewer distinct new
genomes than ``n`` is still a whole generation)."""
from __future__ import annotations

from typing import Any

import torch

from galstm_torch.errors import ConfigError
from galstm_torch.ga.strategies.base import Context, Strategy
from galstm_torch.ga.strategies.optuna_samplers.study import check_one_fidelity, propose_for


def nsga2_sampler(optuna: Any, n: int, seed: int, generation: int) -> Any:
    """Optuna's NSGAIISampler whose new trials belong to ``generation``, whatever the size of
    the generations before it."""

    class Sampler(optuna.samplers.NSGAIISampler):
        def get_trial_generation(self, study, trial) -> int:
            key = self._get_generation_key()
            if key not in trial.system_attrs:
                study._storage.set_trial_system_attr(trial._trial_id, key, generation)
                return generation
            return trial.system_attrs[key]

    return Sampler(population_size=n, seed=seed % 2**32)


class OptunaNSGA2(Strategy):
    name = "optuna_nsga2"

    def check(self, cfg: Any) -> None:
        super().check(cfg)
        check_one_fidelity(cfg)
        if len(cfg.ga.objectives) < 2:
            raise ConfigError("ga.strategy=optuna_nsga2 is a Pareto search: add an objective, "
                              "e.g. ga.objectives=[accuracy,params]")

    def propose(self, ctx: Context, population: torch.Tensor, generation: int) -> torch.Tensor:
        return propose_for(ctx, generation, nsga2_sampler)
