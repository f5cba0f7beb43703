"""Hydra's own errors (a typo in a key, a value of the wrong type, an unknown preset, bad
override syntax) as one line and exit code 2, like every other refusal of train.py.

Hydra reports these in 6-8 lines and exits 1. ``check_overrides`` composes the config with
the command line's overrides first (for a multirun sweep, with each swept value) and turns
the first error into one line; Hydra then runs as usual.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from omegaconf.errors import OmegaConfBaseException

from galstm_torch.config import register_configs

MULTIRUN = ("-m", "--multirun")


def _first(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__


def _variants(args: list[str]) -> list[list[str]]:
    """Each combination to compose: every sweep at its first value, then each other value of
    each sweep once (a sweep Hydra cannot enumerate here is left to Hydra)."""
    parsed = OverridesParser.create().parse_overrides(args)
    base, sweeps = [], []
    for override, text in zip(parsed, args):
        key = override.get_key_element()
        if key.lstrip("+~").startswith("hydra"):  # Hydra's own settings: Hydra checks them
            continue
        if not override.is_sweep_override():
            base.append(text)
            continue
        try:
            values = list(override.sweep_string_iterator())
        except Exception:  # noqa: BLE001 - e.g. a glob sweep: Hydra expands and checks it
            continue
        sweeps.append((len(base), [f"{key}={v}" for v in values]))
        base.append(sweeps[-1][1][0])
    variants = [base]
    for position, values in sweeps:
        variants += [base[:position] + [v] + base[position + 1:] for v in values[1:]]
    return variants


def _message(err: BaseException, overrides: list[str]) -> str:
    if isinstance(err, MissingConfigException):
        lines = str(err).splitlines()
        options = [s.strip() for s in lines if s.startswith("\t") and "provider=" not in s]
        choice = f"; choose one of {', '.join(options)}" if options else ""
        return f"{_first(err).split(': ', 1)[-1]}{choice}"  # drop "In 'config': "
    cause = err.__cause__ if err.__cause__ is not None else err
    where = next((o for o in overrides if f"'{o.split('=', 1)[0]}'" in str(err)
                  or o in str(err)), None)
    text = _first(cause)
    hint = "python train.py --cfg job lists every key and its value"
    return f"{where}: {text} ({hint})" if where else f"{text} ({hint})"


def _unwritable(args: list[str]) -> Optional[str]:
    """A run directory (or a resumed one) on a read-only disk or without permission: Hydra
    would fail creating it, or the run at its first checkpoint."""
    for arg in args:
        key, _, value = arg.partition("=")
        if key not in ("hydra.run.dir", "hydra.sweep.dir", "resume") or value in ("", "auto", "null"):
            continue
        folder = Path(value).expanduser().absolute()
        existing = next(p for p in (folder, *folder.parents) if p.exists())
        if not os.access(existing, os.W_OK):
            return (f"{key}={value}: {existing} is not writable (a read-only disk or no "
                    "permission); choose a writable folder")
    return None


def check_overrides(argv: list[str], config_dir: Path, config_name: str = "config") -> Optional[str]:
    """None if Hydra will compose the config from ``argv``, else a one-line reason."""
    if any(a.startswith("-") and a not in MULTIRUN for a in argv):
        return None  # --help, --cfg, --info ...: Hydra's own flags, left to Hydra
    args = [a for a in argv if a not in MULTIRUN]
    if problem := _unwritable(args):
        return problem
    try:
        variants = _variants(args)
    except OverrideParseException as err:
        return f"{_first(err)} in {' '.join(args)} (override grammar: " \
               "https://hydra.cc/docs/advanced/override_grammar/basic/)"
    register_configs()  # the schema the configs name as base_config
    for overrides in variants:
        try:
            with initialize_config_dir(version_base="1.3", config_dir=str(config_dir)):
                compose(config_name=config_name, overrides=overrides)
        except (HydraException, OmegaConfBaseException, ValueError) as err:
            return _message(err, overrides)
    return None
