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
dtype and method. A row that carries the SM clock it ran at (``sm_mhz``: measure_gpu_kernels.py
records it through NVML) is modelled at that clock, its tensor cores, shared memory and L2 alike
(``--preset-clock``: at the preset's power-limited one): the model's kernel time against the
kernel's, whatever the power controller did during the run.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from pathlib import Path
from typing import Any

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


def at_clock(preset: Any, sm_mhz: str) -> Any:
    """``preset`` with every SM-clocked term at ``sm_mhz`` (a row's measured clock: the tensor
    cores', shared memory's and the L2's), or ``preset`` itself where the row has none."""
    if not sm_mhz:
        return preset
    mhz = float(sm_mhz)
    return preset.replace(boost_clock_mhz=mhz, mma_clock_mhz=mhz)


# Bytes per element of C as the measured call returns it (``_scaled_mm``: bf16; ``_int_mm``:
# int32); A and B are held at the model's input width (tf32 runs on fp32 tensors).
OUT_BYTES = {"fp16": 2, "bf16": 2, "tf32": 4, "fp8_e4m3": 2, "int8": 4}


def footprint_bytes(row: dict[str, str]) -> int:
    """A, B and C of a row's GEMM (every batch entry) in memory."""
    from pysim import _core

    m, n, k = int(row["m"]), int(row["n"]), int(row["k"])
    dtype = row["dtype"]
    return int(row.get("batch") or 1) * ((m * k + k * n) * _core.tc_input_bits(dtype) // 8
                                         + m * n * OUT_BYTES[dtype])


def model_s(p: Any, row: dict[str, str], hot: bool = True) -> float:
    """The model's time of a CSV row on ``p``: one kernel (``bmm.csv`` rows carry a batch: one
    strided-batched kernel); a graph row's without its host launches (two for a split-K GEMM:
    its reduction is a kernel too), keeping the device-side kernel and pipeline latency. The
    timing loops replay each kernel on the same buffers, so a GEMM whose A, B and C fit half
    the L2 runs on a hot L2 (``l2_resident``; ``hot`` False: every row cold). Half: Ampere's
    and Hopper's L2 is two partitions, each caching the lines its own GPCs' SMs read (A100
    whitepaper, "L2 cache"), so a line read from both halves is held twice; on the H200 GEMMs
    of 16 MiB or less ran as if from the L2, 32 MiB GEMVs at the HBM's rate."""
    c = p.gemm_cost(int(row["m"]), int(row["n"]), int(row["k"]), row["dtype"],
                    batch=int(row.get("batch") or 1),
                    l2_resident=hot and footprint_bytes(row) <= p.l2_kb * 1024 // 2)
    if row.get("method", "graph") == "graph":
        return c.time_s - c.launch_s * (2 if c.split_k > 1 else 1)
    return c.time_s


def implied_clock(preset: Any, row: dict[str, str], lo: float, hi: float,
                  hot: bool = True) -> tuple[float, float]:
    """The SM clock in ``lo``..``hi`` MHz at which the model's time of ``row`` equals the
    measured one (bisection: the model's time never grows with the clock), and the relative
    error left there: 0 inside the range; at the bound the row needs beyond it, what no clock
    the GPU can run at explains (a model error, not the power controller's)."""
    measured = float(row["time_s"])

    def err(mhz: float) -> float:
        return (model_s(at_clock(preset, f"{mhz:.3f}"), row, hot) - measured) / measured

    if err(hi) > 0:
        return hi, err(hi)
    if err(lo) < 0:
        return lo, err(lo)
    for _ in range(20):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if err(mid) > 0 else (lo, mid)
    return (lo + hi) / 2, 0.0


def compare(path: Path, preset_name: str, clocks: bool = True,
            hot: bool = True) -> list[dict[str, float | str]]:
    """Rows of the CSV with the model's time and relative error ((model - measured) / measured);
    with ``clocks``, a row that carries the SM clock it ran at (``sm_mhz``) is modelled at that
    clock instead of the preset's (sustained) one."""
    from pysim import gpu

    preset = gpu.preset(preset_name)
    out = []
    with path.open() as f:
        for row in csv.DictReader(f):
            if "m" not in row:  # h200_kernels/sustained.csv: n^3 GEMMs back to back for 2 s
                if row["dtype"] == "copy":  # its HBM-bound copy: no GEMM to compare
                    continue
                row.update(m=row["n"], k=row["n"])
            measured = float(row["time_s"])
            p = at_clock(preset, row.get("sm_mhz") or "") if clocks else preset
            # graph rows (and measure_gpu_kernels.py's files, which have no method column):
            # kernels back to back, no host launch in between (a split-K GEMM is two kernels)
            row.setdefault("method", "graph")
            model = model_s(p, row, hot)
            out.append({**row, "model_s": model, "error": (model - measured) / measured})
    return out


def clock_range(text: str) -> tuple[float, float]:
    """``--implied-clock``'s LO:HI, two clocks in MHz with 0 < LO < HI."""
    try:
        lo, hi = (float(x) for x in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected LO:HI in MHz (e.g. 1080:1980), got {text!r}") from None
    if not 0 < lo < hi < 1e5:
        raise argparse.ArgumentTypeError(f"expected 0 < LO < HI MHz, got {text!r}")
    return lo, hi


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    m = sub.add_parser("measure")
    m.add_argument("-o", "--out", type=Path, required=True)
    m.add_argument("--repeat", type=int, default=20)
    c = sub.add_parser("compare")
    c.add_argument("csv", type=Path)
    c.add_argument("--preset", required=True)
    c.add_argument("--preset-clock", action="store_true",
                   help="model every row at the preset's clock, not at the row's sm_mhz")
    c.add_argument("--cold-l2", action="store_true",
                   help="model every row from the HBM, none on a hot L2")
    c.add_argument("--implied-clock", metavar="LO:HI", default=None, type=clock_range,
                   help="print, per graph row, the SM clock in LO..HI MHz at which the model "
                   "matches it and the error left at the bound where none does (H200: "
                   "1080:1980, its lowest sustained and its highest clock)")
    args = parser.parse_args()
    if args.mode == "measure":
        measure(args.out, args.repeat)
        return
    rows = compare(args.csv, args.preset, clocks=not args.preset_clock, hot=not args.cold_l2)
    if args.implied_clock:
        print_implied(rows, args.preset, *args.implied_clock, hot=not args.cold_l2)
        return
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


def print_implied(rows: list[dict[str, Any]], preset_name: str, lo: float, hi: float,
                  hot: bool = True) -> None:
    """The ``--implied-clock`` table: each graph row's implied clock, and per dtype the median
    and largest error no clock in lo..hi removes."""
    from pysim import gpu

    preset = gpu.preset(preset_name)
    left: dict[str, list[float]] = {}
    clocks: dict[str, list[float]] = {}
    for r in rows:
        if r.get("method", "graph") != "graph":
            continue
        mhz, err = implied_clock(preset, r, lo, hi, hot)
        left.setdefault(str(r["dtype"]), []).append(abs(err))
        clocks.setdefault(str(r["dtype"]), []).append(mhz)
        print(f"{r['dtype']:9} {r.get('batch', 1)!s:>5} x {r['m']:>6}x{r['n']:>6}x{r['k']:>6} "
              f"error {float(r['error']) * 100:+6.1f} % at the preset's clock, implied "
              f"{mhz:6.0f} MHz, left {err * 100:+6.1f} %")
    for dtype, errs in left.items():
        print(f"{dtype:9}: implied clock median {statistics.median(clocks[dtype]):.0f} MHz; "
              f"error no clock in {lo:g}..{hi:g} MHz removes: median "
              f"{statistics.median(errs) * 100:.1f} %, max {max(errs) * 100:.1f} % over "
              f"{len(errs)} shapes")


if __name__ == "__main__":
    main()
