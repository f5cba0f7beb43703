"""TensorBoard's settings (``tensorboard.*``): a dataclass of the config schema, kept here so
that the board reads them without importing the whole config."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TensorBoardConfig:
    enabled: bool = True
    histograms: bool = True
    hparams: bool = True     # one HParams session per evaluated genome under tb/hparams/
    figures: bool = True     # also saved as PNG files in the run directory
    curves: bool = False     # per-genome training curves (many series; serial executor only)
    curve_every: int = 10    # optimizer steps averaged into one curve point
