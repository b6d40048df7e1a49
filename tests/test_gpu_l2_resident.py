"""A GEMM on a hot L2 (``gemm_cost(..., l2_resident=True)``): A, B, C and split-K's partials
already in the L2, as when a timing loop replays a kernel on buffers that fit it. The closed
form and the CTA-level reference stay equal; the HBM drops out (no HBM bytes, C's stores and the
partials at the L2's bandwidth); a hot L2 is never slower than a cold one and leaves a
compute-bound GEMM's main loop alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings

from pysim import gpu
from tests.example_scripts import load_benchmark
from tests.test_gpu_gemm_model import Case, assert_same, batched_gemms, small_gemms


def check_hot(case: Case) -> None:
    p, m, n, k, dtype, sparse, batch, acc = case
    for tile in p.gemm_candidates(m, n, k, dtype, sparse, batch=batch, acc=acc):
        hot = p.gemm_cost(m, n, k, dtype, sparse, tile=tile, batch=batch, acc=acc,
                          l2_resident=True)
        assert_same(hot, p.simulate_gemm(m, n, k, dtype, sparse, tile=tile, batch=batch,
                                         acc=acc, l2_resident=True))
        cold = p.gemm_cost(m, n, k, dtype, sparse, tile=tile, batch=batch, acc=acc)
        assert hot.hbm_read_bytes == hot.hbm_write_bytes == hot.hbm_s == 0
        assert hot.l2_read_bytes == cold.l2_read_bytes  # the same k-blocks reach the SMs
        assert hot.compute_s == cold.compute_s and hot.smem_s == cold.smem_s
        assert hot.time_s <= cold.time_s * (1 + 1e-12)
    searched = p.gemm_cost(m, n, k, dtype, sparse, batch=batch, acc=acc, l2_resident=True)
    assert_same(searched, p.simulate_gemm(m, n, k, dtype, sparse, batch=batch, acc=acc,
                                          l2_resident=True))


@settings(max_examples=60, deadline=None)
@given(small_gemms())
def test_hot_closed_form_matches_reference_every_candidate(case: Case) -> None:
    check_hot(case)


@settings(max_examples=30, deadline=None)
@given(batched_gemms())
def test_hot_closed_form_matches_reference_on_large_batches(case: Case) -> None:
    check_hot(case)


def test_a_gemv_on_a_hot_l2_runs_at_the_l2s_rate() -> None:
    """A decode-shaped GEMV is HBM-bound cold; hot, its weights stream from the L2 instead and
    the kernel is bound by the L2 (or shared memory), faster by up to the bandwidth ratio."""
    p = gpu.preset("h200")
    cold = p.gemm_cost(8, 4096, 4096, "fp16")
    hot = p.gemm_cost(8, 4096, 4096, "fp16", l2_resident=True)
    assert cold.bound == "hbm" and hot.bound in ("l2", "smem", "compute")
    l2_bw = p.l2_bandwidth_bytes_per_clk * p.boost_clock_mhz * 1e6
    assert l2_bw > p.hbm_sustained_gb_per_s * 1e9
    assert hot.mainloop_s < cold.mainloop_s
    assert cold.mainloop_s / hot.mainloop_s <= l2_bw / (p.hbm_sustained_gb_per_s * 1e9) * 1.01


def test_a_split_k_reduction_stays_in_the_l2() -> None:
    p = gpu.preset("h200")
    cold = p.gemm_cost(128, 128, 65536, "fp16")
    assert cold.split_k > 1
    hot = p.gemm_cost(128, 128, 65536, "fp16", tile=(cold.tile_m, cold.tile_n, cold.tile_k,
                                                      cold.split_k), l2_resident=True)
    assert 0 < hot.reduction_s - hot.launch_s < cold.reduction_s - cold.launch_s


@pytest.mark.parametrize("bad", [1, 0, "yes", None])
def test_l2_resident_must_be_a_bool(bad: object) -> None:
    with pytest.raises(ValueError, match="l2_resident must be True or False, got"):
        gpu.preset("h200").gemm_cost(64, 64, 64, "fp16", l2_resident=bad)  # type: ignore[arg-type]


def test_compare_models_a_replayed_gemm_that_fits_half_the_l2_hot(tmp_path: Path) -> None:
    """benchmarks/measure_gpu_gemm.py: a timing loop replays each kernel on the same buffers,
    so a row whose A, B and C fit half the L2 (one partition) is modelled hot, a larger one
    cold."""
    mod = load_benchmark("measure_gpu_gemm")
    p = gpu.preset("h200")
    csv_path = tmp_path / "k.csv"
    csv_path.write_text("gpu,dtype,m,n,k,time_s,tflops\n"
                        "NVIDIA H200,fp16,8,4096,4096,1e-5,0\n"  # 32 MiB + 64 KiB: cold
                        "NVIDIA H200,fp8_e4m3,8,4096,4096,1e-5,0\n")  # 16 MiB: hot
    big, small = mod.compare(csv_path, "h200")
    assert mod.footprint_bytes(big) > p.l2_kb * 1024 // 2 >= mod.footprint_bytes(small)
    cold = p.gemm_cost(8, 4096, 4096, "fp16")
    assert big["model_s"] == pytest.approx(cold.time_s - cold.launch_s * (1 + (cold.split_k > 1)))
    hot = p.gemm_cost(8, 4096, 4096, "fp8_e4m3", l2_resident=True)
    assert small["model_s"] == pytest.approx(hot.time_s - hot.launch_s * (1 + (hot.split_k > 1)))
