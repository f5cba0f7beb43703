"""Load a data set by name: MNIST or Fashion-MNIST from their IDX files (images.py), or your
own sequences from a tensor file (tensors.py)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch

from galstm_torch.data.images import DATASETS, DataSplits, read, split, take
from galstm_torch.data.tensors import file_digest, load_tensor_file
from galstm_torch.errors import DataError


def load_data(name: str, root: "str | Path", *, download: bool = False,
              train_samples: "int | None" = None, test_samples: "int | None" = None,
              val_fraction: float = 0.1, path: "str | None" = None) -> DataSplits:
    """Load a data set, keep the first train/test samples, and hold out the last part of the
    training images for validation, as Keras' ``validation_split`` does. ``name=tensors``
    reads your own sequences from ``path`` (tensors.py)."""
    if name == "tensors":
        return load_tensor_file(path, train_samples=train_samples, test_samples=test_samples,
                                val_fraction=val_fraction)
    if name not in DATASETS:
        raise DataError(f"data.name={name!r} is unknown; choose one of "
                        f"{', '.join([*DATASETS, 'tensors'])}")
    root = Path(root).expanduser()
    x_train, y_train = take(*read(name, root, True, download), train_samples, "data.train_samples")
    x_test, y_test = take(*read(name, root, False, download), test_samples, "data.test_samples")
    scale = lambda x: x.to(torch.float32).div_(255.0)  # noqa: E731
    return split(scale(x_train), y_train.long(), scale(x_test), y_test.long(), val_fraction)


@dataclass(frozen=True)
class DataSpec:
    """The data a run trains on, as a worker in another process loads it (an absolute root:
    a worker's working directory may not be the driver's)."""

    name: str
    root: str
    download: bool = False
    train_samples: Optional[int] = None
    test_samples: Optional[int] = None
    val_fraction: float = 0.1
    path: Optional[str] = None  # data=tensors: the file

    @classmethod
    def of(cls, data: Any, val_fraction: float) -> "DataSpec":
        """From data.* (duck-typed: this layer sits below the config)."""
        return cls(data.name, str(Path(data.root).expanduser().resolve()), data.download,
                   data.train_samples, data.test_samples, val_fraction,
                   str(Path(data.path).expanduser().resolve()) if data.path else None)

    def load(self) -> DataSplits:
        return load_data(self.name, self.root, download=self.download,
                         train_samples=self.train_samples, test_samples=self.test_samples,
                         val_fraction=self.val_fraction, path=self.path)

    def describe(self) -> dict[str, Any]:
        """What changes a training's outcome (part of the fitness cache's fingerprint): a
        tensor file by its content, not its name."""
        desc: dict[str, Any] = {"name": self.name, "train_samples": self.train_samples,
                                "test_samples": self.test_samples,
                                "val_fraction": self.val_fraction}
        if self.name == "tensors":
            desc["sha256"] = file_digest(self.path)
        return desc

    def shape(self) -> tuple[int, int]:
        """(features per time step, classes): the image sets' are known; a tensor file is
        read once."""
        if self.name != "tensors":
            return 28, 10
        d = load_tensor_file(self.path, train_samples=self.train_samples,
                             test_samples=self.test_samples, val_fraction=self.val_fraction)
        return d.n_features, d.n_classes
