"""Speed of the low-precision kernels and of the new units' closed forms.

Prints two tables:
  1. kernels against their NumPy references on the same operands: xnor_gemm at 1024^3 against a
     float +-1 matmul (target: at least 20x faster than float32), bitserial_gemm and gemm against
     NumPy's integer matmul. NumPy's float matmul runs on OpenBLAS with its own threads; the
     OPENBLAS_NUM_THREADS / OMP_NUM_THREADS settings in the environment change its speed (the
     table prints them; nothing here changes them).
  2. closed-form cost() calls per second (best of the repeats): BitSerialArray (three modes) and
     XnorArray against the SystolicArray, through the Python faces and through pysim._core.

    python benchmarks/bench_low_precision.py [--repeat 15] [--size 1024] [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import pysim
from pysim import _core, kernels


def median_s(fn: Callable[[], object], repeat: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def calls_per_s(fn: Callable[[], object], calls: int, repeat: int) -> float:
    """Best of `repeat` batches: the least disturbed by other load on the machine."""
    best = float("inf")
    for _ in range(repeat + 1):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, time.perf_counter() - start)
    return calls / best


def kernel_table(size: int, repeat: int, rounds: int) -> None:
    rng = np.random.default_rng(0)
    pm1 = np.array([-1, 1], dtype=np.int8)
    a = rng.choice(pm1, (size, size))
    b = rng.choice(pm1, (size, size))
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    # Time our kernels before any NumPy matmul: OpenBLAS's worker threads busy-wait for a while
    # after a call and would take the second core from a two-thread kernel timed after them.
    cube = f"{size}^3"
    ours_by_threads = {t: median_s(lambda t=t: kernels.xnor_gemm(a, b, threads=t), repeat)
                       for t in (1, 0)}
    isas = ("avx512-vpopcntdq", "popcnt", "portable")
    forced = {isa: median_s(lambda i=isa: kernels.xnor_gemm(a, b, isa=i), repeat)
              for isa in isas[isas.index(kernels.isa()) + 1:]}
    pa, pb = kernels.pack_pm1(a), kernels.pack_pm1(b.T)
    packed = median_s(lambda: kernels.xnor_gemm_packed(pa, pb, size), repeat)
    assert np.array_equal(kernels.xnor_gemm(a, b), (a32 @ b32).astype(np.int32))

    print(f"xnor_gemm popcount kernel: {kernels.isa()}; cores: {os.cpu_count()}; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    header = f"{'kernel':<48} {'pysim ms':>9} {'reference':<26} {'ref ms':>9} {'speedup':>8}"
    print(header)
    print("-" * len(header))

    def row(name: str, ours: float, ref_name: str, ref: float) -> None:
        print(f"{name:<48} {ours * 1e3:>9.3f} {ref_name:<26} {ref * 1e3:>9.3f} "
              f"{ref / ours:>7.1f}x")

    f32 = median_s(lambda: a32 @ b32, repeat)
    f64 = median_s(lambda: a64 @ b64, repeat)
    f32_cast = median_s(lambda: a.astype(np.float32) @ b.astype(np.float32), repeat)
    for threads, label in ((1, "1 thread"), (0, "all cores")):
        ours = ours_by_threads[threads]
        row(f"xnor_gemm {cube} int8 +-1 ({label})", ours, "float32 matmul", f32)
        row(f"xnor_gemm {cube} int8 +-1 ({label})", ours, "float64 matmul", f64)
        row(f"xnor_gemm {cube} int8 +-1 ({label})", ours, "int8 -> float32, matmul", f32_cast)
    for isa, ours in forced.items():
        row(f"xnor_gemm {cube} forced '{isa}'", ours, "float32 matmul", f32)
    row(f"xnor_gemm_packed {cube} (packed once)", packed, "float32 matmul", f32)

    paired_rounds(a, b, a32, b32, repeat, rounds)

    n = 256
    ai = rng.integers(-8, 7, (n, n), endpoint=True)
    bi = rng.integers(-8, 7, (n, n), endpoint=True)
    ours = median_s(lambda: kernels.bitserial_gemm(ai, bi, 4, 4), repeat)
    ref = median_s(lambda: ai @ bi, repeat)
    row(f"bitserial_gemm {n}^3 w4a4", ours, "int64 matmul", ref)
    ours = median_s(lambda: kernels.bitserial_gemm(ai, bi, 8, 8), repeat)
    row(f"bitserial_gemm {n}^3 w8a8 (same values)", ours, "int64 matmul", ref)

    n = 512
    a8 = rng.integers(-128, 127, (n, n), endpoint=True).astype(np.int8)
    b8 = rng.integers(-128, 127, (n, n), endpoint=True).astype(np.int8)
    ours = median_s(lambda: kernels.gemm(a8, b8), repeat)
    ref = median_s(lambda: a8.astype(np.int32) @ b8.astype(np.int32), repeat)
    row(f"gemm {n}^3 int8 -> int32", ours, "int32 matmul (astype)", ref)


def paired_rounds(a: np.ndarray, b: np.ndarray, a32: np.ndarray, b32: np.ndarray, repeat: int,
                  rounds: int = 15, settle_s: float = 0.5) -> None:
    """The headline ratio, robust to a machine whose speed drifts (a shared VM): each round
    times xnor_gemm (all cores) and the float32 matmul back to back and takes their ratio; the
    median over rounds is reported. Each round starts after `settle_s` of sleep, so that
    OpenBLAS's threads, which busy-wait after a call, have parked and leave the cores free."""
    ours, ref = [], []
    for _ in range(rounds):
        time.sleep(settle_s)
        ours.append(median_s(lambda: kernels.xnor_gemm(a, b), repeat))
        ref.append(median_s(lambda: a32 @ b32, repeat))
    ratios = [r / o for o, r in zip(ours, ref, strict=True)]
    print(f"xnor_gemm (all cores) vs float32 matmul, {rounds} paired rounds: median "
          f"{statistics.median(ratios):.1f}x (min {min(ratios):.1f}x, max {max(ratios):.1f}x); "
          f"median times {statistics.median(ours) * 1e3:.3f} ms vs "
          f"{statistics.median(ref) * 1e3:.3f} ms; fastest {min(ours) * 1e3:.3f} ms vs "
          f"{min(ref) * 1e3:.3f} ms = {min(ref) / min(ours):.1f}x")


