"""Every executor, by ``executor.name``: each module declares its ``CAPABILITIES`` (its
abilities and its builder, capabilities.py). The list is found, not written: every module
of this package (its subpackages too) is imported and each CAPABILITIES collected, so adding
an executor is its module, its YAML in ``conf/executor/`` and a test. ``auto`` is a chooser,
not an executor: it picks one of these for the machine and the settings
(``executors.resolve_executor``), and reads the keys of the one it may start.
"""
from __future__ import annotations

import importlib
import pkgutil

from galstm_torch import execution
from galstm_torch.execution.capabilities import DEVICE_TYPES, DEVICES, LATENCY, Capabilities

__all__ = ["AUTO", "AUTO_KEYS", "ALL_KEYS", "Capabilities", "DEVICES", "DEVICE_TYPES",
           "EXECUTORS", "LATENCY", "NAMES", "keys_read", "readers"]



def _found() -> dict[str, Capabilities]:
    """executor.name -> its capabilities, in alphabetical order (the modules import their
    optional libraries, Ray among them, only when the executor starts)."""
    found: dict[str, Capabilities] = {}
    for info in pkgutil.walk_packages(execution.__path__, f"{execution.__name__}."):
        caps = getattr(importlib.import_module(info.name), "CAPABILITIES", None)
        if isinstance(caps, Capabilities):
            if caps.name in found:
                raise TypeError(f"two executors are named {caps.name}: {info.name}")
            found[caps.name] = caps
    return dict(sorted(found.items()))


EXECUTORS: dict[str, Capabilities] = _found()

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
