"""Image datasets as tensors: 28 time steps of 28 features, scaled to [0, 1]."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch

from galstm_torch.data.idx import read_idx
from galstm_torch.errors import DataError

DATASETS = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}  # torchvision.datasets classes
TRAIN_IMAGES = {"mnist": 60_000, "fashion_mnist": 60_000}  # each data set's training images
# A fitness measured on fewer validation images ranks genomes by chance (one image: 0 or 1).
MIN_VAL_IMAGES = 20


def val_images(n_train: int, val_fraction: float) -> int:
    """How many of ``n_train`` training images split() holds out for validation."""
    return n_train - int(n_train * (1.0 - val_fraction))


def too_few_val_images(n_train: int, val_fraction: float) -> Optional[str]:
    """Why a validation split of ``val_fraction`` of ``n_train`` images cannot rank genomes
    on its accuracy (trainer.fitness_split=val), or None."""
    n_val = val_images(n_train, val_fraction)
    if n_val >= MIN_VAL_IMAGES:
        return None
    least = f"use trainer.val_fraction={MIN_VAL_IMAGES / n_train:.2g} or more" \
        if n_train >= 2 * MIN_VAL_IMAGES else "raise data.train_samples"
    return (f"trainer.val_fraction={val_fraction:g} leaves {n_val} validation image"
            f"{'' if n_val == 1 else 's'} of {n_train}, fewer than the {MIN_VAL_IMAGES} a "
            f"fitness on the validation split needs: {least}, or trainer.fitness_split=test")


def _dataset_class(name: str) -> Any:
    """torchvision's dataset class, imported only to download (importing torchvision costs
    1-2 s; reading the IDX files needs none of it: idx.py)."""
    from torchvision import datasets

    return getattr(datasets, DATASETS[name])


@dataclass(frozen=True)
class DataSplits:
    """Train, validation and test tensors; x is float [N, T, F] (MNIST: 28 rows of 28
    pixels), y is int64 [N] in [0, n_classes). ``scale``: the model input is raw / scale
    (255 for images, 1 for tensors given as they are)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int = 10
    scale: float = 255.0

    TENSORS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")

    def to(self, device: "torch.device | str") -> "DataSplits":
        return DataSplits(**{f: getattr(self, f).to(device) for f in self.TENSORS},
                          n_classes=self.n_classes, scale=self.scale)

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[2])

    @property
    def sizes(self) -> dict[str, int]:
        return {"train": len(self.y_train), "val": len(self.y_val), "test": len(self.y_test)}


def read(name: str, root: Path, train: bool, download: bool) -> tuple[torch.Tensor, torch.Tensor]:
    folder = DATASETS[name]  # torchvision's class name is its folder's name
    raw = root / folder / "raw"
    how = (f"put the four IDX files ({folder} layout) in {raw}, or set data.root to a "
           f"folder that holds {folder}/raw/")
    prefix = "train" if train else "t10k"
    missing = [f for f in (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
               if not (raw / f).is_file()]
    if missing and not download:
        raise DataError(f"{name} data not found under {raw} (missing {', '.join(missing)}): {how}")
    if missing:
        try:  # torchvision downloads and checks the files
            _dataset_class(name)(root=str(root), train=train, download=True)
        except Exception as err:  # torchvision raises or asserts on failed downloads
            raise DataError(f"{name} data not found under {raw} and could not be downloaded "
                            f"({type(err).__name__}): {how}") from err
    try:
        images = read_idx(raw / f"{prefix}-images-idx3-ubyte")
        labels = read_idx(raw / f"{prefix}-labels-idx1-ubyte").long()
    except (OSError, ValueError, RuntimeError) as err:
        raise DataError(f"{name} data under {raw} is corrupt or truncated ({err}): replace "
                        "the IDX files there") from err
    if images.dim() != 3 or tuple(images.shape[1:]) != (28, 28) or len(images) != len(labels):
        raise DataError(f"{name} data under {raw} has images {tuple(images.shape)} and "
                        f"{len(labels)} labels; expected [N, 28, 28] and N: replace the IDX files")
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= 10):
        bad = labels[(labels < 0) | (labels >= 10)][0]
        raise DataError(f"{name} data under {raw} has a label {int(bad)} outside 0-9: "
                        "replace the IDX files")
    return images, labels


def take(x: torch.Tensor, y: torch.Tensor, n: "int | None", key: str) -> tuple[torch.Tensor, torch.Tensor]:
    if n is None:
        return x, y
    if not 1 <= n <= len(x):
        raise DataError(f"{key}={n} is out of range: the data set has {len(x)} images, "
                        f"so use 1..{len(x)} or null for all")
    return x[:n], y[:n]


def split(x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor,
          y_test: torch.Tensor, val_fraction: float, *, n_classes: int = 10,
          scale: float = 255.0) -> DataSplits:
    """Hold out the last ``val_fraction`` of the training samples for validation."""
    split_at = int(len(x_train) * (1.0 - val_fraction))  # Keras' formula, to the sample
    if split_at < 2:
        raise DataError(f"only {split_at} training samples remain after the validation split: "
                        "raise data.train_samples or lower trainer.val_fraction")
    if val_fraction > 0 and split_at == len(x_train):
        raise DataError(f"trainer.val_fraction={val_fraction:g} leaves no validation image of "
                        f"{len(x_train)}: use at least {1 / len(x_train):.2g}, or 0 with "
                        "trainer.fitness_split=test")
    return DataSplits(x_train[:split_at], y_train[:split_at], x_train[split_at:],
                      y_train[split_at:], x_test, y_test, n_classes=n_classes, scale=scale)
