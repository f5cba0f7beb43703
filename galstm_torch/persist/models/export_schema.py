"""What a model export must hold to rebuild its model, checked before any weight is loaded: a
genome, model settings in range, and a state_dict of exactly the tensors that genome's model
has, each of its shape, dense, real and finite. A file that loads but does not fit together
(edited, damaged, or the weights of another genome) is refused in one line."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from galstm_torch.errors import DataError
from galstm_torch.training.architecture import Architecture, format_compact
from galstm_torch.training.model import INITS, build_model


@dataclass(frozen=True)
class ExportedModel:
    """The checked contents of an export: build_model's arguments and the weights."""

    arch: Architecture
    dropout: float
    init: str
    n_features: int
    n_classes: int
    state_dict: dict[str, torch.Tensor]


def _refused(path: Path, what: str) -> DataError:
    return DataError(f"{path} does not fit together: {what}; it was edited or damaged: restore "
                     "it, or train the genome again (train.py mode=evaluate genome=[...])")


def _whole(value: Any, name: str, least: int, path: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise _refused(path, f"{name}={value!r} must be an integer >= {least}")
    return value


def _architecture(info: dict[str, Any], path: Path) -> Architecture:
    compact = info.get("compact")
    if not isinstance(compact, (list, tuple)) or not compact or \
            not all(isinstance(v, int) and not isinstance(v, bool) for v in compact):
        raise _refused(path, f"compact={compact!r} must be a list of integers (the genome)")
    try:
        arch = Architecture.from_compact(compact)
    except ValueError as err:
        raise _refused(path, f"compact={list(compact)}: {err}") from None
    genome = info.get("genome")
    if genome != format_compact(arch.compact):
        raise _refused(path, f"genome={genome!r} and compact={list(compact)} disagree")
    return arch


def _settings(info: dict[str, Any], path: Path) -> dict[str, Any]:
    m = info.get("model")
    if not isinstance(m, dict):
        raise _refused(path, "it lacks its model settings (model: dropout, init, n_features, "
                             "n_classes)")
    dropout = m.get("dropout")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or \
            not 0 <= dropout < 1:
        raise _refused(path, f"model.dropout={dropout!r} must be a number in [0, 1)")
    if m.get("init") not in INITS:
        raise _refused(path, f"model.init={m.get('init')!r} must be one of {', '.join(INITS)}")
    return {"dropout": float(dropout), "init": m["init"],
            "n_features": _whole(m.get("n_features"), "model.n_features", 1, path),
            "n_classes": _whole(m.get("n_classes"), "model.n_classes", 2, path)}


def _expected_shapes(arch: Architecture, settings: dict[str, Any],
                     path: Path) -> dict[str, torch.Size]:
    """The state_dict shapes of the genome's model, from a model on the meta device: no memory
    is allocated, however large the file says the layers are."""
    try:
        with torch.device("meta"):
            shell = build_model(arch, dropout=settings["dropout"], init="torch",
                                n_features=settings["n_features"],
                                n_classes=settings["n_classes"])
    except (RuntimeError, ValueError) as err:  # sizes beyond what a tensor can hold
        raise _refused(path, f"the model of genome {format_compact(arch.compact)} cannot be "
                             f"built ({str(err).strip().splitlines()[0]})") from None
    return {k: v.shape for k, v in shell.state_dict().items()}


def _weights(info: dict[str, Any], path: Path, arch: Architecture,
             expected: dict[str, torch.Size]) -> dict[str, torch.Tensor]:
    state = info.get("state_dict")
    if not isinstance(state, dict):
        raise _refused(path, "it lacks its weights (state_dict)")
    genome = format_compact(arch.compact)
    missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected), key=str)
    if missing or extra:
        what = f"lacks {missing[0]!r}" if missing else f"holds {extra[0]!r}"
        raise _refused(path, f"its state_dict {what}, which the model of genome {genome} "
                             f"{'has' if missing else 'does not have'}")
    for key, shape in expected.items():
        t = state[key]
        if not isinstance(t, torch.Tensor) or t.is_meta or t.layout != torch.strided or \
                t.is_complex():
            raise _refused(path, f"state_dict[{key!r}] is not a dense tensor of real numbers")
        if t.shape != shape:
            raise _refused(path, f"state_dict[{key!r}] has shape {list(t.shape)}, the model of "
                                 f"genome {genome} needs {list(shape)}: these weights are "
                                 "another genome's")
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise _refused(path, f"state_dict[{key!r}] holds NaN or infinite weights")
    return state


def check_export(info: dict[str, Any], path: Path) -> ExportedModel:
    """The export's genome, settings and weights, or a DataError naming what does not fit."""
    arch = _architecture(info, path)
    settings = _settings(info, path)
    state = _weights(info, path, arch, _expected_shapes(arch, settings, path))
    return ExportedModel(arch=arch, state_dict=state, **settings)
