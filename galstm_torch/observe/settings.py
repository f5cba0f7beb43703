"""TensorBoard's settings (``tensorboard.*``): a dataclass of the config schema, kept here so
that the board reads them without importing the whole config."""
from __future__ import annotations

from dataclasses import dataclass

from galstm_torch.errors import check


@dataclass
class TensorBoardConfig:
    enabled: bool = True
    histograms: bool = True
    hparams: bool = True     # one HParams session per evaluated genome, under tb/hparams/<genome>/
    figures: bool = True     # also saved as fitness.png and accuracy_vs_params.png
    curves: bool = False     # per-genome training curves under genomes/<genome>/ (many series;
                             # an executor with the curves capability: serial, or auto)
    curve_every: int = 10    # optimizer steps averaged into one curve point

    def check(self) -> None:
        check(self.curve_every >= 1, "tensorboard.curve_every", self.curve_every, "must be >= 1")
