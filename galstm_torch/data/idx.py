"""Read the IDX files of MNIST and Fashion-MNIST (torchvision's ``raw/`` layout) without
torchvision: importing it took 1-2 s in every process that reads the data (the driver and
each pool worker), more than reading the files. torchvision stays for downloads only.
"""
from __future__ import annotations

import math
import struct
from pathlib import Path

import torch

UNSIGNED_BYTE = 0x08  # the only element type these data sets use


def read_idx(path: Path) -> torch.Tensor:
    """The file's array as a uint8 tensor of its stated shape; ValueError if the file is
    not an unsigned-byte IDX file or holds fewer or more bytes than its header says."""
    data = path.read_bytes()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != UNSIGNED_BYTE:
        raise ValueError(f"{path.name} is not an unsigned-byte IDX file")
    ndim = data[3]
    if ndim == 0:  # a scalar: no array of images or labels
        raise ValueError(f"{path.name} declares 0 dimensions in its header (images have 3, "
                         "labels 1)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path.name} ends inside its header")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    if len(data) - header != math.prod(dims):
        raise ValueError(f"{path.name} holds {len(data) - header} values, its header says "
                         f"{math.prod(dims)}")
    return torch.frombuffer(bytearray(data[header:]), dtype=torch.uint8).view(*dims)