def cost_table(repeat: int) -> None:
    calls = 5000
    m, n, k = 3136, 64, 576  # a ResNet-50 conv2_x layer at batch 1
    systolic = pysim.SystolicArray(32, 32, "ws", "pipelined")
    units: list[tuple[str, Callable[[], object], Callable[[], object]]] = []
    spec, shape = systolic.spec, _core.GemmShape(m, n, k)
    units.append(("SystolicArray(32, 32, ws)", lambda: systolic.cost(m, n, k),
                  lambda: _core.systolic_cost(spec, shape)))
    for mode in ("bismo", "stripes", "bitfusion"):
        arr = pysim.BitSerialArray(8, 256, 8, mode)
        s = arr.spec
        units.append((f"BitSerialArray(8, 256, 8, {mode}) w4a4",
                      lambda a=arr: a.cost(m, n, k, 4, 4),
                      lambda s=s: _core.bit_serial_cost(s, shape, 4, 4)))
    xnor = pysim.XnorArray(32, 64)
    xs = xnor.spec
    units.append(("XnorArray(pe=32, simd=64)", lambda: xnor.cost(m, n, k),
                  lambda: _core.xnor_cost(xs, shape, True)))

    # The multiplication-free and float MAC arrays (configs/lowp_float_edge.yaml): the systolic
    # array's timing closed form with their own MAC energy (SystolicArrayUnit.tile_cost and
    # mac_pj, what the mapper calls per tile shape).
    hw = pysim.load_hardware(Path(__file__).resolve().parents[1] / "configs"
                             / "lowp_float_edge.yaml")
    gemm = pysim.zoo.load("gemm", m=m, n=n, k=k, bits=8).ops[0]
    for unit in hw.units:
        if unit.kind != "systolic_array":
            continue
        us = _core.SystolicSpec(unit.rows, unit.cols, unit.dataflow, unit.timing)
        units.append((f"{unit.name} ({unit.multiplier}, tile_cost + mac_pj)",
                      lambda u=unit: (u.tile_cost(m, n, k, gemm), u.mac_pj(hw.energy_table, gemm)),
                      lambda us=us: _core.systolic_cost(us, shape)))

    header = (f"{'closed-form cost()':<42} {'face calls/s':>13} {'_core calls/s':>14} "
              f"{'vs systolic':>12}")
    print(header)
    print("-" * len(header))
    base = None
    for name, face, core in units:
        f = calls_per_s(face, calls, repeat)
        c = calls_per_s(core, calls, repeat)
        base = base or f
        print(f"{name:<42} {f:>13,.0f} {c:>14,.0f} {f / base:>11.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=15,
                        help="paired rounds for the headline xnor_gemm / float32 ratio")
    args = parser.parse_args()
    kernel_table(args.size, args.repeat, args.rounds)
    print()
    cost_table(args.repeat)


if __name__ == "__main__":
    main()
