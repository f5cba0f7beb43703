"""Standard exports (issue 14): ONNX and torch.export files of a run's model give the same
outputs as the PyTorch model, at another batch size than the one traced. A model file that
does not fit together, a read-only or full disk: one line, exit 2, no partial file (issue 28
item 9)."""
from __future__ import annotations

import errno
import os
import warnings
from pathlib import Path

import pytest
import torch

from galstm_torch.app import run
from galstm_torch.errors import DataError
from galstm_torch.persist.models import standard_export
from galstm_torch.persist.models.export import load_model, save_model
from galstm_torch.persist.models.standard_export import export_run, main
from galstm_torch.training.architecture import Architecture
from galstm_torch.training.model import build_model

from conftest import TINY, compose_cfg


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "run"
    run(compose_cfg(*TINY, "mode=evaluate", "genome=[2,2,24,16,32,20]", "progress=false",
                    "trainer.num_threads=1"), out_dir=out)
    return out


def images(n: int) -> torch.Tensor:
    return torch.rand(n, 28, 28, generator=torch.Generator().manual_seed(n))


def test_torch_export_matches_the_model(run_dir):
    path = export_run(run_dir, "torch-export")
    assert path == run_dir / "best_model.pt2"
    program = torch.export.load(path).module()
    model = load_model(run_dir / "best_model.pt")
    x = images(5)
    torch.testing.assert_close(program(x), model(x), rtol=1e-5, atol=1e-5)


