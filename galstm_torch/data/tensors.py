"""Your own sequence data (``data=tensors data.path=FILE``): a ``.pt`` file (read with
``weights_only=True``) or an ``.npz`` file (read without pickles) holding ``x_train``,
``y_train``, ``x_test``, ``y_test`` and optionally ``x_val``, ``y_val``.

x is a float array [N, T, F] (N sequences of T time steps of F features), y an integer
array [N] of class labels 0..C-1. The model's input width F and its C outputs come from the
data. Without ``x_val`` the validation split is the last ``trainer.val_fraction`` of the
training samples. Values are used as given (no scaling).
"""
from __future__ import annotations

import hashlib
import pickle
import zipfile
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from galstm_torch.data.images import (
    MIN_VAL_IMAGES,
    DataSplits,
    split,
    take,
    too_few_val_images,
    val_images,
)
from galstm_torch.errors import DataError
from galstm_torch.files.safe_load import load_tensors

REQUIRED = ("x_train", "y_train", "x_test", "y_test")
KEYS = (*REQUIRED, "x_val", "y_val")


# numpy's kinds of arrays that hold no numbers, by what they hold
NOT_NUMBERS = {"U": "strings", "S": "bytes", "M": "dates", "m": "time spans",
               "V": "raw records", "O": "objects"}


def _numeric(name: str, array: np.ndarray, path: Path) -> torch.Tensor:
    if array.dtype.kind in NOT_NUMBERS:
        raise DataError(f"{name} in {path} holds {NOT_NUMBERS[array.dtype.kind]} "
                        f"({array.dtype}), not numbers: store x as floats and y as integer labels")
    return torch.from_numpy(np.array(array))


def _read(path: Path) -> dict[str, Any]:
    try:
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as f:
                return {k: _numeric(k, f[k], path) for k in f.files if k in KEYS}
        payload = load_tensors(path)  # no torch warning: one line
    except (OSError, ValueError, RuntimeError, EOFError, pickle.UnpicklingError,
            zipfile.BadZipFile) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(f"data.path={path} cannot be read as .pt or .npz ({first})") from None
    if not isinstance(payload, dict):
        raise DataError(f"data.path={path} must hold a dict of tensors ({', '.join(REQUIRED)})")
    return payload


def _plain(t: torch.Tensor, name: str, path: Path) -> None:
    """A dense tensor of real numbers, as the trainer reads it: not sparse, meta, quantized or
    complex (a complex value would lose its imaginary part)."""
    kind = "meta" if t.is_meta else "quantized" if t.is_quantized else \
        None if t.layout == torch.strided else f"sparse ({t.layout})"
    if kind:
        raise DataError(f"{name} in {path} is a {kind} tensor: save a dense tensor of its "
                        "values (x.to_dense() for a sparse one)")
    if t.is_complex():
        raise DataError(f"{name} in {path} holds complex numbers: the model reads real values; "
                        "save the real and imaginary parts as two features instead")


def _pair(payload: dict[str, Any], split_name: str, path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = payload[f"x_{split_name}"], payload[f"y_{split_name}"]
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise DataError(f"x_{split_name} and y_{split_name} in {path} must be arrays")
    _plain(x, f"x_{split_name}", path)
    _plain(y, f"y_{split_name}", path)
    if x.dim() != 3 or y.dim() != 1 or len(x) != len(y):
        raise DataError(f"x_{split_name} in {path} has shape {tuple(x.shape)} and y_{split_name} "
                        f"{tuple(y.shape)}: expected [N, T, F] and [N]")
    if len(x) == 0:
        raise DataError(f"x_{split_name} in {path} is empty: every split needs samples")
    if y.dtype.is_floating_point or y.dtype == torch.bool:
        raise DataError(f"y_{split_name} in {path} must hold integer class labels")
    x = x.to(torch.float32)
    if not bool(torch.isfinite(x).all()):
        raise DataError(f"x_{split_name} in {path} holds NaN or infinite values: clean the data")
    return x, y.long()


def load_tensor_file(path: "str | Path | None", *, train_samples: Optional[int] = None,
                     test_samples: Optional[int] = None, val_fraction: float = 0.1) -> DataSplits:
    """The file's splits, checked: shapes, finite values, labels 0..C-1, no empty split."""
    if not path:
        raise DataError("data=tensors needs data.path=FILE (a .pt or .npz file)")
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"data.path={path} does not exist")
    payload = _read(path)
    missing = [k for k in REQUIRED if k not in payload]
    if missing or (("x_val" in payload) != ("y_val" in payload)):
        raise DataError(f"data.path={path} lacks {', '.join(missing) or 'x_val or y_val'}: it "
                        f"needs {', '.join(REQUIRED)} (and optionally x_val, y_val)")
    names = ["train", "test", *(["val"] if "x_val" in payload else [])]
    pairs = {n: _pair(payload, n, path) for n in names}
    shapes = {tuple(x.shape[1:]) for x, _ in pairs.values()}
    if len(shapes) != 1:
        raise DataError(f"the splits in {path} have different [T, F] shapes {sorted(shapes)}")
    labels = torch.cat([y for _, y in pairs.values()])
    n_classes = int(labels.max()) + 1
    if int(labels.min()) < 0 or n_classes < 2:
        raise DataError(f"labels in {path} must be 0..C-1 with C >= 2 (found {int(labels.min())}"
                        f"..{int(labels.max())})")
    x_train, y_train = take(*pairs["train"], train_samples, "data.train_samples")
    x_test, y_test = take(*pairs["test"], test_samples, "data.test_samples")
    if "val" in pairs:
        x_val, y_val = pairs["val"]
        return DataSplits(x_train, y_train, x_val, y_val, x_test, y_test, n_classes=n_classes,
                          scale=1.0)
    return split(x_train, y_train, x_test, y_test, val_fraction, n_classes=n_classes, scale=1.0)


def file_digest(path: "str | Path | None") -> Optional[str]:
    """SHA-256 of the data file: part of the fitness cache's fingerprint."""
    if not path or not Path(path).expanduser().is_file():
        return None
    return hashlib.sha256(Path(path).expanduser().read_bytes()).hexdigest()[:16]


def check_val_split(data: Any, trainer: Any) -> None:
    """With data=tensors and a fitness on the validation split, the split holds at least
    MIN_VAL_IMAGES sequences: a tensor file's size is known only once it is read (the image
    data sets' is checked with the config, config/rules.py). ``data``, ``trainer``: the
    config's sections."""
    if data.name != "tensors" or trainer.fitness_split != "val":
        return
    loaded = load_tensor_file(data.path, train_samples=data.train_samples,
                              test_samples=data.test_samples, val_fraction=trainer.val_fraction)
    n_val = len(loaded.y_val)
    if n_val >= MIN_VAL_IMAGES:
        return
    n, fraction = len(loaded.y_train) + n_val, trainer.val_fraction
    if val_images(n, fraction) == n_val:  # split from x_train by trainer.val_fraction
        raise DataError(f"data.path={data.path}: {too_few_val_images(n, fraction)}")
    raise DataError(f"data.path={data.path} holds {n_val} validation sequences (x_val), fewer "
                    f"than the {MIN_VAL_IMAGES} a fitness on the validation split needs: give "
                    "more, or use trainer.fitness_split=test")
