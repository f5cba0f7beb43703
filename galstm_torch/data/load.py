"""Load a data set by name: MNIST or Fashion-MNIST from their IDX files (images.py), or your
own sequences from a tensor file (tensors.py)."""
from __future__ import annotations

from pathlib import Path

import torch

from galstm_torch.data.images import DATASETS, DataSplits, read, split, take
from galstm_torch.data.tensors import load_tensor_file
from galstm_torch.errors import DataError


def load_data(name: str, root: "str | Path", *, download: bool = False,
              train_samples: "int | None" = None, test_samples: "int | None" = None,
              val_fraction: float = 0.1, path: "str | None" = None) -> DataSplits:
    """Load a data set, keep the first train/test samples, and hold out the last part of the
    training images for validation, as Keras' ``validation_split`` does. ``name=tensors``
    reads your own sequences from ``path`` (tensor_data.py)."""
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
