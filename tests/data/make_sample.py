"""Cut the committed MNIST sample from the full IDX files (how tests/data/MNIST was made).

    python tests/data/make_sample.py ../shared/data tests/data 3000 1000

Takes the first N training and first M test images and writes them in the same IDX layout,
so torchvision reads the sample exactly like the full data set.
"""
import struct
import sys
from pathlib import Path


def cut(src: Path, dst: Path, count: int) -> None:
    data = src.read_bytes()
    magic, total = struct.unpack(">II", data[:8])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    item = 1
    for d in dims[1:]:
        item *= d
    header = struct.pack(">I", magic) + struct.pack(">" + "I" * ndim, count, *dims[1:])
    body_start = 4 + 4 * ndim
    dst.write_bytes(header + data[body_start : body_start + count * item])


def main(src_root: str, dst_root: str, n_train: int, n_test: int) -> None:
    src, dst = Path(src_root) / "MNIST" / "raw", Path(dst_root) / "MNIST" / "raw"
    dst.mkdir(parents=True, exist_ok=True)
    for prefix, count in (("train", n_train), ("t10k", n_test)):
        for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
            cut(src / f"{prefix}-{kind}", dst / f"{prefix}-{kind}", count)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
