"""Atomic file writes and tables, for every layer."""
