"""Benchmarks: ``python -m galstm_torch.bench {ga-ops,train,search} [--json]`` (see BENCHMARKS.md).

The bench sits above every other layer and may import any of them.
"""
