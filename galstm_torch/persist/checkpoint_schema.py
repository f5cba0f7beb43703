"""The schema of a checkpoint's ``state.json`` and tensors, checked on load: a resume trusts
nothing it did not check, so a broken or tampered checkpoint is refused in one line naming the
file and the first bad field, rather than running with it or failing in a traceback."""
from __future__ import annotations

import math
import re
from typing import Any, Callable, Iterable, Optional

import torch

from galstm_torch.training.architecture import Architecture, format_compact

PHASES = ("evaluating", "evaluated")
STATUSES = ("ok", "failed")
EVALUATION = ("fitness", "val_acc", "test_acc", "loss", "params", "seconds", "samples_per_s")
OPTIONAL = ("latency",)  # added later: checkpoints from before it lack it
ACCURACIES = ("val_acc", "test_acc")  # NaN: not measured (an empty split, a failed training)
# The cache keys the evaluator makes (ga/fidelity/store.py, Measurements.key): the genome, "@" and a
# lower rung's epochs, or "#" and a further seed at the target fidelity, "|" the fingerprint
# of the run's training settings.
KEY = re.compile(r"(\[[0-9,-]*\])(?:@([0-9.e+-]+)|#([1-9][0-9]*))?\|([0-9a-f]+)")


class SchemaError(ValueError):
    """A field of a checkpoint is missing, of the wrong type or out of range."""


def _int(value: Any, where: str, low: int = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise SchemaError(f"{where}={value!r} must be an integer >= {low}")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SchemaError(f"{where}={value!r} must be a number")
    return float(value)


def _optional_amount(value: Any, where: str) -> None:
    if value is not None and not (math.isfinite(_number(value, where)) and value >= 0):
        raise SchemaError(f"{where}={value!r} must be a finite number >= 0, or null")


def _genome(value: Any, where: str) -> None:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool)
                                              for v in value):
        raise SchemaError(f"{where}={value!r} must be a list of integers")
    try:
        Architecture.from_compact(value)
    except (ValueError, IndexError) as err:
        raise SchemaError(f"{where}={value!r} is not a genome ({err})") from None


def _at_least_zero(value: float, where: str, *, nan: bool = False, inf: bool = False) -> None:
    ok = (nan and math.isnan(value)) or (value >= 0 and (inf or math.isfinite(value)))
    if not ok:
        allowed = "a finite number >= 0" + (" (or infinite)" if inf else "")
        raise SchemaError(f"{where}={value!r} must be {allowed}" + (", or NaN" if nan else ""))


def _metrics(e: dict, status: Any, where: str) -> None:
    """Each metric in the range a training can give it."""
    for key in [k for k in EVALUATION + OPTIONAL if k in e]:
        _number(e[key], f"{where}.{key}")
    if not 0.0 <= e["fitness"] <= 1.0:  # an accuracy; NaN fails this too
        raise SchemaError(f"{where}.fitness={e['fitness']!r} must be in [0, 1]")
    for key in ACCURACIES:
        if not (math.isnan(e[key]) or 0.0 <= e[key] <= 1.0):
            raise SchemaError(f"{where}.{key}={e[key]!r} must be in [0, 1] (or NaN: not measured)")
    _int(e["params"], f"{where}.params")
    _at_least_zero(e["loss"], f"{where}.loss", nan=status == "failed")  # a diverged training failed
    _at_least_zero(e["seconds"], f"{where}.seconds")
    _at_least_zero(e["samples_per_s"], f"{where}.samples_per_s", inf=True)  # timed at 0 s
    if "latency" in e:
        _at_least_zero(e["latency"], f"{where}.latency", nan=True)


def check_outcome(data: Any, where: str) -> None:
    """One cached training: its genome, every metric, its status."""
    if not isinstance(data, dict):
        raise SchemaError(f"{where} must be an object")
    _genome(data.get("compact"), f"{where}.compact")
    e = data.get("evaluation")
    if not isinstance(e, dict) or not set(EVALUATION) <= set(e) <= set(EVALUATION + OPTIONAL):
        raise SchemaError(f"{where}.evaluation must hold {', '.join(EVALUATION)} (and may hold "
                          f"{', '.join(OPTIONAL)})")
    if data.get("status") not in STATUSES:
        raise SchemaError(f"{where}.status={data.get('status')!r} must be one of {STATUSES}")
    _metrics(e, data["status"], f"{where}.evaluation")
    if not isinstance(data.get("error"), str) or not isinstance(data.get("retried"), bool):
        raise SchemaError(f"{where} needs a text error and a true/false retried")
    if data.get("seed") is not None:
        _int(data["seed"], f"{where}.seed")


def parse_key(key: str) -> Optional[tuple[str, Optional[str], int, str]]:
    """(genome, lower rung's epochs or None, seed's replicate, fingerprint) of a cache key
    the evaluator makes; None for any other text."""
    found = KEY.fullmatch(key)
    if found is None:
        return None
    genome, rung, replicate, fingerprint = found.groups()
    return genome, rung, int(replicate or 0), fingerprint


