"""The one place that picks the device, the CPU threads and the seeds."""
from __future__ import annotations

import hashlib
import logging
import os

import torch

from galstm_torch.errors import ConfigError
from galstm_torch.training.architecture import format_compact

log = logging.getLogger(__name__)


# Hardware work queues CUDA maps this process's streams onto (CUDA's default is 8): the
# graphs executor replays a generation's genomes on up to 20 streams, and 8 queues serialize
# them. 32 ran 20 lanes 4.9x faster than one after another, against 2.6x with 8 (one H200,
# benchmarks/gpu_connections.sh, BENCHMARKS.md). Read when CUDA starts, so it is set before
# the first CUDA call, here; a value the user exported wins.
CUDA_QUEUES = "32"


def pick_device(spec: str) -> torch.device:
    """auto -> CUDA when available, else CPU; cpu, cuda and cuda:N are taken as asked."""
    os.environ.setdefault("CUDA_DEVICE_MAX_CONNECTIONS", CUDA_QUEUES)
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise ConfigError(f"trainer.device={spec!r} is not a device: use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"trainer.device={spec} but CUDA is not available here: "
                              "use trainer.device=auto or cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"trainer.device={spec} but only {torch.cuda.device_count()} "
                              "CUDA device(s) exist")
    elif device.type != "cpu":
        raise ConfigError(f"trainer.device={spec!r} is not supported: use auto, cpu, cuda or cuda:N")
    return device


def set_threads(num_threads: "int | None") -> None:
    if num_threads:
        torch.set_num_threads(num_threads)


def set_deterministic(enabled: bool, device: torch.device) -> None:
    """trainer.deterministic: what PyTorch documents for reproducible cuDNN RNNs on CUDA (a
    cuBLAS workspace setting, deterministic algorithms, no cuDNN autotuning). CPU training is
    deterministic already, so there it only warns."""
    if not enabled:
        return
    if device.type != "cuda":
        log.warning("trainer.deterministic=true changes nothing on %s: training there is "
                    "deterministic already", device)
        return
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # before the first cuBLAS call
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def derive_seed(run_seed: int, key: str) -> int:
    """A 63-bit seed from the run seed and a key (the canonical genome), the same in any
    process and any order: Python's hash() is salted per process, so use SHA-256."""
    digest = hashlib.sha256(f"{run_seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def genome_seed(run_seed: int, compact: "tuple[int, ...] | list[int]", variant: str = "") -> int:
    """The seed of one training of a genome: from the run seed and the canonical genome, so
    it does not depend on the order, the executor or the process. ``variant`` tells apart
    the trainings of one genome at other fidelities or with other seeds ('@0.25', '#1')."""
    return derive_seed(run_seed, format_compact(compact) + variant)
