"""Measure real GEMMs on a GPU and compare them with pysim's GEMM time model.

Two modes:

    python benchmarks/measure_gpu_gemm.py measure -o gemm_h100.csv   # on a machine with a GPU
    python benchmarks/measure_gpu_gemm.py compare gemm_h100.csv --preset h100

``measure`` times ``torch.matmul`` (cuBLAS) with CUDA events over a fixed list of shapes and dtypes
(fp16, bf16, tf32, fp8 on GPUs that have it via ``torch._scaled_mm``), two ways, and writes one CSV
row per case and method with the GPU's name: ``eager`` is one call between two events (median of
``--repeat``; it includes the launch and the CPU-side dispatch gap), ``graph`` replays a CUDA graph
of 10 back-to-back calls and divides (kernel time alone). It needs PyTorch with CUDA; nothing in
pysim's build or tests does. ``compare`` reads such a CSV and prints, per row, the model's time
(``GpuPreset.gemm_cost``; for ``graph`` rows less the model's host launches, kept its device-side
kernel and pipeline latency) and its relative error, then the median and mean absolute error per
dtype and method.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from pathlib import Path

SHAPES = [
    (512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048), (4096, 4096, 4096),
    (8192, 8192, 8192), (16384, 4096, 4096), (4096, 16384, 4096), (1, 8192, 8192),
    (16, 8192, 8192), (128, 128, 65536), (8192, 1024, 8192), (768, 3072, 2048),
]
DTYPES = ("fp16", "bf16", "tf32", "fp8_e4m3")
FIELDS = ("gpu", "method", "dtype", "m", "n", "k", "time_s", "tflops")
GRAPH_CALLS = 10


def measure(out: Path, repeat: int) -> None:  # pragma: no cover - needs a GPU
    import torch

    if not torch.cuda.is_available():
        sys.exit("no CUDA device")
    name = torch.cuda.get_device_name(0)
    torch.backends.cuda.matmul.allow_tf32 = True
    rows = []
    for dtype in DTYPES:
        for m, n, k in SHAPES:
            try:
                fn = gemm_kernel(torch, dtype, m, n, k)
            except (RuntimeError, AttributeError, TypeError) as err:
                print(f"skip {dtype} {m}x{n}x{k}: {err}")
                continue
            for _ in range(3):
                fn()
            t = event_time(torch, fn, repeat)
            rows.append({"gpu": name, "method": "eager", "dtype": dtype, "m": m, "n": n, "k": k,
                         "time_s": t, "tflops": 2 * m * n * k / t / 1e12})
            print(rows[-1])
            t = graph_time(torch, fn, repeat)
            rows.append({"gpu": name, "method": "graph", "dtype": dtype, "m": m, "n": n, "k": k,
                         "time_s": t, "tflops": 2 * m * n * k / t / 1e12})
            print(rows[-1])
    with out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def event_time(torch: object, run, repeat: int, calls: int = 1) -> float:  # pragma: no cover
    """Per-call time of ``run`` (``calls`` calls) between two CUDA events (median of
    ``repeat``)."""
    t = torch  # type: ignore[assignment]
    times = []
    for _ in range(repeat):
        start = t.cuda.Event(enable_timing=True)
        stop = t.cuda.Event(enable_timing=True)
        start.record()
        run()
        stop.record()
        t.cuda.synchronize()
        times.append(start.elapsed_time(stop) * 1e-3 / calls)
    return statistics.median(times)


def graph_time(torch: object, fn, repeat: int,
               calls: int = GRAPH_CALLS) -> float:  # pragma: no cover - needs a GPU
    """Per-call time of ``fn`` replayed ``calls`` times in a CUDA graph (median)."""
    t = torch  # type: ignore[assignment]
    stream = t.cuda.Stream()
    stream.wait_stream(t.cuda.current_stream())
    with t.cuda.stream(stream):
        for _ in range(3):
            fn()
    t.cuda.current_stream().wait_stream(stream)
    graph = t.cuda.CUDAGraph()
    with t.cuda.graph(graph):
        for _ in range(calls):
            fn()
    graph.replay()
    t.cuda.synchronize()
    return event_time(t, graph.replay, repeat, calls)


def gemm_kernel(torch: object, dtype: str, m: int, n: int, k: int, device: str = "cuda",
                batch: int = 0):  # pragma: no cover
    """One GEMM call through PyTorch: ``torch.matmul`` (cuBLAS; ``batch`` > 0: a strided
    batch), ``torch._scaled_mm`` for fp8 e4m3, ``torch._int_mm`` for int8."""
    t = torch  # type: ignore[assignment]
    if dtype in ("fp8_e4m3", "int8") and batch:
        raise ValueError(f"no batched {dtype} GEMM in torch")
    if dtype == "fp8_e4m3":
        a = t.randn(m, k, device=device).to(t.float8_e4m3fn)
        b = t.randn(n, k, device=device).to(t.float8_e4m3fn).t()  # column-major B (cuBLASLt)
        one = t.tensor(1.0, device=device)
        return lambda: t._scaled_mm(a, b, scale_a=one, scale_b=one, out_dtype=t.bfloat16)
    if dtype == "int8":
        a8 = t.randint(-8, 8, (m, k), device=device, dtype=t.int8)
        b8 = t.randint(-8, 8, (n, k), device=device, dtype=t.int8).t()
        return lambda: t._int_mm(a8, b8)
    lead = (batch,) if batch else ()
    tdt = {"fp16": t.float16, "bf16": t.bfloat16, "tf32": t.float32}[dtype]
    a = t.randn(*lead, m, k, device=device, dtype=tdt)
    b = t.randn(*lead, k, n, device=device, dtype=tdt)
    return lambda: t.matmul(a, b)


def compare(path: Path, preset_name: str) -> list[dict[str, float | str]]:
    """Rows of the CSV with the model's time and relative error ((model - measured) / measured)."""
    from pysim import gpu

    p = gpu.preset(preset_name)
    out = []
    with path.open() as f:
        for row in csv.DictReader(f):
            if "m" not in row:  # h200_kernels/sustained.csv: n^3 GEMMs back to back for 2 s
                row.update(m=row["n"], k=row["n"])
            m, n, k = int(row["m"]), int(row["n"]), int(row["k"])
            measured = float(row["time_s"])
            # bmm.csv rows carry a batch: one strided-batched kernel
            c = p.gemm_cost(m, n, k, row["dtype"], batch=int(row.get("batch") or 1))
            model = c.time_s
            # graph rows (and measure_gpu_kernels.py's files, which have no method column):
            # kernels back to back, no host launch in between (a split-K GEMM is two kernels)
            row.setdefault("method", "graph")
            if row["method"] == "graph":
                model -= c.launch_s * (2 if c.split_k > 1 else 1)
            out.append({**row, "model_s": model, "error": (model - measured) / measured})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    m = sub.add_parser("measure")
    m.add_argument("-o", "--out", type=Path, required=True)
    m.add_argument("--repeat", type=int, default=20)
    c = sub.add_parser("compare")
    c.add_argument("csv", type=Path)
    c.add_argument("--preset", required=True)
    args = parser.parse_args()
    if args.mode == "measure":
        measure(args.out, args.repeat)
        return
    rows = compare(args.csv, args.preset)
    for r in rows:
        fill = f" {r['fill']}" if "fill" in r else ""  # sustained.csv: the operands' values
        print(f"{r.get('method', 'eager'):6} {r['dtype']:9} {r.get('batch', 1)!s:>5} x "
              f"{r['m']:>6}x{r['n']:>6}x{r['k']:>6}{fill} measured "
              f"{float(r['time_s']) * 1e6:10.1f} us  model {float(r['model_s']) * 1e6:10.1f} us"
              f"  error {float(r['error']) * 100:+6.1f} %")
    for method in sorted({str(r.get("method", "eager")) for r in rows}):
        for dtype in sorted({str(r["dtype"]) for r in rows}):
            errs = [abs(float(r["error"])) for r in rows
                    if r["dtype"] == dtype and r.get("method", "eager") == method]
            if errs:
                print(f"{method:6} {dtype:9}: median |error| {statistics.median(errs) * 100:.1f}"
                      f" %, mean {statistics.mean(errs) * 100:.1f} %, max {max(errs) * 100:.1f}"
                      f" % over {len(errs)} shapes")


if __name__ == "__main__":
    main()