def _keys(cache: dict) -> None:
    """Each key is one the run's evaluator makes: of its entry's genome, with one
    fingerprint (one run, one set of training settings)."""
    fingerprints: set[str] = set()
    for key, outcome in cache.items():
        parsed = parse_key(key)
        if parsed is None:
            raise SchemaError(f"cache key {key!r} is not one this tool makes")
        if parsed[0] != format_compact(outcome["compact"]):
            raise SchemaError(f"cache[{key!r}].compact={outcome['compact']!r} does not match "
                              "its key")
        fingerprints.add(parsed[3])
        if len(fingerprints) > 1:
            raise SchemaError(f"cache key {key!r} has training settings (|{parsed[3]}) other "
                              "than the other keys': one run's evaluator makes one")


def check_keys(keys: Iterable[str], rungs: Iterable[float], epochs: int, seeds: int) -> None:
    """Each key's rung is a lower rung of the run (``rungs`` as fractions of ``epochs``, the
    schedule's fidelities) and its replicate one of its ``seeds``: ValueError otherwise."""
    lower = {f"{r * epochs:g}" for r in list(rungs)[:-1]}
    for key in keys:
        parsed = parse_key(key)
        assert parsed is not None, "check_meta() first"
        _, rung, replicate, _ = parsed
        if rung is not None and rung not in lower:
            raise SchemaError(f"cache key {key!r} is at {rung} epochs, not a lower rung of this "
                              f"run ({', '.join(sorted(lower)) or 'it has none'})")
        if replicate >= seeds:
            raise SchemaError(f"cache key {key!r} is seed {replicate + 1} of a genome, and "
                              f"this run gives at most ga.seeds={seeds}")


def _cache(value: Any, where: str) -> None:
    if not isinstance(value, dict):
        raise SchemaError(f"{where} must be an object of trainings by key")
    for key, outcome in value.items():
        check_outcome(outcome, f"{where}[{key!r}]")
    _keys(value)


def _seen(value: Any, where: str) -> None:
    if not isinstance(value, list):
        raise SchemaError(f"{where} must be a list")
    for i, item in enumerate(value):
        if not isinstance(item, list) or len(item) < 2:
            raise SchemaError(f"{where}[{i}] must be [generation, genome...]")
        _int(item[0], f"{where}[{i}][0]")
        _genome(item[1:], f"{where}[{i}][1:]")


FIELDS: dict[str, Callable[[Any, str], None]] = {
    "generation": _int, "trained": _int, "cache_hits": _int,
    "cache": _cache, "spent": _optional_amount, "budget_cut": _optional_amount,
}


def check_meta(meta: Any) -> None:
    """Every field of state.json, then the references between them."""
    if not isinstance(meta, dict):
        raise SchemaError("state.json must hold an object")
    for key in ("generation", "phase", "config_hash", "cache", "trained_in_generation",
                "best", "trained", "cache_hits"):
        if key not in meta:
            raise SchemaError(f"field {key!r} is missing")
    for key, check in FIELDS.items():
        if key in meta:
            check(meta[key], key)
    if meta["phase"] not in PHASES:
        raise SchemaError(f"phase={meta['phase']!r} must be one of {PHASES}")
    if not isinstance(meta["config_hash"], str):
        raise SchemaError("config_hash must be text")
    _int(meta.get("idle", 0), "idle")
    _seen(meta.get("seen", []), "seen")
    _references(meta)


def _references(meta: dict) -> None:
    cache, trained = meta["cache"], meta["trained_in_generation"]
    if not isinstance(trained, list) or any(k not in cache for k in trained):
        raise SchemaError("trained_in_generation must list keys of the cache")
    best = meta["best"]
    if best is not None:
        if not isinstance(best, dict) or best.get("key") not in cache:
            raise SchemaError(f"best={best!r} must name a key of the cache")
        _int(best.get("generation"), "best.generation")
        if best["generation"] > meta["generation"]:
            raise SchemaError(f"best.generation={best['generation']} is after generation="
                              f"{meta['generation']}")


def check_tensors(population: Any, rng_state: Any) -> None:
    """A dense 2-D integer population in memory and a CPU generator state the generator
    accepts (a random or zeroed state of the right size is not one)."""
    if not isinstance(population, torch.Tensor) or population.dim() != 2 or \
            population.dtype.is_floating_point or population.dtype == torch.bool:
        raise SchemaError("the population must be a 2-D integer tensor")
    if population.layout != torch.strided or population.device.type != "cpu":
        raise SchemaError(f"the population must be a dense tensor with its values (it is "
                          f"{population.layout} on {population.device.type})")
    size = torch.Generator().get_state().numel()
    if not isinstance(rng_state, torch.Tensor) or rng_state.dtype != torch.uint8 or \
            rng_state.numel() != size or rng_state.layout != torch.strided or \
            rng_state.device.type != "cpu":
        raise SchemaError(f"the RNG state must be a uint8 tensor of {size} bytes")
    try:
        torch.Generator().set_state(rng_state)
    except RuntimeError as err:
        raise SchemaError(f"the RNG state is not one a generator can take ({err})") from None
