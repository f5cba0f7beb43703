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
import contextlib
import os
import re
import shutil
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Callable, Iterator

import torch

from galstm_torch.errors import DataError, GalstmError
from galstm_torch.files.atomic import WriteFailed
from galstm_torch.persist.models.export import load_model
from galstm_torch.training.model import LSTMClassifier

FORMATS = {"onnx": ".onnx", "torch-export": ".pt2"}


def _example(model: LSTMClassifier) -> torch.Tensor:
    features = model.lstm_layers()[0].input_size  # the image width: 28 time steps of 28 features
    return torch.rand(2, 28, features, generator=torch.Generator().manual_seed(0))


def to_torch_export(model: LSTMClassifier, path: Path) -> Path:
    """A torch.export program with a dynamic batch dimension (torch.export.load reads it)."""
    batch = torch.export.Dim("batch", min=1, max=65536)
    with _quiet():
        program = torch.export.export(model, (_example(model),), dynamic_shapes=({0: batch},))
    return _write(path, lambda tmp: torch.export.save(program, tmp))


def to_onnx(model: LSTMClassifier, path: Path) -> Path:
    """An ONNX graph (opset 18) with a dynamic batch dimension, input ``images``, output
    ``logits``, in one file (its weights inside: one rename puts it in place)."""
    try:
        import onnx  # noqa: F401 - the exporter needs it; say so in one line if missing
        import onnxscript  # noqa: F401
    except ImportError:
        raise GalstmError('--format onnx needs the onnx and onnxscript packages: pip install -e '
                          '".[export]"') from None
    with _quiet():
        program = torch.onnx.export(
            model, (_example(model),), input_names=["images"], output_names=["logits"],
            opset_version=18, dynamo=True,
            dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=65536)},))
    assert program is not None  # dynamo=True without a file returns the program
    return _write(path, lambda tmp: program.save(str(tmp), external_data=False))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Tracing an nn.LSTM warns that its flat weights were assigned during export: noise to a
    user, whose export works."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The tensor attributes self.lstms")
        yield


def _failed(target: Path, err: Exception) -> WriteFailed:
    reason = getattr(err, "strerror", None) or str(err).strip().splitlines()[0]
    reason = re.sub(r"^\[enforce fail at [^]]*\][ .]*", "", reason)  # torch's C++ origin
    return WriteFailed(f"cannot write {target} ({reason}): free space on that disk or make "
                       f"{target.parent} writable; any earlier {target.name} is intact")


def _write(target: Path, save: Callable[[Path], None]) -> Path:
    """``save`` writes the file in a private folder beside ``target``, then one rename puts it
    in place: a full or read-only disk leaves no partial file and any earlier export intact.
    torch's archive writer reports a failed write as a RuntimeError."""
    try:
        folder = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError as err:
        raise _failed(target, err) from None
    try:
        save(folder / target.name)
        with open(folder / target.name, "rb") as f:
            os.fsync(f.fileno())
        os.replace(folder / target.name, target)
    except (OSError, RuntimeError) as err:
        raise _failed(target, err) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return target


def _writable(folder: Path) -> None:
    """Refuse a read-only folder before the model is traced (seconds of work)."""
    if not os.access(folder, os.W_OK):
        raise WriteFailed(f"{folder} is not writable (a read-only disk or no permission): make "
                          "it writable, or copy the run directory to a writable disk and "
                          "export the copy")


def export_run(run_dir: Path, fmt: str, *, which: str = "best") -> Path:
    """Write RUN_DIR/<which>_model.<ext> in the given format; return its path."""
    if fmt not in FORMATS:
        raise GalstmError(f"--format {fmt} is unknown: choose one of {', '.join(FORMATS)}")
    source = run_dir / f"{which}_model.pt"
    if not source.is_file():
        raise DataError(f"{source} does not exist: pass a run directory that holds "
                        f"{which}_model.pt")
    _writable(run_dir)
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
