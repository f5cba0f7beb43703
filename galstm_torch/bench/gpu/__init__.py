"""The GPU benchmarks: a generation per engine (generation.py) and its profile (profile.py)."""
