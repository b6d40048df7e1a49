"""benchmarks/measure_gpu_gemm.py's compare mode on a synthetic CSV (no GPU needed)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from pysim import gpu
from tests.example_scripts import load_benchmark


def kernel_harness() -> ModuleType:
    """benchmarks/measure_gpu_kernels.py (it imports measure_gpu_gemm's timers by name)."""
    load_benchmark("measure_gpu_gemm")
    return load_benchmark("measure_gpu_kernels")


def test_compare_reports_relative_error(tmp_path: Path) -> None:
    mod = load_benchmark("measure_gpu_gemm")
    p = gpu.preset("a100")
    model = p.gemm_time(4096, 4096, 4096, "fp16")
    csv_path = tmp_path / "m.csv"
    csv_path.write_text(
        "gpu,method,dtype,m,n,k,time_s,tflops\n"
        f"NVIDIA A100-SXM4-80GB,eager,fp16,4096,4096,4096,{model * 1.25},0\n"
    )
    rows = mod.compare(csv_path, "a100")
    assert len(rows) == 1
    assert rows[0]["model_s"] == model
    assert rows[0]["error"] == pytest.approx(-0.2)


def test_rows_without_a_method_are_kernel_times_less_every_host_launch(tmp_path: Path) -> None:
    """measure_gpu_kernels.py's gemm.csv has no method column: CUDA-graph kernel times. The
    model drops its host launches (two for a split-K GEMM: the reduction is a kernel too) and
    keeps the device-side kernel and pipeline latency."""
    mod = load_benchmark("measure_gpu_gemm")
    p = gpu.preset("h200")
    shapes = [(4096, 4096, 4096), (128, 128, 65536)]
    csv_path = tmp_path / "k.csv"
    csv_path.write_text("gpu,dtype,m,n,k,time_s,tflops\n" + "".join(
        f"NVIDIA H200,fp16,{m},{n},{k},1e-5,0\n" for m, n, k in shapes))
    rows = mod.compare(csv_path, "h200")
    for row, (m, n, k) in zip(rows, shapes, strict=True):
        c = p.gemm_cost(m, n, k, "fp16")
        launches = 2 if c.split_k > 1 else 1
        assert row["method"] == "graph"
        assert row["model_s"] == pytest.approx(c.time_s - launches * c.launch_s)
        assert row["model_s"] > c.latency_s > 0
    assert p.gemm_cost(128, 128, 65536, "fp16").split_k > 1  # the second row is split-K


def test_a_row_with_its_measured_clock_is_modelled_at_that_clock(tmp_path: Path) -> None:
    """measure_gpu_kernels.py records the SM clock of each GEMM's timed replays (sm_mhz):
    compare models such a row at that clock (tensor cores, shared memory and L2), a row
    without one at the preset's, and --preset-clock ignores it. A compute-bound GEMM at a
    higher clock is faster, in proportion at most."""
    mod = load_benchmark("measure_gpu_gemm")
    p = gpu.preset("h200")
    csv_path = tmp_path / "k.csv"
    csv_path.write_text("gpu,dtype,m,n,k,time_s,tflops,sm_mhz\n"
                        "NVIDIA H200,fp16,4096,4096,4096,1e-4,0,1830\n"
                        "NVIDIA H200,fp16,4096,4096,4096,1e-4,0,\n")
    at, preset = mod.compare(csv_path, "h200")
    fast = mod.at_clock(p, "1830").gemm_cost(4096, 4096, 4096, "fp16")
    assert at["model_s"] == pytest.approx(fast.time_s - fast.launch_s)
    slow = p.gemm_cost(4096, 4096, 4096, "fp16")
    assert preset["model_s"] == pytest.approx(slow.time_s - slow.launch_s)
    assert 1430 / 1830 < at["model_s"] / preset["model_s"] < 1  # compute-bound at 1430 MHz
    ignored = mod.compare(csv_path, "h200", clocks=False)
    assert ignored[0]["model_s"] == preset["model_s"]
    assert mod.at_clock(p, "") is p


def test_the_kernel_harness_samples_the_clock_through_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    """measure_gpu_kernels.py's ``Run.clock``: NVML's SM clock and power sampled while the block
    runs (a stand-in NVML here), their median and minimum in the row; nothing without NVML."""
    import time
    import types

    mod = kernel_harness()
    clocks = iter([1980, 1755, 1500] + [1430] * 10_000)
    fake = types.SimpleNamespace(
        NVML_CLOCK_SM=0, nvmlDeviceGetHandleByIndex=lambda i: "gpu0",
        nvmlDeviceGetClockInfo=lambda h, kind: next(clocks),
        nvmlDeviceGetPowerUsage=lambda h: 690_000)
    monkeypatch.setattr(mod, "_nvml", lambda: fake)
    run = object.__new__(mod.Run)
    run.cuda = True
    with run.clock() as out:
        time.sleep(0.02)
    assert out["sm_mhz_min"] == 1430 and 1430 <= out["sm_mhz"] <= 1980
    assert out["power_w"] == 690.0
    monkeypatch.setattr(mod, "_nvml", lambda: None)
    with run.clock() as out:
        pass
    assert out == {}


def test_the_kernel_harness_records_each_kernels_device_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``Run.kernel_profile``: (name, device us) of each CUDA kernel of one call, in order, from
    the profiler's events (CPU events left out; ``cuda_time`` where an older PyTorch has no
    ``device_time``); ``Run.kernels`` their names. A stand-in profiler here."""
    import contextlib
    import sys
    import types

    mod = kernel_harness()

    def event(name: str, kind: str, **times: float) -> types.SimpleNamespace:
        return types.SimpleNamespace(name=name, device_type=types.SimpleNamespace(name=kind),
                                     **times)

    events = [event("aten::conv2d", "CPU", device_time=0.0),
              event("sm90_xmma_fprop, tile 128x64", "CUDA", device_time=12.5),
              event("vectorized_elementwise_kernel", "CUDA", device_time=None, cuda_time=3.0)]

    @contextlib.contextmanager
    def profile(activities: object) -> object:
        yield types.SimpleNamespace(events=lambda: events)

    fake = types.ModuleType("torch.profiler")
    fake.profile = profile  # type: ignore[attr-defined]
    fake.ProfilerActivity = types.SimpleNamespace(CUDA="cuda")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch.profiler", fake)
    monkeypatch.setitem(sys.modules, "torch", types.ModuleType("torch"))
    run = object.__new__(mod.Run)
    run.cuda = True
    run.sync = lambda: None  # type: ignore[method-assign]
    calls = []
    got = run.kernel_profile(lambda: calls.append(1))
    assert calls == [1]
    assert got == [("sm90_xmma_fprop  tile 128x64", 12.5), ("vectorized_elementwise_kernel", 3.0)]
    assert run.kernels(lambda: None) == "sm90_xmma_fprop  tile 128x64;vectorized_elementwise_kernel"
    assert run.kernel_columns(lambda: None) == {
        "kernels": "sm90_xmma_fprop  tile 128x64;vectorized_elementwise_kernel",
        "kernel_us": "12.50;3.00"}
    run.cuda = False
    assert run.kernel_profile(lambda: None) == [] and run.kernels(lambda: None) == ""
    assert run.kernel_columns(lambda: None) == {"kernels": "", "kernel_us": ""}


def test_compare_skips_the_sustained_runs_copy(tmp_path: Path) -> None:
    """Later sustained.csv files hold an HBM-bound copy beside the GEMMs: not a GEMM, so compare
    leaves it out rather than asking the GEMM model for a dtype "copy"."""
    mod = load_benchmark("measure_gpu_gemm")
    csv_path = tmp_path / "sustained.csv"
    csv_path.write_text("gpu,dtype,n,fill,time_s,tflops\n"
                        "NVIDIA H200,bf16,8192,randn,0.00166,661\n"
                        "NVIDIA H200,copy,1073741824,copy,0.00052,4.1\n")
    rows = mod.compare(csv_path, "h200")
    assert [r["dtype"] for r in rows] == ["bf16"]
