"""Your own data (issue 14): a search on sequences of another shape and class count, from
Python or as data=tensors, and a one-line error for each bad file."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import galstm_torch
from galstm_torch.data.load import load_data
from galstm_torch.errors import DataError

SMALL = ["ga=simple", "ga.pop_size=3", "ga.generations=1", "model.min_units=8",
         "model.max_units=16", "progress=false", "tensorboard.enabled=false",
         "trainer.num_threads=1", "trainer.device=cpu"]


def sequences(n: int, seed: int, steps: int = 12, features: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """A learnable 3-class task: the label is the feature (of the first 3) largest on average."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, steps, features, generator=g)
    return x, x[:, :, :3].mean(dim=1).argmax(dim=1)


def test_a_search_from_python_on_12x5_sequences_of_3_classes(tmp_path):
    best = galstm_torch.search_sequences(train=sequences(300, 0), test=sequences(90, 1),
                                         out_dir=tmp_path / "run", overrides=SMALL)
    assert best["genome"].startswith("[")
    model = galstm_torch.load_model(tmp_path / "run" / "best_model.pt")
    assert model.lstms[0].input_size == 5 and model.head.out_features == 3
    info = torch.load(tmp_path / "run" / "best_model.pt", weights_only=True)
    assert info["normalisation"]["divide_by"] == 1.0
    assert info["normalisation"]["input_shape"] == [12, 5]
    assert model(sequences(4, 2)[0]).shape == (4, 3)


def test_an_npz_file_with_its_own_validation_split(tmp_path):
    (xt, yt), (xv, yv), (xs, ys) = sequences(50, 0), sequences(20, 1), sequences(30, 2)
    path = tmp_path / "d.npz"
    np.savez(path, x_train=xt.numpy(), y_train=yt.numpy(), x_val=xv.numpy(), y_val=yv.numpy(),
             x_test=xs.numpy(), y_test=ys.numpy())
    data = load_data("tensors", ".", path=str(path))
    assert data.sizes == {"train": 50, "val": 20, "test": 30}
    assert (data.n_features, data.n_classes) == (5, 3)


def _bad(tmp_path, **changes):
    x, y = sequences(40, 0)
    payload = {"x_train": x, "y_train": y, "x_test": x[:10], "y_test": y[:10], **changes}
    path = tmp_path / "bad.pt"
    torch.save({k: v for k, v in payload.items() if v is not None}, path)
    return str(path)


@pytest.mark.parametrize("changes, message", [
    ({"x_train": torch.randn(40, 60)}, r"has shape \(40, 60\).*expected \[N, T, F\]"),
    ({"x_test": torch.full((10, 12, 5), float("nan"))}, "NaN or infinite values"),
    ({"y_test": -torch.ones(10, dtype=torch.long)}, "labels in .* must be 0..C-1"),
    ({"y_train": None}, "lacks y_train"),
    ({"x_test": torch.randn(10, 12, 4)}, "different \\[T, F\\] shapes"),
    ({"y_train": torch.zeros(40)}, "must hold integer class labels"),
], ids=["shape", "nan", "labels", "missing", "widths", "float-labels"])
def test_a_bad_file_is_one_line(tmp_path, changes, message):
    with pytest.raises(DataError, match=message) as err:
        load_data("tensors", ".", path=_bad(tmp_path, **changes))
    assert "\n" not in str(err.value)


def _complex(x: torch.Tensor) -> torch.Tensor:
    return torch.complex(x, torch.ones_like(x))


@pytest.mark.parametrize("changes, message", [
    ({"x_train": sequences(40, 0)[0].to_sparse()}, r"x_train in .* is a sparse \(torch.sparse_coo\) "
                                                   r"tensor: save a dense tensor"),
    ({"x_train": torch.empty(40, 12, 5, device="meta")}, "x_train in .* is a meta tensor"),
    ({"y_test": sequences(40, 0)[1][:10].to_sparse()}, "y_test in .* is a sparse"),
    ({"x_train": _complex(sequences(40, 0)[0])}, "x_train in .* holds complex numbers"),
    ({"y_train": _complex(sequences(40, 0)[1].double())}, "y_train in .* holds complex numbers"),
], ids=["sparse", "meta", "sparse-labels", "complex", "complex-labels"])
def test_tensors_that_are_not_dense_real_numbers_are_one_line(tmp_path, changes, message):
    """A sparse or meta tensor gave a traceback; a complex one lost its imaginary part."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no torch warning printed before the line either
        with pytest.raises(DataError, match=message) as err:
            load_data("tensors", ".", path=_bad(tmp_path, **changes))
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("x_train, message", [
    (np.full((40, 12, 5), "a"), r"x_train in .* holds strings \(<U1\), not numbers"),
    (np.zeros((40, 12, 5), dtype="datetime64[s]"), r"holds dates \(datetime64\[s\]\)"),
    (np.zeros((40, 12, 5), dtype="timedelta64[s]"), r"holds time spans"),
    (np.zeros((40, 12, 5), dtype=[("a", "f4")]), "holds raw records"),
], ids=["strings", "datetime64", "timedelta64", "records"])
def test_an_npz_of_anything_but_numbers_is_one_line(tmp_path, x_train, message):
    x, y = sequences(40, 0)
    path = tmp_path / "d.npz"
    np.savez(path, x_train=x_train, y_train=y.numpy(), x_test=x[:10].numpy(),
             y_test=y[:10].numpy())
    with pytest.raises(DataError, match=message) as err:
        load_data("tensors", ".", path=str(path))
    assert "\n" not in str(err.value)


def test_an_npz_with_an_extra_array_of_text_still_loads(tmp_path):
    x, y = sequences(40, 0)
    path = tmp_path / "d.npz"
    np.savez(path, x_train=x.numpy(), y_train=y.numpy(), x_test=x[:10].numpy(),
             y_test=y[:10].numpy(), notes=np.array(["from the lab"]))
    assert load_data("tensors", ".", path=str(path)).sizes["test"] == 10


def test_a_split_too_small_is_refused(tmp_path):
    x, y = sequences(2, 0)
    path = tmp_path / "tiny.pt"
    torch.save({"x_train": x, "y_train": y, "x_test": x, "y_test": y}, path)
    with pytest.raises(DataError, match="training samples remain"):
        load_data("tensors", ".", path=str(path), val_fraction=0.5)


def test_a_data_path_without_data_tensors_is_refused_not_ignored():
    from galstm_torch.app import to_config
    from galstm_torch.errors import ConfigError

    from conftest import TINY, compose_cfg

    with pytest.raises(ConfigError, match="data.path=x.npz is read only with data=tensors"):
        to_config(compose_cfg(*TINY, "data.path=x.npz"))
