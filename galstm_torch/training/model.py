"""Build an ``nn.Module`` from an Architecture: stacked LSTMs, dense blocks, a 10-way head."""
from __future__ import annotations

from enum import Enum
from typing import Protocol, cast

import torch
from torch import nn

from galstm_torch.training.architecture import Architecture


class Init(str, Enum):
    """model.init: PyTorch's default initialisation, or Keras' (Glorot/orthogonal, forget
    bias 1, Keras BatchNorm)."""

    TORCH = "torch"
    KERAS = "keras"


INITS = tuple(Init)


class LSTMLayer(Protocol):
    """A one-layer nn.LSTM as this package reads it: its weights are registered by name, so a
    type checker cannot see them on nn.LSTM itself."""

    input_size: int
    hidden_size: int
    weight_ih_l0: nn.Parameter
    weight_hh_l0: nn.Parameter
    bias_ih_l0: nn.Parameter
    bias_hh_l0: nn.Parameter


class LSTMClassifier(nn.Module):
    """Reads an image row by row; only the last time step of the last LSTM feeds the head."""

    def __init__(self, arch: Architecture, *, n_features: int = 28, n_classes: int = 10,
                 dropout: float = 0.2, bn_momentum: float = 0.1, bn_eps: float = 1e-5) -> None:
        super().__init__()
        self.arch = arch
        sizes = (n_features, *arch.lstm_units)
        self.lstms = nn.ModuleList(
            nn.LSTM(i, h, batch_first=True) for i, h in zip(sizes[:-1], sizes[1:]))
        # space=extended: dropout on each LSTM layer's output sequence but the last's (none in
        # the article's model, which then has no such module and draws no masks)
        self.between = nn.Dropout(arch.lstm_dropout) if arch.lstm_dropout > 0 else None
        blocks, width = [], arch.lstm_units[-1]
        for units, rate, norm in zip(arch.dense_units, arch.block_dropout(dropout),
                                     arch.block_batchnorm):
            # Keras order from the article: Dense(ReLU) -> Dropout -> BatchNorm (space=extended
            # may leave the BatchNorm out: an Identity keeps the block's indices)
            last = nn.BatchNorm1d(units, momentum=bn_momentum, eps=bn_eps) if norm else nn.Identity()
            blocks.append(nn.Sequential(nn.Linear(width, units), nn.ReLU(), nn.Dropout(rate), last))
            width = units
        self.dense = nn.ModuleList(blocks)
        self.head = nn.Linear(width, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, lstm in enumerate(self.lstms):
            if i > 0 and self.between is not None:
                x = self.between(x)
            x, _ = lstm(x)
        x = x[:, -1]
        for block in self.dense:
            x = block(x)
        return self.head(x)  # logits; softmax lives in the cross-entropy loss

    # nn.ModuleList and nn.Sequential are not generic: to a type checker their items are plain
    # Modules, so these two accessors state the layer types that __init__ builds.
    def lstm_layers(self) -> list[LSTMLayer]:
        """The LSTM layers (self.lstms), in data-flow order."""
        return [cast(LSTMLayer, lstm) for lstm in self.lstms]

    def dense_layers(self) -> list[tuple[nn.Linear, nn.Dropout, "nn.BatchNorm1d | None"]]:
        """Each dense block's Linear, Dropout and BatchNorm1d (None where a genome of
        space=extended leaves it out; self.dense; ReLU has no state)."""
        blocks = [cast(nn.Sequential, block) for block in self.dense]
        return [(cast(nn.Linear, b[0]), cast(nn.Dropout, b[2]),
                 b[3] if isinstance(b[3], nn.BatchNorm1d) else None) for b in blocks]

    def dense_kernels(self) -> list[torch.Tensor]:
        """The weights the article's L2 penalty applies to (dense blocks only, not the head)."""
        return [linear.weight for linear, _, _ in self.dense_layers()]

    def l2_penalty(self) -> torch.Tensor:
        """Keras' kernel_regularizer=l2(1.0): the sum of squares, scaled by the caller."""
        # An Architecture has at least one dense block, so the sum is a tensor, never the int 0.
        return cast(torch.Tensor, sum(w.pow(2).sum() for w in self.dense_kernels()))


def _keras_init(model: LSTMClassifier) -> None:
    """Keras defaults: Glorot-uniform kernels, orthogonal recurrent weights, zero biases with
    the forget gate's bias at 1 (unit_forget_bias)."""
    for lstm in model.lstm_layers():
        h = lstm.hidden_size
        nn.init.xavier_uniform_(lstm.weight_ih_l0)
        nn.init.orthogonal_(lstm.weight_hh_l0)
        nn.init.zeros_(lstm.bias_ih_l0)
        nn.init.zeros_(lstm.bias_hh_l0)
        with torch.no_grad():
            lstm.bias_ih_l0[h : 2 * h].fill_(1.0)  # PyTorch gate order is i, f, g, o
    for linear in [block[0] for block in model.dense_layers()] + [model.head]:
        nn.init.xavier_uniform_(linear.weight)
        nn.init.zeros_(linear.bias)


def build_model(arch: Architecture, *, dropout: float = 0.2, init: str = "torch",
                n_features: int = 28, n_classes: int = 10) -> LSTMClassifier:
    """The model for one genome. init='keras' also uses Keras' BatchNorm momentum and eps."""
    if init not in INITS:
        raise ValueError(f"model.init={init!r} is unknown; choose one of {', '.join(INITS)}")
    bn = {"bn_momentum": 0.01, "bn_eps": 1e-3} if init == "keras" else {}
    model = LSTMClassifier(arch, n_features=n_features, n_classes=n_classes, dropout=dropout, **bn)
    if init == "keras":
        _keras_init(model)
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
