"""The builder makes the article's model for every combination of layer counts."""
from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from galstm_torch.training.architecture import Architecture
from galstm_torch.training.model import build_model, count_parameters


def expected_params(arch: Architecture) -> int:
    total, width = 0, 28
    for h in arch.lstm_units:  # PyTorch's LSTM has two bias vectors per layer
        total += 4 * (h * width + h * h + 2 * h)
        width = h
    for u in arch.dense_units:  # Linear + BatchNorm's weight and bias
        total += width * u + u + 2 * u
        width = u
    return total + width * 10 + 10


UNITS = [33, 57, 101]


@pytest.mark.parametrize("n_lstm, n_dense", list(itertools.product([1, 2, 3], [1, 2, 3])))
@pytest.mark.parametrize("init", ["torch", "keras"])
def test_shape_and_parameter_count(n_lstm, n_dense, init):
    arch = Architecture(tuple(UNITS[:n_lstm]), tuple(reversed(UNITS))[:n_dense])
    model = build_model(arch, init=init)
    assert count_parameters(model) == expected_params(arch)
    assert [m.hidden_size for m in model.lstms] == list(arch.lstm_units)
    assert all(isinstance(m, nn.LSTM) and m.batch_first for m in model.lstms)
    assert len(model.dense) == n_dense
    out = model(torch.rand(5, 28, 28))
    assert out.shape == (5, 10)


def test_dense_block_order_and_l2_penalty():
    model = build_model(Architecture((40,), (50, 60)), dropout=0.2)
    block = model.dense[0]
    assert [type(m) for m in block] == [nn.Linear, nn.ReLU, nn.Dropout, nn.BatchNorm1d]
    assert block[2].p == 0.2
    expected = sum(b[0].weight.pow(2).sum() for b in model.dense)
    assert torch.allclose(model.l2_penalty(), expected)
    assert all(w is not model.head.weight for w in model.dense_kernels())


def test_keras_init_matches_keras_defaults():
    torch.manual_seed(0)
    model = build_model(Architecture((64,), (32,)), init="keras")
    lstm = model.lstms[0]
    w_hh = lstm.weight_hh_l0  # [4H, H] with orthonormal columns
    assert torch.allclose(w_hh.T @ w_hh, torch.eye(64), atol=1e-5)
    bias = lstm.bias_ih_l0 + lstm.bias_hh_l0
    assert torch.equal(bias[64:128], torch.ones(64))  # forget gate
    assert bias[:64].abs().sum() == 0 and bias[128:].abs().sum() == 0
    bn = model.dense[0][3]
    assert bn.momentum == pytest.approx(0.01) and bn.eps == pytest.approx(1e-3)
    limit = (6 / (28 + 4 * 64)) ** 0.5  # Glorot-uniform bound for the input kernel
    assert lstm.weight_ih_l0.abs().max() <= limit


def test_forward_feeds_only_the_last_step_of_the_last_lstm_to_the_head():
    torch.manual_seed(0)
    model = build_model(Architecture((16, 12), (8,)), dropout=0.0).eval()
    x = torch.rand(3, 28, 28)
    seq, _ = model.lstms[1](model.lstms[0](x)[0])
    assert torch.allclose(model(x), model.head(model.dense[0](seq[:, -1])))