def test_onnx_matches_the_model(run_dir):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    path = export_run(run_dir, "onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    model = load_model(run_dir / "best_model.pt")
    x = images(7)
    (logits,) = session.run(["logits"], {"images": x.numpy()})
    torch.testing.assert_close(torch.from_numpy(logits), model(x), rtol=1e-4, atol=1e-4)
    # one self-contained file (its weights inside), and nothing else left beside it
    assert not (run_dir / "best_model.onnx.data").exists()
    assert not list(run_dir.glob(".best_model*"))


def test_a_folder_without_a_model_is_one_line(tmp_path, capsys):
    assert main([str(tmp_path), "--format", "onnx"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "best_model.pt does not exist" in err[0]
    with pytest.raises(DataError):
        export_run(tmp_path, "torch-export")


def untrained_export(folder: Path) -> Path:
    """A model export as train.py writes it, of an untrained [1,1,8,6]: no training needed."""
    arch = Architecture.from_compact([1, 1, 8, 6])
    save_model(folder / "best_model.pt", build_model(arch), arch, dropout=0.2, init="torch",
               metrics={"test_acc": 0.5})
    return folder / "best_model.pt"


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize("change, message", [
    (lambda i: i.update(genome="[1,1,9,6]", compact=[1, 1, 9, 6]),
     r"state_dict\['lstms.0.weight_ih_l0'\] has shape \[32, 28\], the model of genome "
     r"\[1,1,9,6\] needs \[36, 28\]: these weights are another genome's"),
    (lambda i: i.update(genome="[1,1,2000000,6]", compact=[1, 1, 2_000_000, 6]),
     r"has shape \[32, 28\], .* needs \[8000000, 28\]"),  # nothing that size allocated
    (lambda i: i.update(genome="[1,1,2000000000,6]", compact=[1, 1, 2_000_000_000, 6]),
     r"the model of genome \[1,1,2000000000,6\] cannot be built \(Storage size"),
    (lambda i: i.update(compact=[1, 1, 9, 6]),
     r"genome='\[1,1,8,6\]' and compact=\[1, 1, 9, 6\] disagree"),
    (lambda i: i.pop("model"), "it lacks its model settings"),
    (lambda i: i.pop("state_dict"), r"it lacks its weights \(state_dict\)"),
    (lambda i: i.update(compact="[1,1,8,6]"), "compact='.*' must be a list of integers"),
    (lambda i: i.update(compact=[2, 1, 8, 6]), "declares 2 LSTM and 1 dense layers"),
    (lambda i: i["model"].update(dropout=1.5), r"model.dropout=1.5 must be a number in \[0, 1\)"),
    (lambda i: i["model"].update(dropout="0.2"), r"model.dropout='0.2' must be a number"),
    (lambda i: i["model"].update(init="he"), "model.init='he' must be one of torch, keras"),
    (lambda i: i["state_dict"].update({"head.weight": torch.zeros(3, 3)}),
     r"state_dict\['head.weight'\] has shape \[3, 3\], the model of genome \[1,1,8,6\] "
     r"needs \[10, 6\]"),
    (lambda i: i["state_dict"].update({"extra.weight": torch.zeros(3)}),
     r"state_dict holds 'extra.weight', which the model of genome \[1,1,8,6\] does not have"),
    (lambda i: i["state_dict"].pop("head.bias"), "state_dict lacks 'head.bias'"),
    (lambda i: i["model"].update(n_features=0), "model.n_features=0 must be an integer >= 1"),
    (lambda i: i["state_dict"]["head.bias"].fill_(float("nan")), "holds NaN or infinite weights"),
    (lambda i: i["state_dict"].update({"head.bias": torch.zeros(10).to_sparse()}),
     r"state_dict\['head.bias'\] is not a dense tensor of real numbers"),
], ids=["another-genome", "huge-genome", "too-large", "genome-vs-compact", "no-model", "no-state-dict",
        "compact-text", "compact-counts", "dropout", "dropout-text", "init", "misshapen", "extra",
        "missing-entry", "n-features-0", "nan", "sparse"])
def test_a_model_file_that_does_not_fit_together_is_one_line(tmp_path, capsys, change, message):
    """Each loaded with weights_only but gave a traceback (KeyError, TypeError, a
    load_state_dict RuntimeError of many lines) or, for NaN weights, a model of NaN."""
    path = untrained_export(tmp_path)
    info = torch.load(path, weights_only=True)
    change(info)
    torch.save(info, path)
    for fmt in ("torch-export", "onnx"):
        assert main([str(tmp_path), "--format", fmt]) == 2
        assert "does not fit together" in one_error_line(capsys)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no torch warning before the line either
        with pytest.raises(DataError, match=message) as err:
            load_model(path)
    assert "\n" not in str(err.value) and "train.py mode=evaluate genome=" in str(err.value)
    assert [p.name for p in tmp_path.iterdir()] == ["best_model.pt"]


@pytest.mark.parametrize("fmt", ["onnx", "torch-export"])
def test_an_export_into_a_read_only_run_directory_is_one_line(tmp_path, capsys, monkeypatch, fmt):
    """As root every folder is writable, so the read-only disk is simulated; refused before
    the model is traced."""
    untrained_export(tmp_path)
    monkeypatch.setattr(standard_export.os, "access", lambda path, mode: Path(path) != tmp_path)
    monkeypatch.setattr(standard_export, "load_model", lambda path: pytest.fail("traced"))
    assert main([str(tmp_path), "--format", fmt]) == 2
    assert one_error_line(capsys) == (f"error: {tmp_path} is not writable (a read-only disk or no "
                                      "permission): make it writable, or copy the run directory "
                                      "to a writable disk and export the copy")
    assert [p.name for p in tmp_path.iterdir()] == ["best_model.pt"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any folder")
def test_an_export_into_a_folder_without_write_permission_is_one_line(tmp_path, capsys):
    untrained_export(tmp_path)
    tmp_path.chmod(0o555)
    try:
        assert main([str(tmp_path), "--format", "torch-export"]) == 2
        assert "is not writable" in one_error_line(capsys)
        assert [p.name for p in tmp_path.iterdir()] == ["best_model.pt"]
    finally:
        tmp_path.chmod(0o755)


class PartialWrite:
    """An exporter's program whose save writes part of the file, then fails as a full or
    read-only disk makes it fail."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def save(self, path, **kwargs) -> None:
        Path(path).write_bytes(b"\0" * 100)
        raise self.error


@pytest.mark.parametrize("fmt, error, reason", [
    ("onnx", OSError(errno.ENOSPC, "No space left on device"), "No space left on device"),
    ("onnx", OSError(errno.EROFS, "Read-only file system"), "Read-only file system"),
    ("torch-export", RuntimeError("[enforce fail at inline_container.cc:858] . "
                                  "PytorchStreamWriter failed writing file data/0: file write "
                                  "failed\nmore"), "PytorchStreamWriter failed writing file"),
    ("torch-export", OSError(errno.ENOSPC, "No space left on device"), "No space left on device"),
], ids=["onnx-full", "onnx-read-only", "pt2-full", "pt2-full-oserror"])
def test_an_export_onto_a_full_disk_leaves_no_partial_file(tmp_path, capsys, monkeypatch, fmt,
                                                           error, reason):
    """The tracing is stubbed (seconds each); the write fails as torch's writers fail."""
    pytest.importorskip("onnxscript")
    untrained_export(tmp_path)
    target = tmp_path / f"best_model.{'onnx' if fmt == 'onnx' else 'pt2'}"
    target.write_bytes(b"an earlier export")
    program = PartialWrite(error)
    monkeypatch.setattr(torch.onnx, "export", lambda *args, **kwargs: program)
    monkeypatch.setattr(torch.export, "export", lambda *args, **kwargs: program)
    monkeypatch.setattr(torch.export, "save", lambda prog, path: prog.save(path))
    assert main([str(tmp_path), "--format", fmt]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"error: cannot write {target} ({reason}") and "intact" in line
    assert target.read_bytes() == b"an earlier export"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["best_model.pt", target.name])
