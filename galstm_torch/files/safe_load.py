"""``torch.load(weights_only=True)`` in one line: what every reader of a ``.pt`` file uses.

torch warns before it refuses a pickle written with a protocol it does not expect (two lines
on stderr), and its refusal of a pickle that could run code is several lines advising
``weights_only=False``. Here the warnings are dropped and the refusal is one line naming what
the file holds; nothing from the file is ever run.
"""
from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import IO, Any, Union

import torch

__all__ = ["UNSAFE", "load_tensors"]

UNSAFE = "it holds objects other than tensors, numbers and strings (a pickle that could run code)"
_QUIET = ("Detected pickle protocol", "Validating sparse tensor invariants")


def load_tensors(source: Union[str, Path, IO[bytes]]) -> Any:
    """The file's tensors and plain containers, on the CPU. Raises what torch.load raises; an
    unsafe pickle as ``pickle.UnpicklingError`` of one line, ``UNSAFE`` and torch's reason."""
    with warnings.catch_warnings():
        for message in _QUIET:
            warnings.filterwarnings("ignore", message=message)
        try:
            return torch.load(source, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as err:
            if "Weights only load failed" not in str(err):
                raise
            raise pickle.UnpicklingError(f"{UNSAFE}: {_reason(str(err))}; not loaded") from None


def _reason(text: str) -> str:
    """torch's own reason (an unsupported global or operand), without its advice."""
    marker = "WeightsUnpickler error:"
    for line in (text.split(marker, 1)[1] if marker in text else text).splitlines():
        if "unsupported" in line.lower():
            return line.strip().split(". ")[0].rstrip(".")
    return "refused by torch.load(weights_only=True)"
