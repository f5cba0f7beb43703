"""Errors a user can fix. The command line prints them as one line and exits non-zero."""


class GalstmError(Exception):
    """Base of every error caused by input: a config value, data files, a genome."""

    # True when raised before the run wrote anything into its directory (persist/rundir.py):
    # then nothing is logged there either, so the directory stays as it was.
    refused = False


class ConfigError(GalstmError):
    """A config value is out of its allowed range or inconsistent with another."""


class DataError(GalstmError):
    """Data files are missing, unreadable or too small for the requested subset."""


class ClusterError(GalstmError):
    """The Ray cluster cannot run the evaluations (unreachable, or every worker died)."""


def check(ok: bool, key: str, value: object, allowed: str) -> None:
    """Raise ConfigError naming the key, its value and what is allowed: the one range check
    every section's schema uses (config/, ga/search/settings.py, observe/settings.py)."""
    if not ok:
        raise ConfigError(f"{key}={value} is out of range: {allowed}")


def one_of(key: str, value: str, choices: "tuple[str, ...]") -> None:
    check(value in choices, key, value, f"choose one of {', '.join(choices)}")
