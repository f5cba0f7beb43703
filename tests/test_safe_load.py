"""A refused pickle is one line, with no torch warning first (issue 28 item 17):
training/safe_load.py, which every reader of a model or data .pt file goes through."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from galstm_torch.errors import DataError
from galstm_torch.persist.models.export import load_model


class _Planted:
    """A pickle that would create a file when unpickled with weights_only=False."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("writer", ["pickle", "torch.save"])
def test_a_refused_pickle_is_one_line_without_a_torch_warning(tmp_path, writer):
    """Issue 28 item 17: a pickle written by pickle.dump made torch warn (2 lines) before the
    error; the error advised weights_only=False. Now one line, for a model and a data file."""
    import pickle
    import warnings

    from galstm_torch.data.tensors import load_tensor_file

    marker, path = tmp_path / "pwned", tmp_path / "evil.pt"
    payload = {"format": 1, "model": _Planted(marker)}
    if writer == "pickle":
        path.write_bytes(pickle.dumps(payload))
    else:
        torch.save(payload, path)
    for load, start in ((load_model, f"cannot read a model export from {path}: it holds "),
                        (load_tensor_file, f"data.path={path} cannot be read as .pt or .npz "
                                           "(it holds ")):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # any warning fails the test
            with pytest.raises(DataError) as err:
                load(path)
        line = str(err.value)
        assert line.startswith(start) and "\n" not in line, line
        assert "a pickle that could run code" in line and "weights_only` set to `False" not in line
    assert not marker.exists()
