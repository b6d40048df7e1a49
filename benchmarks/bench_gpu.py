"""Speed of the GPU GEMM time model, and what it predicts.

Prints, for each preset: the closed-form estimate of a 4096^3 fp16 GEMM (time, TFLOPS, chosen
tile, bound) and how long that estimate takes to compute, in microseconds, both through
``pysim._core.gpu_gemm_cost`` (the C++ search over candidate tiles) and through
``GpuPreset.gemm_time`` (with the Python argument checks). Then the step-level reference on a
smaller GEMM, for scale, and a small table of predicted times across shapes and dtypes.

    python benchmarks/bench_gpu.py [--number 2000]
"""

from __future__ import annotations

import argparse
import time
import timeit

from pysim import _core, gpu

SHAPES = [(4096, 4096, 4096), (8192, 8192, 8192), (1, 8192, 8192), (128, 128, 65536),
          (16384, 1024, 4096)]


def best_us(fn: object, number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=2000, help="calls per timing sample")
    args = parser.parse_args()

    print("4096^3 fp16 GEMM estimate")
    print(f"{'gpu':5} {'time_us':>9} {'TFLOPS':>7} {'tile':>14} {'bound':>8} "
          f"{'cands':>5} {'core_us':>8} {'preset_us':>9}")
    for name, p in gpu.PRESETS.items():
        spec = p.spec
        c = p.gemm_cost(4096, 4096, 4096, "fp16")
        core = best_us(lambda s=spec: _core.gpu_gemm_cost(s, 4096, 4096, 4096, "fp16", False, 0),
                       args.number)
        face = best_us(lambda p=p: p.gemm_time(4096, 4096, 4096, "fp16"), args.number)
        tile = f"{c.tile_m}x{c.tile_n}x{c.tile_k}/{c.split_k}"
        print(f"{name:5} {c.time_s * 1e6:9.1f} {c.tflops:7.1f} {tile:>14} {c.bound:>8} "
              f"{c.candidates:5d} {core:8.2f} {face:9.2f}")

    p = gpu.preset("a100")
    start = time.perf_counter()
    ref = p.simulate_gemm(1024, 1024, 1024, "fp16")
    ref_s = time.perf_counter() - start
    assert ref.time_s == p.gemm_time(1024, 1024, 1024, "fp16")
    print(f"\nstep-level reference, a100 1024^3 fp16 (all {ref.candidates} candidates): "
          f"{ref_s * 1e3:.1f} ms, {ref.mma_instructions} MMA instructions for the chosen tile")

    print("\npredicted time (us) per shape and dtype")
    for name, p in gpu.PRESETS.items():
        for dtype in p.supported_dtypes():
            if dtype in ("fp8_e5m2", "bf16"):
                continue
            cells = " ".join(f"{p.gemm_time(*s, dtype) * 1e6:10.1f}" for s in SHAPES)
            print(f"{name:5} {dtype:9} {cells}")
    print("shapes: " + ", ".join("x".join(map(str, s)) for s in SHAPES))


if __name__ == "__main__":
    main()
