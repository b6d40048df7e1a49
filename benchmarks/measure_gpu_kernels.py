"""Measure real kernels on a GPU: GEMMs with cuBLAS's kernel names, batched GEMMs, fused and decode
attention (PyTorch SDPA), elementwise kernels, a LLaMA-2-7B-shaped decode step and CNNs end to end.

    python benchmarks/measure_gpu_kernels.py measure -o DIR [--budget-s 330]   # needs a CUDA GPU
    python benchmarks/measure_gpu_kernels.py measure -o DIR --device cpu --quick  # dry run, no GPU

Each section writes one CSV under DIR (``env.csv``, ``gemm.csv``, ``bmm.csv``, ``sdpa.csv``,
``decode_attn.csv``, ``eltwise.csv``, ``llama_decode.csv``, ``cnn.csv``, ``train.csv``), a row at a
time, so a run cut short keeps what it measured. Kernel times are CUDA-graph replays of
``GRAPH_CALLS`` back-to-back calls divided by the count (median of ``--repeat`` replays): launch
gaps excluded, as in ``measure_gpu_gemm.py``'s ``graph`` rows. ``kernels`` columns hold the CUDA
kernel names one call ran (``torch.profiler``), so the tile shape cuBLAS chose is on record, and
``kernel_us`` each one's device time (a split-K GEMM's main and reduction kernels, a decode's
split-KV and combine kernels);
``cnn_kernels.csv`` has each kernel of one CNN call with its own device time (the profiler's,
in launch order). ``env.csv`` records the GPU, the software and the SM clock read by
``nvidia-smi`` while a large GEMM runs (the clock under the power limit). ``gemm.csv`` and
``bmm.csv`` rows also carry the SM clock NVML read while their timed replays ran (``sm_mhz``:
the median of samples every 2 ms and at both ends; ``sm_mhz_min``) and the board power
(``power_w``), where ``nvidia-ml-py`` is installed: a short run of mid-size GEMMs ends before
the 700 W power cap pulls an H200's clock down, so its time says as much about the clock as
about the kernel, and ``measure_gpu_gemm.py compare`` models each such row at the clock it ran
at. Sections run in priority order inside ``--budget-s`` of wall time; those left out are named
in the log. ``measure_gpu_gemm.py compare`` and ``validate_h200_kernels.py`` set pysim's model
beside these files.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

# the sibling script's CUDA timers and GEMM calls (benchmarks/ is this script's sys.path[0])
from measure_gpu_gemm import GRAPH_CALLS, event_time, gemm_kernel, graph_time

GEMM_SHAPES = [
    # the committed set (measure_gpu_gemm.py), to check it reproduces
    (512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048), (4096, 4096, 4096),
    (8192, 8192, 8192), (16384, 4096, 4096), (4096, 16384, 4096), (1, 8192, 8192),
    (16, 8192, 8192), (128, 128, 65536), (8192, 1024, 8192), (768, 3072, 2048),
    # small kernels: the fixed latency floor and cuBLAS's tile choice there
    (64, 64, 64), (128, 128, 128), (256, 256, 256), (384, 384, 384), (640, 640, 640),
    (768, 768, 768), (1536, 1536, 1536), (3072, 3072, 3072), (6144, 6144, 6144),
    # K sweeps at a fixed output (prologue vs main loop)
    (512, 512, 4096), (512, 512, 16384), (2048, 2048, 512), (2048, 2048, 8192),
    # decode / skinny GEMMs (LLaMA-2-7B projections, M = batch)
    (1, 4096, 4096), (1, 12288, 4096), (1, 11008, 4096), (1, 4096, 11008),
    (8, 4096, 4096), (32, 4096, 4096), (64, 22016, 4096), (256, 4096, 4096),
    # transformer prefill and CNN im2col shapes
    (4096, 12288, 4096), (4096, 4096, 11008), (1024, 768, 768), (1024, 3072, 768),
    (12544, 64, 576), (3136, 256, 1152), (784, 512, 2304), (196, 2048, 4608),
    # ragged sizes (edge tiles)
    (1000, 1000, 1000), (3000, 5000, 2000), (4095, 4095, 4095),
]
GEMM_DTYPES = ("fp16", "bf16", "tf32", "fp8_e4m3", "int8")

# (batch, M, N, K): attention's per-head GEMMs and a few grouped GEMMs
BMM_SHAPES = [
    (96, 128, 128, 64), (96, 128, 64, 128), (384, 512, 512, 64), (384, 512, 64, 512),
    (32, 1, 4096, 128), (32, 1, 128, 4096), (2048, 1, 1024, 128), (2048, 1, 128, 1024),
    (16, 2048, 2048, 128), (16, 2048, 128, 2048), (8, 1024, 4096, 1024), (64, 256, 256, 256),
]

# FlashAttention-2's forward benchmark (Dao 2023, Fig. 5-6): batch x seq = 16k tokens, hidden 2048
SDPA_SEQS = (512, 1024, 2048, 4096, 8192, 16384)
SDPA_HEAD_DIMS = (64, 128)
SDPA_BACKENDS = ("flash", "cudnn", "efficient")

# decode attention: (batch, q heads, kv heads, kv len, head dim)
DECODE_ATTN = [
    (b, 32, hkv, kv, 128)
    for b in (1, 8, 32, 64) for hkv in (32, 8) for kv in (1024, 4096, 16384)
]

ELTWISE_SIZES = (1 << 16, 1 << 20, 1 << 24, 1 << 27)

# LLaMA-2-7B (Touvron et al. 2023): 32 layers, d 4096, FFN 11008, 32 heads, vocab 32000
LLAMA = {"layers": 32, "d": 4096, "ffn": 11008, "heads": 32, "vocab": 32000}
LLAMA_BATCHES = (1, 4, 16, 64)
LLAMA_KV = 1024

CNN_CASES = [("resnet50", 1), ("resnet50", 32), ("resnet50", 256), ("resnet18", 256),
             ("mobilenet_v2", 256), ("resnet50_bnfolded", 256)]


class Sample(NamedTuple):
    """One NVML reading: when (``time.perf_counter``), the SM clock, the board power and the
    clock-event (throttle) reasons bit mask."""

    t: float
    sm_mhz: float
    power_w: float
    reasons: int


class Run:
    """The measuring context: device, timers, budget, and one CSV writer per section."""

    def __init__(self, out: Path, device: str, repeat: int, budget_s: float, quick: bool) -> None:
        import torch

        self.torch = torch
        self.out = out
        self.device = device
        self.repeat = repeat
        self.quick = quick
        self.deadline = time.monotonic() + budget_s
        self.cuda = device == "cuda"
        self.gpu = torch.cuda.get_device_name(0) if self.cuda else "cpu"
        self._files: dict[str, tuple[Any, csv.DictWriter]] = {}

    def left(self) -> float:
        return self.deadline - time.monotonic()

    @contextmanager
    def nvml_samples(self, period_s: float) -> Iterator[list[Sample]]:
        """NVML's SM clock, board power and clock-event reasons while the block runs, sampled
        at its start, every ``period_s`` and at its end; the list stays empty where there is no
        NVML (no GPU, or ``nvidia-ml-py`` missing)."""
        import threading

        samples: list[Sample] = []
        nvml = _nvml() if self.cuda else None
        if nvml is None:
            yield samples
            return
        handle = nvml.nvmlDeviceGetHandleByIndex(0)
        reasons_of = (getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None)
                      or getattr(nvml, "nvmlDeviceGetCurrentClocksThrottleReasons", None))
        stop = threading.Event()

        def sample() -> None:
            samples.append(Sample(time.perf_counter(),
                                  nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM),
                                  nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0,
                                  reasons_of(handle) if reasons_of else 0))

        def loop() -> None:
            while not stop.wait(period_s):
                sample()

        sample()
        th = threading.Thread(target=loop)
        th.start()
        try:
            yield samples
        finally:
            stop.set()
            th.join()
            sample()

    @contextmanager
    def clock(self) -> Iterator[dict[str, object]]:
        """The SM clock and board power while the block runs (``nvml_samples`` every 2 ms):
        ``sm_mhz`` (median), ``sm_mhz_min``, ``power_w`` (median); empty without NVML."""
        out: dict[str, object] = {}
        with self.nvml_samples(0.002) as samples:
            yield out
        if samples:
            out.update(sm_mhz=statistics.median(x.sm_mhz for x in samples),
                       sm_mhz_min=min(x.sm_mhz for x in samples),
                       power_w=statistics.median(x.power_w for x in samples))

    def write(self, section: str, row: dict[str, object]) -> None:
        if section not in self._files:
            f = (self.out / f"{section}.csv").open("w", newline="")
            w = csv.DictWriter(f, fieldnames=["gpu", *row])
            w.writeheader()
            self._files[section] = (f, w)
        f, w = self._files[section]
        w.writerow({"gpu": self.gpu, **row})
        f.flush()
        print(section, {k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in row.items()
                        if k != "kernels"}, flush=True)

    def close(self) -> None:
        for f, _ in self._files.values():
            f.close()

    def sync(self) -> None:
        if self.cuda:
            self.torch.cuda.synchronize()

    def time(self, fn: Callable[[], object], calls: int = GRAPH_CALLS, graph: bool = True) -> float:
        """Seconds per call: a CUDA graph of ``calls`` calls replayed ``repeat`` times (median)."""
        t = self.torch
        for _ in range(3):
            fn()
        self.sync()
        if not self.cuda:
            times = []
            for _ in range(max(1, self.repeat // 4)):
                s = time.perf_counter()
                fn()
                times.append(time.perf_counter() - s)
            return statistics.median(times)
        if graph:
            return graph_time(t, fn, self.repeat, calls)

        def run() -> None:
            for _ in range(calls):
                fn()
        run()
        self.sync()
        return event_time(t, run, self.repeat, calls)

    def kernels(self, fn: Callable[[], object]) -> str:
        """The CUDA kernels one call of ``fn`` launches, in order, ';'-joined."""
        return self.kernel_columns(fn)["kernels"]

    def kernel_columns(self, fn: Callable[[], object]) -> dict[str, str]:
        """A row's ``kernels`` (names, ';'-joined, in launch order) and ``kernel_us`` (each one's
        device microseconds under the profiler, an eager call: which of a split-K GEMM's or a
        split-KV decode's kernels takes the time)."""
        profiled = self.profiled(fn)
        if isinstance(profiled, str):
            return {"kernels": profiled, "kernel_us": ""}
        return {"kernels": ";".join(n for n, _ in profiled),
                "kernel_us": ";".join(f"{us:.2f}" for _, us in profiled)}

    def profiled(self, fn: Callable[[], object]) -> list[tuple[str, float]] | str:
        """``kernel_profile``, or the profiler's failure in a line (it is optional evidence)."""
        try:
            return self.kernel_profile(fn)
        except Exception as err:  # noqa: BLE001 - one failed profile must not lose the row
            return f"profiler failed: {err}"[:200]

    def kernel_profile(self, fn: Callable[[], object]) -> list[tuple[str, float]]:
        """(name, device microseconds) of each CUDA kernel one call of ``fn`` launches, in
        order (``torch.profiler``: CUPTI's kernel durations, launch gaps excluded); empty off
        the GPU. Raises what the profiler raises."""
        if not self.cuda:
            return []
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            fn()
            self.sync()
        out = []
        for e in prof.events():
            if e.device_type.name != "CUDA":
                continue
            us = getattr(e, "device_time", None)  # cuda_time before PyTorch 2.4
            out.append((e.name.replace(",", " "),
                        float(us if us is not None else getattr(e, "cuda_time", 0.0))))
        return out


