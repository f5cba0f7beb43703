"""The one-of settings of a training (``trainer.fitness_split``, ``trainer.precision``,
``trainer.lr_schedule``): each an enum, listed by the config checks and the errors."""
from __future__ import annotations

from enum import Enum


class FitnessSplit(str, Enum):
    VAL = "val"
    TEST = "test"


class Precision(str, Enum):
    FP32 = "fp32"
    BF16 = "bf16"  # autocast
    FP16 = "fp16"  # autocast and loss scaling; CUDA only


class LrSchedule(str, Enum):
    CONSTANT = "constant"  # the article
    COSINE = "cosine"      # per-step decay to 0


# The choices, as the config checks and error messages list them
FITNESS_SPLITS, PRECISIONS, LR_SCHEDULES = tuple(FitnessSplit), tuple(Precision), tuple(LrSchedule)
