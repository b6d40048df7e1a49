"""Microbenchmarks: single-op workloads for checking a unit in isolation."""

from __future__ import annotations

from pysim.errors import WorkloadError
from pysim.workload import Workload
from pysim.zoo._builder import GraphBuilder


def gemm(m: int = 1024, n: int = 1024, k: int = 1024, bits: int = 8) -> Workload:
    """One GEMM (m x k) @ (k x n), no bias; weights and activations `bits` wide (1 to 32)."""
    if bits > 32:
        raise WorkloadError(f"zoo model 'gemm': bits must be 1 to 32, got {bits}")
    g = GraphBuilder("gemm", weight_bits=bits, act_bits=bits)
    x = g.input("a", (m, k))
    g.gemm(x, "gemm", n, bias=False)
    return g.build()
