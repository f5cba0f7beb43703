"""Loading real IDX files, the Keras-style validation split, and clear errors."""
from __future__ import annotations

import shutil

import pytest
import torch

from galstm_torch.data.load import load_data
from galstm_torch.errors import DataError

from conftest import SAMPLE_ROOT, sample


def test_sample_loads_as_rows_of_pixels_with_keras_validation_split():
    d = sample(val_fraction=0.1)
    assert d.sizes == {"train": 2700, "val": 300, "test": 1000}
    assert d.x_train.shape == (2700, 28, 28) and d.x_train.dtype == torch.float32
    assert 0.0 <= float(d.x_train.min()) and float(d.x_train.max()) <= 1.0
    assert d.y_train.dtype == torch.int64 and set(d.y_test.unique().tolist()) == set(range(10))
    full = sample(val_fraction=0.0)
    assert torch.equal(d.x_val, full.x_train[2700:])  # the validation images are the last 10%


def test_subsets_take_the_first_images():
    d = sample(train_samples=100, test_samples=50, val_fraction=0.2)
    assert d.sizes == {"train": 80, "val": 20, "test": 50}
    with pytest.raises(DataError, match=r"data.train_samples=5000 is out of range.*3000"):
        load_data("mnist", SAMPLE_ROOT, train_samples=5000)


def test_missing_files_say_where_and_how(tmp_path):
    with pytest.raises(DataError, match=rf"not found under {tmp_path}/MNIST/raw.*data.root"):
        load_data("mnist", tmp_path)


def test_truncated_file_is_reported(tmp_path):
    shutil.copytree(SAMPLE_ROOT / "MNIST", tmp_path / "MNIST")
    images = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:5000])
    with pytest.raises(DataError, match="corrupt or truncated"):
        load_data("mnist", tmp_path)


def test_the_idx_reader_gives_torchvisions_arrays_bit_for_bit():
    from torchvision import datasets

    from galstm_torch.data.idx import read_idx

    for train, prefix in ((True, "train"), (False, "t10k")):
        ds = datasets.MNIST(root=str(SAMPLE_ROOT), train=train, download=False)
        raw = SAMPLE_ROOT / "MNIST" / "raw"
        assert torch.equal(read_idx(raw / f"{prefix}-images-idx3-ubyte"), ds.data)
        assert torch.equal(read_idx(raw / f"{prefix}-labels-idx1-ubyte").long(), ds.targets)


def test_reading_mnist_does_not_import_torchvision():
    # importing torchvision took 1-2 s in every process that reads the data
    import subprocess
    import sys

    code = ("import sys; from galstm_torch.data.load import load_data; "
            f"load_data('mnist', {str(SAMPLE_ROOT)!r}); print('torchvision' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_file_that_is_not_idx_is_reported(tmp_path):
    shutil.copytree(SAMPLE_ROOT / "MNIST", tmp_path / "MNIST")
    labels = tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    labels.write_bytes(b"<html>not found</html>")
    with pytest.raises(DataError, match="corrupt or truncated.*not an unsigned-byte IDX file"):
        load_data("mnist", tmp_path)


@pytest.mark.parametrize("name", ["train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"])
def test_an_idx_header_of_0_dimensions_is_reported(tmp_path, name):
    """A 0-dimensional header (one value) gave a TypeError from view()."""
    shutil.copytree(SAMPLE_ROOT / "MNIST", tmp_path / "MNIST")
    (tmp_path / "MNIST" / "raw" / name).write_bytes(bytes([0, 0, 8, 0, 7]))
    with pytest.raises(DataError, match=rf"corrupt or truncated \({name} declares 0 dimensions"
                                        r" in its header.*replace the IDX files") as err:
        load_data("mnist", tmp_path)
    assert "\n" not in str(err.value)
