"""Speed of the cycle-stepped systolic reference versus the closed-form cost model.

The reference (`_core.systolic_simulate_gemm`) moves every operand and partial sum through the
PE registers one cycle at a time, so its cost is O(cycles x rows x cols) "PE updates". This
script runs it with int8 data on a few GEMM shapes, arrays and dataflows and prints, per run:
shape, array, dataflow/timing, cycles, PE updates, wall seconds and PE updates per second.
It then times the O(1) closed form (`_core.systolic_cost`) with timeit and prints calls per
second, which is what a design-space sweep pays per layer instead.

Usage: python benchmarks/bench_reference.py   (runs in well under 30 s)
"""

from __future__ import annotations

import time
import timeit

import numpy as np

from pysim import _core

# (M, N, K, rows, cols, dataflow, timing)
CASES: list[tuple[int, int, int, int, int, str, str]] = [
    (64, 64, 64, 32, 32, "os", "scalesim"),
    (64, 64, 64, 32, 32, "ws", "scalesim"),
    (64, 64, 64, 32, 32, "is", "scalesim"),
    (256, 128, 256, 32, 32, "os", "pipelined"),
    (256, 128, 256, 32, 32, "ws", "pipelined"),
    (256, 128, 256, 32, 32, "is", "pipelined"),
    (196, 64, 576, 16, 16, "ws", "scalesim"),
    (512, 256, 256, 64, 64, "ws", "pipelined"),
    (100, 37, 300, 8, 16, "os", "scalesim"),
]


def time_reference(
    m: int, n: int, k: int, rows: int, cols: int, dataflow: str, timing: str, repeats: int = 3
) -> tuple[int, int, float]:
    """Best-of-`repeats` wall time of one reference run with int8 data, checked against NumPy."""
    rng = np.random.default_rng(0)
    a = rng.integers(-128, 128, (m, k), dtype=np.int8)
    b = rng.integers(-128, 128, (k, n), dtype=np.int8)
    spec = _core.SystolicSpec(rows, cols, dataflow, timing)
    best = float("inf")
    cycles = pe_updates = 0
    for _ in range(repeats):
        start = time.perf_counter()
        out, cost, pe_updates = _core.systolic_simulate_gemm(spec, a, b)
        best = min(best, time.perf_counter() - start)
        cycles = cost.cycles
    if not np.array_equal(out, a.astype(np.int32) @ b.astype(np.int32)):
        raise AssertionError(f"reference output differs from NumPy for {m}x{n}x{k}")
    if cost.cycles != _core.systolic_cost(spec, _core.GemmShape(m, n, k)).cycles:
        raise AssertionError(f"reference cycles differ from the closed form for {m}x{n}x{k}")
    return cycles, pe_updates, best


def time_closed_form(number: int = 200_000) -> float:
    """Closed-form `systolic_cost` calls per second (spec and shape built once)."""
    spec = _core.SystolicSpec(32, 32, "ws", "pipelined")
    shape = _core.GemmShape(12544, 64, 147)
    best = min(timeit.repeat(lambda: _core.systolic_cost(spec, shape), number=number, repeat=3))
    return number / best


def main() -> None:
    header = (f"{'shape MxNxK':>15} {'array':>7} {'dataflow':>14} {'cycles':>9} "
              f"{'PE updates':>13} {'seconds':>9} {'PE-updates/s':>13}")
    print(header)
    print("-" * len(header))
    total_updates, total_seconds = 0, 0.0
    for m, n, k, rows, cols, dataflow, timing in CASES:
        cycles, updates, seconds = time_reference(m, n, k, rows, cols, dataflow, timing)
        total_updates += updates
        total_seconds += seconds
        print(f"{f'{m}x{n}x{k}':>15} {f'{rows}x{cols}':>7} {f'{dataflow}/{timing}':>14} "
              f"{cycles:>9} {updates:>13,} {seconds:>9.4f} {updates / seconds:>13.3e}")
    print("-" * len(header))
    print(f"reference, all runs: {total_updates / total_seconds:.3e} PE-updates/s")
    calls = time_closed_form()
    print(f"closed form systolic_cost: {calls:.3e} calls/s ({1e9 / calls:.0f} ns per call)")


if __name__ == "__main__":
    main()
