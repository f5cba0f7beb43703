"""The model export: a state_dict plus the compact genome, model settings and normalisation,
as plain tensors, numbers and strings. ``torch.load(path, weights_only=True)`` reads it and no
pickled class is needed; ``load_model`` rebuilds the nn.Module."""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from galstm_torch.errors import DataError
from galstm_torch.files.atomic import atomic_write
from galstm_torch.files.safe_load import load_tensors
from galstm_torch.persist.models.export_schema import check_export
from galstm_torch.training.architecture import Architecture, format_compact
from galstm_torch.training.model import LSTMClassifier, build_model

FORMAT = "galstm_torch.training.model/1"
# How load_data turns the uint8 images into model input: x = image / 255, rows as time steps.
NORMALISATION: dict[str, Any] = {"divide_by": 255.0, "input_shape": [28, 28],
                                 "layout": "image rows are time steps, pixels of a row are features"}


def save_model(path: Path, model: LSTMClassifier, arch: Architecture, *, dropout: float, init: str,
               metrics: dict[str, float], extra: "dict[str, Any] | None" = None,
               normalisation: "dict[str, Any] | None" = None) -> None:
    """Write the export atomically (no half-written model on a crash). The input width and
    class count are the model's; ``normalisation`` says how raw input becomes model input
    (MNIST's by default)."""
    payload = {
        "format": FORMAT, "genome": format_compact(arch.compact), "compact": list(arch.compact),
        "model": {"dropout": dropout, "init": init, "n_features": model.lstm_layers()[0].input_size,
                  "n_classes": model.head.out_features},
        "normalisation": dict(normalisation or NORMALISATION),
        "metrics": {k: float(v) for k, v in metrics.items()},
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        **(extra or {}),
    }
    atomic_write(path, lambda tmp: torch.save(payload, tmp))


def load_export(path: "str | Path") -> dict[str, Any]:
    """The export's contents, read with weights_only=True."""
    try:
        payload = load_tensors(Path(path))  # no torch warning: one line
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError, ValueError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else \
            f"{type(err).__name__}: the file is empty or truncated"
        raise DataError(f"cannot read a model export from {path}: {reason}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise DataError(f"{path} is not a galstm_torch model export (format {FORMAT})")
    return payload


def load_model(path: "str | Path", device: "str | torch.device" = "cpu") -> LSTMClassifier:
    """Rebuild the exported model with its weights, in eval mode, on ``device``."""
    found = check_export(load_export(path), Path(path))
    model = build_model(found.arch, dropout=found.dropout, init=found.init,
                        n_features=found.n_features, n_classes=found.n_classes)
    model.load_state_dict(found.state_dict)
    return model.to(device).eval()


def normalise(images: torch.Tensor) -> torch.Tensor:
    """uint8 images [N, 28, 28] -> the model's float input, as in training."""
    return images.to(torch.float32) / NORMALISATION["divide_by"]  # bit-identical to load_data
