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
