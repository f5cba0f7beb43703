"""Benchmarks: ``galstm bench {ga-ops,train,search,agree,pareto} [--json]`` (BENCHMARKS.md).

The bench sits above every other layer and may import any of them.
"""
