"""The experiment scripts keep working (tiny settings on the committed sample)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT, SAMPLE_ROOT


@pytest.mark.slow
def test_compare_strategies_runs_and_summarises(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "experiments" / "compare_strategies.py"), "--tiny",
         "--data-root", str(SAMPLE_ROOT), "--out", str(tmp_path), "--seeds", "2",
         "--pop-size", "3", "--generations", "2", "--train-samples", "300",
         "--test-samples", "100"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["table"]) == {"article", "default", "random"}
    for name, curves in summary["curves"].items():
        assert len(curves) == 2
        for curve in curves:  # best-so-far never decreases
            assert curve == sorted(curve) and all(0.0 <= v <= 1.0 for v in curve)
    assert "mean ± std over 2 seeds" in proc.stdout
