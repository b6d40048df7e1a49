"""Quantize / dequantize throughput of pysim.formats beside ml_dtypes' astype (issue 14, Speed).

GB/s counts the float32 input read (quantize) or float32 output written (dequantize): 4 bytes
per element. "quantize" runs the element encoding in C++ (csrc/kernels/quantize.cpp, from
``elements.NATIVE_MIN`` elements), "numpy" the NumPy reference it matches bit for bit;
"dequantize" returns a new array, "into" writes into an existing one (``out=``: no page of
the output to fault in; "/into" is over the copy into an existing array). A second table gives
quantize's elements per second from float32, bfloat16 and float16 input.
ml_dtypes' astype is the C++ cast with no scales; MX and NF4 rows have no ml_dtypes
equivalent and show "-" there. The machine's memory bandwidth is measured first: a float32
copy into a new array (NumPy's ``x.copy()``: read, write and the new pages' faults, what a
kernel that returns a new array pays) and into an existing one, and a read-only reduction
(``x.max()``); "/copy" is each kernel's GB/s over the new-array copy's.

    python benchmarks/bench_formats.py [--elements 16777216] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import ml_dtypes
import numpy as np

from pysim import formats
from pysim.formats import elements

ML = {"bf16": ml_dtypes.bfloat16, "fp16": np.float16, "fp8_e4m3": ml_dtypes.float8_e4m3fn,
      "fp8_e5m2": ml_dtypes.float8_e5m2, "fp6_e2m3": ml_dtypes.float6_e2m3fn,
      "fp4_e2m1": ml_dtypes.float4_e2m1fn}
CASES: list[tuple[str, object]] = [("bf16", None), ("fp16", None), ("fp8_e4m3", None),
                                   ("fp8_e5m2", None), ("fp6_e2m3", None), ("fp4_e2m1", None),
                                   ("int8", "tensor"), ("int4", "group:128"), ("nf4", None),
                                   ("mxfp8_e4m3", None), ("mxfp4", None), ("mxint8", None)]
INPUT_CASES: list[tuple[str, str | None]] = [("fp8_e4m3", None), ("int4", "group:128"),
                                             ("nf4", None), ("mxfp8_e4m3", None), ("mxfp4", None)]


def best_seconds(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elements", type=int, default=1 << 24)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cols = 4096
    rows = max(args.elements // cols, 1)
    x = np.random.default_rng(0).standard_normal((rows, cols)).astype(np.float32)
    gb = x.nbytes / 1e9
    print(f"{x.size} float32 elements ({x.nbytes / 2**20:.0f} MiB), best of {args.repeat}")
    y = np.empty_like(x)
    copy = gb / best_seconds(lambda: x.copy(), args.repeat)
    into = gb / best_seconds(lambda: np.copyto(y, x), args.repeat)
    read = gb / best_seconds(lambda: x.max(), args.repeat)
    print(f"memory: copy to a new array {copy:.2f} GB/s, into an existing one {into:.2f}, "
          f"read-only max {read:.2f} (GB/s of float32 read)")
    print(f"{'format':<12} {'granularity':<20} {'quantize':>9} {'/copy':>6} {'numpy':>7} "
          f"{'dequantize':>11} {'/copy':>6} {'into':>6} {'/into':>6} {'ml astype':>10} "
          f"{'ml back':>8}   (GB/s of float32)")
    buf = np.empty_like(x)
    for name, gran in CASES:
        q = formats.quantize(x, name, gran)
        gq = gb / best_seconds(lambda n=name, g=gran: formats.quantize(x, n, g), args.repeat)
        native_min, elements.NATIVE_MIN = elements.NATIVE_MIN, 1 << 62
        gn = gb / best_seconds(lambda n=name, g=gran: formats.quantize(x, n, g), args.repeat)
        elements.NATIVE_MIN = native_min
        gd = gb / best_seconds(lambda q=q: formats.dequantize(q), args.repeat)
        gi = gb / best_seconds(lambda q=q: formats.dequantize(q, out=buf), args.repeat)
        ml, back = "-", "-"
        if name in ML:
            y = x.astype(ML[name])
            ml = f"{gb / best_seconds(lambda t=ML[name]: x.astype(t), args.repeat):.2f}"
            back = f"{gb / best_seconds(lambda y=y: y.astype(np.float32), args.repeat):.2f}"
        label = str(q.granularity) if q.granularity else "none"
        print(f"{name:<12} {label:<20} {gq:>9.2f} {gq / copy:>6.2f} {gn:>7.2f} {gd:>11.2f} "
              f"{gd / copy:>6.2f} {gi:>6.2f} {gi / into:>6.2f} {ml:>10} {back:>8}")
    # Weights usually arrive in 16 bits (QLoRA quantizes bf16 checkpoints): quantize per
    # element from each input dtype, read in its own width.
    inputs = {"float32": x, "bfloat16": x.astype(ml_dtypes.bfloat16),
              "float16": x.astype(np.float16)}
    print(f"\nquantize by input dtype (G elements/s): {'':<11}"
          + " ".join(f"{d:>9}" for d in inputs))
    for name, gran in INPUT_CASES:
        rates = [x.size / 1e9 / best_seconds(lambda xi=xi, n=name, g=gran:
                                             formats.quantize(xi, n, g), args.repeat)
                 for xi in inputs.values()]
        print(f"{name:<12} {gran or 'none':<38}" + " ".join(f"{r:>9.2f}" for r in rates))


if __name__ == "__main__":
    main()
