"""Standard exports (issue 14): ONNX and torch.export files of a run's model give the same
outputs as the PyTorch model, at another batch size than the one traced."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from galstm_torch.app import run
from galstm_torch.errors import DataError
from galstm_torch.persist.export import load_model
from galstm_torch.persist.standard_export import export_run, main

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


def test_a_folder_without_a_model_is_one_line(tmp_path, capsys):
    assert main([str(tmp_path), "--format", "onnx"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "best_model.pt does not exist" in err[0]
    with pytest.raises(DataError):
        export_run(tmp_path, "torch-export")
