"""cuBLAS's sm80 kernels on Hopper stream their k-blocks into shared memory through cp.async at
about kAsyncCopyBytesPerClk bytes per SM a clock (csrc/units/tensor_core.hpp), however few CTAs
run: on the H200 the int8 64x64 and 128x64 kernels of 13 shapes ran at 31-35 B/clk per SM at the
model's 1830 MHz, 128 x 128 x 65536 on 4 CTAs as 512 x 512 x 16384 on 64 (h200_kernels/gemm.csv).
Before the term the model had those GEMMs 36-65 % too fast; TMA kernels are not held to it."""

from __future__ import annotations

import csv
import statistics
from pathlib import Path

import pytest

from pysim import gpu

DATA = Path(__file__).resolve().parent.parent / "benchmarks" / "data" / "h200_kernels"
RATE = 34.0  # kAsyncCopyBytesPerClk


def rows(name: str, dtype: str) -> list[tuple[int, int, int, float, str]]:
    with (DATA / name).open() as f:
        return [(int(r["m"]), int(r["n"]), int(r["k"]), float(r["time_s"]), r["kernels"])
                for r in csv.DictReader(f) if r["dtype"] == dtype]


def error(p: gpu.GpuPreset, m: int, n: int, k: int, dtype: str, secs: float) -> float:
    """(model - measured) / measured, the model as a CUDA graph replays it (no host launch)."""
    c = p.gemm_cost(m, n, k, dtype)
    return (c.time_s - c.launch_s * (2 if c.split_k > 1 else 1)) / secs - 1


@pytest.mark.parametrize(("m", "n", "k"), [(128, 128, 65536), (512, 512, 16384),
                                           (512, 512, 4096), (32, 4096, 4096)])
def test_few_ctas_stream_at_the_async_copy_rate(m: int, n: int, k: int) -> None:
    """Shapes whose CTAs cannot fill the SMs: each SM's own copy rate bounds them (65, 43, 32 and
    36 % too fast before), within 5 % now, on both H200 runs."""
    p = gpu.preset("h200")
    for name in ("gemm.csv", "gemm_run2.csv"):
        secs = next(t for a, b, c, t, _ in rows(name, "int8") if (a, b, c) == (m, n, k))
        assert abs(error(p, m, n, k, "int8", secs)) < 0.05
        assert p.gemm_cost(m, n, k, "int8").bound == "smem"


def test_int8_median_error_within_five_percent_on_both_runs() -> None:
    """Issue 12's bar for every dtype, met by int8 (8.4 % before the term; the align4 kernels of
    1000^3 and 3000 x 5000 x 2000 stay 27 and 51 % fast: docs/tensor_cores.md)."""
    p = gpu.preset("h200")
    for name in ("gemm.csv", "gemm_run2.csv"):
        errors = [abs(error(p, m, n, k, "int8", t)) for m, n, k, t, _ in rows(name, "int8")]
        assert len(errors) == 36
        assert statistics.median(errors) < 0.05


def test_load_term_is_the_busiest_sms_k_block_bytes_at_the_rate() -> None:
    p = gpu.preset("h200")
    c = p.gemm_cost(512, 512, 16384, "int8", tile=(64, 64, 64, 1))
    assert c.waves == 1 and c.ctas == 64  # one CTA on each of 64 SMs
    k_blocks = 16384 // 64
    assert c.load_s == pytest.approx(k_blocks * (64 + 64) * 64 / RATE / (p.boost_clock_mhz * 1e6),
                                     rel=1e-12)
    assert c.smem_s == pytest.approx(max(c.smem_read_s, c.load_s), rel=1e-12)
    # two CTAs on each SM: twice the busiest SM's bytes
    twice = p.replace(sms=32).gemm_cost(512, 512, 16384, "int8", tile=(64, 64, 64, 1))
    assert twice.load_s == pytest.approx(2 * c.load_s, rel=1e-12)


@pytest.mark.parametrize(("name", "dtype"), [("h200", "fp16"), ("h200", "fp8_e4m3"),
                                             ("a100", "int8"), ("a100", "fp16")])
def test_tma_kernels_and_ampere_are_not_held_to_it(name: str, dtype: str) -> None:
    """The H200's own (TMA) kernels ran 30-110 B/clk per SM; an A100's sm80 kernels were not
    measured against it, so the A100 keeps its figures."""
    c = gpu.preset(name).gemm_cost(512, 512, 16384, dtype)
    assert c.load_s == 0.0
    assert c.smem_s == pytest.approx(c.smem_read_s, rel=1e-12)