@contextmanager
def section(run: Run, name: str) -> Iterator[None]:
    start = time.monotonic()
    print(f"== {name} ({run.left():.0f} s left)", flush=True)
    try:
        yield
    except Exception:  # noqa: BLE001 - one broken section must not lose the others
        traceback.print_exc()
    print(f"== {name} took {time.monotonic() - start:.1f} s", flush=True)


def _guard(run: Run, label: str, fn: Callable[[], None]) -> None:
    """One measured case; an error (shape a kernel refuses, out of memory) is logged, not fatal."""
    if run.left() <= 0:
        print(f"skip (budget): {label}", flush=True)
        return
    try:
        fn()
    except Exception as err:  # noqa: BLE001
        print(f"skip {label}: {type(err).__name__}: {str(err).splitlines()[0][:160]}", flush=True)
    if run.cuda:
        run.torch.cuda.empty_cache()


def _nvml() -> Any:
    """pynvml (``nvidia-ml-py``), initialised; None where it is not installed or fails."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:  # noqa: BLE001 - the clock is optional evidence
        return None
    return pynvml


def _smi(fields: str) -> list[str]:
    try:
        out = subprocess.run(["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20).stdout
        return [s.strip() for s in out.strip().splitlines()[0].split(",")]
    except Exception as err:  # noqa: BLE001
        return [f"nvidia-smi failed: {err}"]


def measure_env(run: Run) -> None:
    t = run.torch
    row: dict[str, object] = {"torch": t.__version__, "cuda": str(t.version.cuda),
                              "python": sys.version.split()[0]}
    if run.cuda:
        p = t.cuda.get_device_properties(0)
        row.update(sms=p.multi_processor_count, l2_bytes=getattr(p, "L2_cache_size", ""),
                   mem_bytes=p.total_memory, cublas=t.backends.cuda.preferred_blas_library().name,
                   cudnn=t.backends.cudnn.version())
        fields = "driver_version,clocks.max.sm,clocks.max.mem,power.limit,clocks.sm,clocks.mem"
        row.update(zip(["driver", "max_sm_mhz", "max_mem_mhz", "power_limit", "idle_sm_mhz",
                        "idle_mem_mhz"], _smi(fields), strict=False))
        # the clock under load: queue ~3 s of 8192^3 bf16 GEMMs, read nvidia-smi while they run
        n = 8192
        a = t.randn(n, n, device="cuda", dtype=t.bfloat16)
        b = t.randn(n, n, device="cuda", dtype=t.bfloat16)
        t.matmul(a, b)
        run.sync()
        start = time.perf_counter()
        for _ in range(10):
            t.matmul(a, b)
        run.sync()
        per = (time.perf_counter() - start) / 10
        for _ in range(int(3.0 / per)):
            t.matmul(a, b)
        time.sleep(1.5)
        load = _smi("clocks.sm,clocks.mem,power.draw,temperature.gpu")
        run.sync()
        row.update(zip(["load_sm_mhz", "load_mem_mhz", "load_power_w", "load_temp_c"], load,
                       strict=False))
        row["load_gemm_tflops"] = 2 * n**3 / per / 1e12
        # HBM: a device-to-device copy of 4 GiB (read + write) and a read-only reduction
        x = t.empty(1 << 31, device="cuda", dtype=t.float16)
        y = t.empty_like(x)
        copy_s = run.time(lambda: y.copy_(x), calls=3)
        row["copy_tb_s"] = 2 * x.numel() * 2 / copy_s / 1e12
        read_s = run.time(lambda: x.sum(), calls=3)
        row["read_tb_s"] = x.numel() * 2 / read_s / 1e12
        del x, y
        # the launch floor: a one-element kernel, in a graph and eager
        z = t.zeros(1, device="cuda")
        row["tiny_kernel_graph_us"] = run.time(lambda: z.add_(1), calls=100) * 1e6
        row["tiny_kernel_eager_us"] = run.time(lambda: z.add_(1), calls=100, graph=False) * 1e6
    run.write("env", row)


def measure_sustained(run: Run) -> None:
    """Kernels replayed back to back for ~2 s while a thread samples the SM clock, the power and
    the clock-event (throttle) reasons through NVML every 20 ms: the clock under the power limit,
    GEMMs on random and on all-zero operands (toggling bits cost power) and at two sizes, and
    an HBM-bound copy. Each case starts after 1.5 s idle, sampled too: the board's idle power
    (``idle_power_w``) and, in ``sustained_trace.csv``, every sample from the idle through the
    load (``t_s`` from the first kernel: the power controller's settling, which the short timing
    loops of ``gemm.csv`` end inside). For the copy, ``tflops`` is TB/s moved (read + write)."""

    cases: list[tuple[str, int, str]] = [
        ("bf16", 8192, "randn"), ("bf16", 8192, "zeros"), ("bf16", 4096, "randn"),
        ("fp16", 8192, "randn"), ("fp8_e4m3", 8192, "randn"), ("copy", 1 << 30, "randn")]
    idle_s = 1.5
    if run.quick:
        cases, idle_s = [("fp16", 128, "randn"), ("copy", 1 << 16, "randn")], 0.05
    for dtype, n, fill in cases:
        def case(dtype: str = dtype, n: int = n, fill: str = fill) -> None:
            t = run.torch
            if dtype == "copy":  # n bytes of fp16 read and written per call: HBM-bound
                src = t.empty(n // 2, device=run.device, dtype=t.float16).normal_()
                dst = t.empty_like(src)

                def fn() -> object:
                    return dst.copy_(src)
                work = 2 * n  # bytes moved per call
            else:
                fn = _gemm_fn(run, dtype, n, n, n)
                work = 2 * n**3  # FLOPs per call
            if fill == "zeros":
                for v in fn.__closure__ or ():  # the captured operands
                    if isinstance(v.cell_contents, run.torch.Tensor):
                        v.cell_contents.zero_()
            per = run.time(fn)
            calls = max(1, int(2.0 / per))
            with run.nvml_samples(0.02) as samples:
                time.sleep(idle_s)  # idle: the board's floor, and a cool start for the trace
                start = time.perf_counter()  # the first kernel of the load queued
                for _ in range(calls):
                    fn()
                run.sync()
                wall = time.perf_counter() - start
            idle = [x.power_w for x in samples if x.t < start]
            load = [x for x in samples if x.t >= start]
            busy = load[len(load) // 4:] or load  # past the ramp
            reasons = 0
            for x in busy:
                reasons |= x.reasons
            label = "copy" if dtype == "copy" else fill
            run.write("sustained", {
                "dtype": dtype, "n": n, "fill": label, "time_s": wall / calls,
                "tflops": work / (wall / calls) / 1e12, "short_run_time_s": per,
                "sm_mhz_median": statistics.median(x.sm_mhz for x in busy) if busy else "",
                "sm_mhz_min": min((x.sm_mhz for x in busy), default=""),
                "power_w_median": statistics.median(x.power_w for x in busy) if busy else "",
                "clock_event_reasons": hex(reasons), "samples": len(busy),
                "idle_power_w": statistics.median(idle) if idle else ""})
            for x in samples:
                run.write("sustained_trace", {"dtype": dtype, "n": n, "fill": label,
                                              "t_s": round(x.t - start, 4), "sm_mhz": x.sm_mhz,
                                              "power_w": x.power_w, "reasons": hex(x.reasons)})
        _guard(run, f"sustained {dtype} {n} {fill}", case)


def _gemm_fn(run: Run, dtype: str, m: int, n: int, k: int, batch: int = 0) -> Callable[[], object]:
    return gemm_kernel(run.torch, dtype, m, n, k, device=run.device, batch=batch)


def measure_gemm(run: Run) -> None:
    run.torch.backends.cuda.matmul.allow_tf32 = True
    shapes = GEMM_SHAPES[:6] if run.quick else GEMM_SHAPES
    for dtype in GEMM_DTYPES:
        for m, n, k in shapes:
            if run.quick:
                m, n, k = min(m, 256), min(n, 256), min(k, 256)

            def case(dtype: str = dtype, m: int = m, n: int = n, k: int = k) -> None:
                fn = _gemm_fn(run, dtype, m, n, k)
                with run.clock() as clock:
                    s = run.time(fn)
                run.write("gemm", {"dtype": dtype, "m": m, "n": n, "k": k, "time_s": s,
                                   "tflops": 2 * m * n * k / s / 1e12, **clock,
                                   **run.kernel_columns(fn)})
            _guard(run, f"gemm {dtype} {m}x{n}x{k}", case)


def measure_bmm(run: Run) -> None:
    for dtype in ("fp16", "bf16"):
        for batch, m, n, k in BMM_SHAPES:
            if run.quick:
                batch, m, n, k = min(batch, 4), min(m, 64), min(n, 64), min(k, 64)

            def case(dtype: str = dtype, batch: int = batch, m: int = m, n: int = n,
                     k: int = k) -> None:
                fn = _gemm_fn(run, dtype, m, n, k, batch=batch)
                with run.clock() as clock:
                    s = run.time(fn)
                run.write("bmm", {"dtype": dtype, "batch": batch, "m": m, "n": n, "k": k,
                                  "time_s": s, "tflops": 2 * batch * m * n * k / s / 1e12,
                                  **clock, **run.kernel_columns(fn)})
            _guard(run, f"bmm {dtype} {batch}x{m}x{n}x{k}", case)


def _sdpa_ctx(run: Run, backend: str) -> Any:
    from contextlib import nullcontext

    from torch.nn.attention import SDPBackend, sdpa_kernel

    if backend == "default":
        return nullcontext()
    return sdpa_kernel({"flash": SDPBackend.FLASH_ATTENTION,
                        "cudnn": SDPBackend.CUDNN_ATTENTION,
                        "efficient": SDPBackend.EFFICIENT_ATTENTION,
                        "math": SDPBackend.MATH}[backend])


def measure_sdpa(run: Run) -> None:
    t = run.torch
    f = t.nn.functional
    dtype = t.float16 if run.cuda else t.float32
    tokens, hidden = (2048, 256) if run.quick else (16384, 2048)
    seqs = (256, 512) if run.quick else SDPA_SEQS
    backends = ("math",) if not run.cuda else SDPA_BACKENDS
    for d in SDPA_HEAD_DIMS:
        for seq in seqs:
            for causal in (False, True):
                for backend in backends:
                    for direction in ("fwd", "fwd_bwd"):
                        if direction == "fwd_bwd" and backend != "flash" and run.cuda:
                            continue

                        # batch x seq = tokens, heads x d = hidden (FlashAttention-2's setting)
                        def case(d: int = d, seq: int = seq, causal: bool = causal,
                                 backend: str = backend, direction: str = direction) -> None:
                            b, h = tokens // seq, hidden // d
                            grad = direction == "fwd_bwd"
                            q, k, v = (t.randn(b, h, seq, d, device=run.device, dtype=dtype,
                                               requires_grad=grad) for _ in range(3))
                            do = t.randn(b, h, seq, d, device=run.device, dtype=dtype)

                            def fn() -> object:
                                with _sdpa_ctx(run, backend):
                                    o = f.scaled_dot_product_attention(q, k, v, is_causal=causal)
                                if grad:
                                    o.backward(do)
                                return o
                            # autograd does not replay in a graph: time eagerly for fwd_bwd
                            s = run.time(fn, graph=not grad)
                            flops = 4 * b * h * seq * seq * d * (0.5 if causal else 1.0)
                            if grad:
                                flops *= 3.5  # FA2's count: backward 2.5x the forward
                            run.write("sdpa", {"dtype": "fp16", "backend": backend,
                                               "direction": direction, "batch": b, "heads": h,
                                               "seq": seq, "head_dim": d, "causal": causal,
                                               "time_s": s, "tflops": flops / s / 1e12,
                                               **run.kernel_columns(fn)})
                        _guard(run, f"sdpa {backend} {direction} d{d} s{seq} c{causal}", case)


def measure_decode_attn(run: Run) -> None:
    t = run.torch
    f = t.nn.functional
    dtype = t.float16 if run.cuda else t.float32
    cases = [(1, 8, 2, 256, 64), (2, 8, 8, 256, 64)] if run.quick else DECODE_ATTN
    for b, hq, hkv, kv, d in cases:
        for backend in ("default", "flash") if run.cuda else ("default",):
            def case(b: int = b, hq: int = hq, hkv: int = hkv, kv: int = kv, d: int = d,
                     backend: str = backend) -> None:
                q = t.randn(b, hq, 1, d, device=run.device, dtype=dtype)
                k = t.randn(b, hkv, kv, d, device=run.device, dtype=dtype)
                v = t.randn(b, hkv, kv, d, device=run.device, dtype=dtype)

                def fn() -> object:
                    with _sdpa_ctx(run, backend):
                        return f.scaled_dot_product_attention(q, k, v, enable_gqa=hkv != hq)
                s = run.time(fn)
                kv_bytes = 2 * b * hkv * kv * d * 2
                run.write("decode_attn", {"dtype": "fp16", "backend": backend, "batch": b,
                                          "q_heads": hq, "kv_heads": hkv, "kv_len": kv,
                                          "head_dim": d, "time_s": s, "kv_bytes": kv_bytes,
                                          "tb_s": kv_bytes / s / 1e12,
                                          **run.kernel_columns(fn)})
            _guard(run, f"decode_attn {backend} b{b} hkv{hkv} kv{kv}", case)


def measure_eltwise(run: Run) -> None:
    t = run.torch
    f = t.nn.functional
    dtype = t.float16 if run.cuda else t.float32
    sizes = ELTWISE_SIZES[:2] if run.quick else ELTWISE_SIZES
    for n in sizes:
        x = t.randn(n // 4096, 4096, device=run.device, dtype=dtype)
        y = t.randn_like(x)
        w = t.ones(4096, device=run.device, dtype=dtype)
        ops: dict[str, tuple[Callable[[], object], int]] = {
            # name: (call, bytes moved in units of one tensor)
            "copy": (lambda x=x: x.clone(), 2),
            "add": (lambda x=x, y=y: x + y, 3),
            "relu": (lambda x=x: f.relu(x), 2),
            "gelu": (lambda x=x: f.gelu(x), 2),
            "silu_mul": (lambda x=x, y=y: f.silu(x) * y, 5),
            "layernorm": (lambda x=x, w=w: f.layer_norm(x, (4096,), w, w), 2),
            "rmsnorm": (lambda x=x, w=w: f.rms_norm(x, (4096,), w), 2),
            "softmax": (lambda x=x: t.softmax(x, -1), 2),
        }
        for name, (fn, tensors) in ops.items():
            def case(fn: Callable[[], object] = fn, name: str = name, n: int = n,
                     tensors: int = tensors) -> None:
                s = run.time(fn)
                moved = tensors * n * (2 if run.cuda else 4)
                run.write("eltwise", {"op": name, "dtype": str(dtype).split(".")[-1],
                                      "elements": n, "time_s": s, "bytes": moved,
                                      "tb_s": moved / s / 1e12, **run.kernel_columns(fn)})
            _guard(run, f"eltwise {name} {n}", case)


def measure_llama_decode(run: Run) -> None:
    """One decode step of a LLaMA-2-7B-shaped model (random fp16 weights, KV cache of LLAMA_KV)."""
    t = run.torch
    f = t.nn.functional
    cfg = dict(LLAMA)
    kv_len = LLAMA_KV
    if run.quick:
        cfg.update(layers=2, d=256, ffn=512, heads=4, vocab=1000)
        kv_len = 64
    dtype = t.float16 if run.cuda else t.float32
    d, ffn, heads, layers = cfg["d"], cfg["ffn"], cfg["heads"], cfg["layers"]
    hd = d // heads
    dev = run.device

    def w(*shape: int) -> Any:
        return t.randn(*shape, device=dev, dtype=dtype) * 0.02

    weights = [(w(3 * d, d), w(d, d), w(2 * ffn, d), w(d, ffn), t.ones(d, device=dev, dtype=dtype),
                t.ones(d, device=dev, dtype=dtype)) for _ in range(layers)]
    head = w(cfg["vocab"], d)
    params = sum(p.numel() for ws in weights for p in ws) + head.numel()
    for batch in (1, 2) if run.quick else LLAMA_BATCHES:
        def case(batch: int = batch) -> None:
            caches = [(t.randn(batch, heads, kv_len, hd, device=dev, dtype=dtype),
                       t.randn(batch, heads, kv_len, hd, device=dev, dtype=dtype))
                      for _ in range(layers)]
            x0 = t.randn(batch, d, device=dev, dtype=dtype)

            def step() -> object:
                x = x0
                for (wqkv, wo, w13, w2, n1, n2), (kc, vc) in zip(weights, caches, strict=True):
                    h = f.rms_norm(x, (d,), n1)
                    q, k, v = f.linear(h, wqkv).view(batch, 3, heads, 1, hd).unbind(1)
                    kc[:, :, -1:].copy_(k)
                    vc[:, :, -1:].copy_(v)
                    a = f.scaled_dot_product_attention(q, kc, vc)
                    x = x + f.linear(a.reshape(batch, d), wo)
                    g, u = f.linear(f.rms_norm(x, (d,), n2), w13).chunk(2, -1)
                    x = x + f.linear(f.silu(g) * u, w2)
                return f.linear(x, head)
            s = run.time(step, calls=1)
            kv_bytes = sum(c.numel() * c.element_size() for kv in caches for c in kv)
            weight_bytes = params * (2 if run.cuda else 4)
            run.write("llama_decode", {"dtype": "fp16", "batch": batch, "kv_len": kv_len,
                                       "layers": layers, "params": params, "time_s": s,
                                       "weight_bytes": weight_bytes, "kv_bytes": kv_bytes,
                                       "tb_s": (weight_bytes + kv_bytes) / s / 1e12,
                                       "kernels": str(run.kernels(step).count(";") + 1)})
        _guard(run, f"llama_decode b{batch}", case)


def _cnn(run: Run, name: str) -> Any:
    import torchvision

    fold = name.endswith("_bnfolded")
    model = getattr(torchvision.models, name.removesuffix("_bnfolded"))(weights=None).eval()
    if fold:
        from torch.fx.experimental.optimization import fuse

        model = fuse(model)
    return model


def measure_cnn(run: Run) -> None:
    t = run.torch
    t.backends.cudnn.benchmark = True
    dtype = t.float16 if run.cuda else t.float32
    for name, batch in ([("resnet18", 2)] if run.quick else CNN_CASES):
        def case(name: str = name, batch: int = batch) -> None:
            model = _cnn(run, name).to(device=run.device, dtype=dtype,
                                       memory_format=t.channels_last)
            size = 64 if run.quick else 224
            x = t.randn(batch, 3, size, size, device=run.device, dtype=dtype).to(
                memory_format=t.channels_last)

            def fn() -> object:
                with t.no_grad():
                    return model(x)
            s = run.time(fn, calls=1)
            got = run.profiled(fn)
            profiled = [(got, 0.0)] if isinstance(got, str) else got
            names = [n for n, _ in profiled]
            run.write("cnn", {"model": name, "dtype": "fp16", "batch": batch, "time_s": s,
                              "images_per_s": batch / s, "kernels": len(names),
                              "kernel_names": ";".join(sorted(set(names)))[:4000]})
            # each kernel's own time, in launch order: what the model's per-op times are set
            # beside (an eager call under the profiler; the kernels' durations, not the gaps)
            for i, (kernel, us) in enumerate(profiled):
                run.write("cnn_kernels", {"model": name, "batch": batch, "index": i,
                                          "device_us": us, "kernel": kernel[:300]})
        _guard(run, f"cnn {name} b{batch}", case)


# decoder-only transformers trained with bf16 autocast and fused AdamW: (name, layers, d, heads,
# seq, batch); GPT-2 medium (Radford et al. 2019) and a GPT-3 XL-shaped 1.3B (Brown et al. 2020)
GPT_TRAIN = [("gpt2_medium", 24, 1024, 16, 1024, 8), ("gpt_1.3b", 24, 2048, 16, 2048, 4)]
GPT_VOCAB = 50257
CNN_TRAIN = [("resnet50", 256, "fp32"), ("resnet50", 256, "tf32"), ("resnet50", 256, "amp_fp16")]


def _gpt(t: Any, layers: int, d: int, heads: int, vocab: int) -> Any:
    nn = t.nn
    f = t.nn.functional

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

        def forward(self, x: Any) -> Any:
            b, s, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).view(b, s, 3, heads, d // heads).permute(
                2, 0, 3, 1, 4).unbind(0)
            a = f.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(a.transpose(1, 2).reshape(b, s, d))
            return x + self.fc2(f.gelu(self.fc1(self.ln2(x))))

    class Gpt(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(vocab, d)
            self.blocks = nn.Sequential(*[Block() for _ in range(layers)])
            self.ln = nn.LayerNorm(d)

        def forward(self, tokens: Any) -> Any:
            x = self.blocks(self.emb(tokens))
            return f.linear(self.ln(x), self.emb.weight)  # tied output embedding

    return Gpt()


def measure_train(run: Run) -> None:
    """Training steps: GPT-style decoders (bf16 autocast, fused AdamW) and ResNet-50 (SGD with
    momentum) in fp32, tf32 and fp16 autocast with loss scaling; time per step, eager."""
    t = run.torch
    f = t.nn.functional
    dev = run.device
    amp_dtype = t.bfloat16
    gpts = [("gpt_tiny", 2, 64, 4, 64, 2)] if run.quick else GPT_TRAIN
    for name, layers, d, heads, seq, batch in gpts:
        def case(name: str = name, layers: int = layers, d: int = d, heads: int = heads,
                 seq: int = seq, batch: int = batch) -> None:
            vocab = 1000 if run.quick else GPT_VOCAB
            model = _gpt(t, layers, d, heads, vocab).to(dev)
            opt = t.optim.AdamW(model.parameters(), lr=1e-4, fused=run.cuda)
            tokens = t.randint(0, vocab, (batch, seq + 1), device=dev)

            def step() -> object:
                with t.autocast(run.device, dtype=amp_dtype):
                    logits = model(tokens[:, :-1])
                loss = f.cross_entropy(logits.float().view(-1, vocab), tokens[:, 1:].reshape(-1))
                loss.backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
                return loss
            s = run.time(step, calls=1, graph=False)
            params = sum(p.numel() for p in model.parameters())
            # training FLOPs: 6 x params x tokens (Kaplan et al. 2020) + causal attention's
            # 6 x 2 x layers x seq^2 x d / 2 per sequence (the PaLM paper's MFU count, Appendix B)
            flops = 6 * params * batch * seq + 6 * layers * batch * seq * seq * d
            run.write("train", {"model": name, "precision": "amp_bf16", "batch": batch,
                                "seq": seq, "params": params, "time_s": s,
                                "samples_per_s": batch / s, "tokens_per_s": batch * seq / s,
                                "model_tflops": flops / s / 1e12})
        _guard(run, f"train {name}", case)
    for name, batch, precision in [("resnet18", 2, "amp_fp16")] if run.quick else CNN_TRAIN:
        def cnn_case(name: str = name, batch: int = batch, precision: str = precision) -> None:
            t.backends.cuda.matmul.allow_tf32 = precision == "tf32"
            t.backends.cudnn.allow_tf32 = precision == "tf32"
            t.backends.cudnn.benchmark = True
            model = _cnn(run, name).train().to(dev, memory_format=t.channels_last)
            opt = t.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
            scaler = t.amp.GradScaler(enabled=precision == "amp_fp16" and run.cuda)
            size = 64 if run.quick else 224
            x = t.randn(batch, 3, size, size, device=dev).to(memory_format=t.channels_last)
            y = t.randint(0, 1000, (batch,), device=dev)

            def step() -> object:
                with t.autocast(run.device, dtype=t.float16 if run.cuda else t.bfloat16,
                                enabled=precision == "amp_fp16"):
                    loss = f.cross_entropy(model(x), y)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                opt.zero_grad(set_to_none=True)
                return loss
            s = run.time(step, calls=1, graph=False)
            run.write("train", {"model": name, "precision": precision, "batch": batch,
                                "seq": "", "params": sum(p.numel() for p in model.parameters()),
                                "time_s": s, "samples_per_s": batch / s, "tokens_per_s": "",
                                "model_tflops": ""})
        _guard(run, f"train {name} {precision}", cnn_case)


SECTIONS: list[tuple[str, Callable[[Run], None]]] = [
    ("env", measure_env), ("gemm", measure_gemm), ("sustained", measure_sustained),
    ("bmm", measure_bmm), ("sdpa", measure_sdpa),
    ("decode_attn", measure_decode_attn), ("llama_decode", measure_llama_decode),
    ("eltwise", measure_eltwise), ("cnn", measure_cnn), ("train", measure_train),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["measure"])
    parser.add_argument("-o", "--out", type=Path, required=True)
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--budget-s", type=float, default=330.0)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a dry run)")
    parser.add_argument("--only", nargs="*", help="sections to run (default: all)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    run = Run(args.out, args.device, args.repeat, args.budget_s, args.quick)
    for name, fn in SECTIONS:
        if args.only and name not in args.only:
            continue
        with section(run, name):
            fn(run)
    run.close()
    print(f"done, {run.left():.0f} s of the budget left", flush=True)


if __name__ == "__main__":
    main()
