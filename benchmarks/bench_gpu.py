"""Speed of the GPU GEMM time model, and what it predicts.

Prints, for each preset: the closed-form estimate of a 4096^3 fp16 GEMM (time, TFLOPS, chosen
tile, bound) and how long that estimate takes to compute, in microseconds, both through
``pysim._core.gpu_gemm_cost`` (the C++ search over candidate tiles) and through
``GpuPreset.gemm_time`` (with the Python argument checks). Then the step-level reference on a
smaller GEMM, for scale, and a small table of predicted times across shapes and dtypes.

``--batched`` prints instead, for per-head GEMMs (BERT-base attention at batch 8, a Llama-2-7B
decode step), the time of ``count`` GEMMs as one strided-batched kernel (``gemm_cost(...,
batch=count)``: the CTAs of all entries share the waves, one launch) next to the former rule of
``pysim.simulate`` on a GPU, ``count x (time - launch) + launch`` (each GEMM alone, padded to whole
tiles, waves never shared).

    python benchmarks/bench_gpu.py [--number 2000]
    python benchmarks/bench_gpu.py --batched
"""

from __future__ import annotations

import argparse
import time
import timeit

from pysim import _core, gpu

SHAPES = [(4096, 4096, 4096), (8192, 8192, 8192), (1, 8192, 8192), (128, 128, 65536),
          (16384, 1024, 4096)]


# (label, count, m, n, k): per-head GEMMs of one op
BATCHED = [
    ("BERT-base scores Q K^T, 8 x 12 heads", 96, 128, 128, 64),
    ("BERT-base context P V, 8 x 12 heads", 96, 128, 64, 128),
    ("Llama-2-7B decode Q K^T, 32 heads, 4096 keys", 32, 1, 4096, 128),
    ("Llama-2-7B decode P V, 32 heads, 4096 keys", 32, 1, 128, 4096),
]


def batched_table(names: tuple[str, ...] = ("a100", "h100")) -> list[dict[str, object]]:
    """Rows of the --batched table (fp16): former per-GEMM rule vs one batched kernel."""
    rows = []
    for name in names:
        p = gpu.preset(name)
        for label, count, m, n, k in BATCHED:
            one = p.gemm_cost(m, n, k, "fp16")
            bat = p.gemm_cost(m, n, k, "fp16", batch=count)
            former = count * (one.time_s - one.launch_s) + one.launch_s
            rows.append({"gpu": name, "op": label, "count": count, "shape": f"{m}x{n}x{k}",
                         "former_us": former * 1e6, "batched_us": bat.time_s * 1e6,
                         "speedup": former / bat.time_s,
                         "tile": f"{bat.tile_m}x{bat.tile_n}x{bat.tile_k}/{bat.split_k}",
                         "waves": bat.waves, "bound": bat.bound})
    return rows


def best_us(fn: object, number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=2000, help="calls per timing sample")
    parser.add_argument("--batched", action="store_true",
                        help="batched per-head GEMMs: one batched kernel vs the former rule")
    args = parser.parse_args()
    if args.batched:
        print(f"{'gpu':5} {'op (fp16)':44} {'count':>5} {'M x N x K':>12} {'former_us':>9} "
              f"{'batched_us':>10} {'speedup':>7} {'tile/split':>12} {'waves':>5} bound")
        for r in batched_table():
            print(f"{r['gpu']:5} {r['op']:44} {r['count']:5d} {r['shape']:>12} "
                  f"{r['former_us']:9.1f} {r['batched_us']:10.1f} {r['speedup']:6.1f}x "
                  f"{r['tile']:>12} {r['waves']:5d} {r['bound']}")
        return

    print("4096^3 fp16 GEMM estimate")
    print(f"{'gpu':5} {'time_us':>9} {'TFLOPS':>7} {'tile':>20} {'bound':>8} "
          f"{'cands':>5} {'core_us':>8} {'preset_us':>9}")
    for name, p in gpu.PRESETS.items():
        spec = p.spec
        c = p.gemm_cost(4096, 4096, 4096, "fp16")
        core = best_us(lambda s=spec: _core.gpu_gemm_cost(s, 4096, 4096, 4096, "fp16", False, 0),
                       args.number)
        face = best_us(lambda p=p: p.gemm_time(4096, 4096, 4096, "fp16"), args.number)
        tile = f"{c.tile_m}x{c.tile_n}x{c.tile_k}/{c.split_k}"
        if c.cluster_m * c.cluster_n > 1:  # a thread-block cluster (TMA multicast)
            tile += f" c{c.cluster_m}x{c.cluster_n}"
        print(f"{name:5} {c.time_s * 1e6:9.1f} {c.tflops:7.1f} {tile:>20} {c.bound:>8} "
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
