"""Standard exports of a run's model, for serving without this package:

    galstm export RUN_DIR --format onnx           # RUN_DIR/best_model.onnx (ONNX Runtime, ...)
    galstm export RUN_DIR --format torch-export   # RUN_DIR/best_model.pt2 (torch.export)

Both take the run's ``best_model.pt`` (or ``final_model.pt`` with ``--model final``), read
with ``weights_only=True``, and trace the model in eval mode with a dynamic batch size on
[batch, 28, 28] float input (``x = image / 255``, rows as time steps); the output is the
class logits (a softmax gives the probabilities). The safe ``.pt`` export stays what it is. ONNX needs
``pip install -e ".[export]"`` (onnx, onnxscript; onnxruntime to check the file).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from galstm_torch.errors import DataError, GalstmError
from galstm_torch.persist.export import load_model
from galstm_torch.training.model import LSTMClassifier

FORMATS = {"onnx": ".onnx", "torch-export": ".pt2"}


def _example(model: LSTMClassifier) -> torch.Tensor:
    features = model.lstm_layers()[0].input_size  # the image width: 28 time steps of 28 features
    return torch.rand(2, 28, features, generator=torch.Generator().manual_seed(0))


def to_torch_export(model: LSTMClassifier, path: Path) -> Path:
    """A torch.export program with a dynamic batch dimension (torch.export.load reads it)."""
    batch = torch.export.Dim("batch", min=1, max=65536)
    program = torch.export.export(model, (_example(model),), dynamic_shapes=({0: batch},))
    torch.export.save(program, path)
    return path


def to_onnx(model: LSTMClassifier, path: Path) -> Path:
    """An ONNX graph (opset 18) with a dynamic batch dimension, input ``images``, output
    ``logits``."""
    try:
        import onnx  # noqa: F401 - the exporter needs it; say so in one line if missing
        import onnxscript  # noqa: F401
    except ImportError:
        raise GalstmError('--format onnx needs the onnx and onnxscript packages: pip install -e '
                          '".[export]"') from None
    torch.onnx.export(model, (_example(model),), str(path), input_names=["images"],
                      output_names=["logits"], opset_version=18, dynamo=True,
                      dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=65536)},))
    return path


def export_run(run_dir: Path, fmt: str, *, which: str = "best") -> Path:
    """Write RUN_DIR/<which>_model.<ext> in the given format; return its path."""
    if fmt not in FORMATS:
        raise GalstmError(f"--format {fmt} is unknown: choose one of {', '.join(FORMATS)}")
    source = run_dir / f"{which}_model.pt"
    if not source.is_file():
        raise DataError(f"{source} does not exist: pass a run directory that holds "
                        f"{which}_model.pt")
    model = load_model(source)
    target = source.with_suffix(FORMATS[fmt])
    return (to_onnx if fmt == "onnx" else to_torch_export)(model, target)


def main(argv: "list[str] | None" = None) -> int:
    p = argparse.ArgumentParser(prog="galstm export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", type=Path, help="a run directory holding best_model.pt")
    p.add_argument("--format", required=True, choices=sorted(FORMATS))
    p.add_argument("--model", default="best", choices=["best", "final"],
                   help="best_model.pt (default) or final_model.pt")
    args = p.parse_args(argv)
    try:
        path = export_run(args.run_dir, args.format, which=args.model)
    except GalstmError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"exported     {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
