"""Every executor, by ``executor.name``: each module declares its ``CAPABILITIES`` (its
abilities and its builder, capabilities.py); this is the one list of them.

Adding an executor: its module (an executor class and its CAPABILITIES), one line here, its
YAML in ``conf/executor/`` and a test. ``auto`` is a chooser, not an executor: it picks one
of these for the machine and the settings (``executors.resolve_executor``), and reads the
keys of the one it may start.
"""
from __future__ import annotations

from galstm_torch.execution import batched, executor, graphs, pool
from galstm_torch.execution.capabilities import DEVICE_TYPES, DEVICES, LATENCY, Capabilities
from galstm_torch.execution.ray import workers as ray

__all__ = ["AUTO", "AUTO_KEYS", "ALL_KEYS", "Capabilities", "DEVICES", "DEVICE_TYPES",
           "EXECUTORS", "LATENCY", "NAMES", "keys_read", "readers"]

# executor.name -> its capabilities, in the order users read them: this process, this
# machine, a cluster, then the engines that train a group at once
EXECUTORS: dict[str, Capabilities] = {c.name: c for c in (
    executor.CAPABILITIES, pool.CAPABILITIES, ray.CAPABILITIES, batched.CAPABILITIES,
    graphs.CAPABILITIES)}

AUTO = "auto"
# What auto picks: a pool on a multi-core CPU, graphs on CUDA wherever the settings allow
# them, else one genome after another in this process.
AUTO_ON_CPU, AUTO_ON_CUDA, AUTO_IN_PROCESS = (EXECUTORS["pool"], EXECUTORS["graphs"],
                                              EXECUTORS["serial"])
AUTO_KEYS = AUTO_ON_CPU.keys  # auto may start the pool (on a CPU with 2 or more cores)
NAMES = (AUTO, *EXECUTORS)  # what executor.name may be
ALL_KEYS = tuple(sorted({k for c in EXECUTORS.values() for k in c.keys}))


def keys_read(name: str) -> tuple[str, ...]:
    """The executor.* keys executor=``name`` reads (auto: those of the pool it may start)."""
    return AUTO_KEYS if name == AUTO else EXECUTORS[name].keys


def readers(key: str) -> list[str]:
    """The executors that read executor.``key``."""
    return [c.name for c in EXECUTORS.values() if key in c.keys]
