"""GPU GEMM time model: the closed form (`gpu_gemm_cost`) against the step-level reference
(`gpu_gemm_simulate`, CTA by CTA and k-block by k-block), and physical sanity.

The reference launches every CTA onto an SM slot, walks its k-blocks and each warp's MMA
instructions and operand fetches, and collects the distinct panels of each wave in sets; every
count and time must equal the closed form for every candidate tile, on random shapes, with the
L2 large enough or too small, dense or 2:4 sparse.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pysim import gpu

INT_FIELDS = (
    "tile_m", "tile_n", "tile_k", "split_k", "stages", "ctas", "ctas_per_sm", "waves",
    "last_wave_ctas", "macs", "issued_macs", "mma_instructions", "smem_read_bytes",
    "l2_read_bytes", "hbm_read_bytes", "hbm_write_bytes", "metadata_bytes", "bound",
)
FLOAT_FIELDS = (
    "wave_efficiency", "compute_s", "smem_s", "l2_s", "hbm_s", "mainloop_s", "epilogue_s",
    "reduction_s", "launch_s", "time_s", "tflops", "utilization",
)


def assert_same(closed: object, stepped: object) -> None:
    c, s = closed.to_dict(), stepped.to_dict()  # type: ignore[attr-defined]
    for f in INT_FIELDS:
        assert c[f] == s[f], f
    for f in FLOAT_FIELDS:
        assert c[f] == pytest.approx(s[f], rel=1e-12, abs=0), f


@st.composite
def small_gemms(draw: st.DrawFn) -> tuple[gpu.GpuPreset, int, int, int, str, bool]:
    name = draw(st.sampled_from(["v100", "a100", "h100"]))
    p = gpu.preset(name)
    # Few SMs and sometimes a tiny L2: many (partial) waves and the L2-miss regime.
    p = p.replace(
        sms=draw(st.integers(1, 12)),
        l2_kb=draw(st.sampled_from([p.l2_kb, 64, 4])),
    )
    dtype = draw(st.sampled_from(p.supported_dtypes()))
    sparse = draw(st.booleans()) and dtype in p.supported_dtypes(sparse=True)
    m = draw(st.integers(1, 700))
    n = draw(st.integers(1, 700))
    k = draw(st.integers(1, 1500))
    return p, m, n, k, dtype, sparse


@settings(max_examples=60, deadline=None)
@given(small_gemms())
def test_closed_form_matches_reference_every_candidate(
    case: tuple[gpu.GpuPreset, int, int, int, str, bool],
) -> None:
    p, m, n, k, dtype, sparse = case
    tiles = p.gemm_candidates(m, n, k, dtype, sparse)
    assert tiles
    for tile in tiles:
        closed = p.gemm_cost(m, n, k, dtype, sparse, tile=tile)
        stepped = p.simulate_gemm(m, n, k, dtype, sparse, tile=tile)
        assert_same(closed, stepped)


@pytest.mark.parametrize(
    ("name", "m", "n", "k", "dtype", "sparse"),
    [
        ("a100", 1000, 700, 300, "fp16", False),
        ("a100", 512, 512, 2048, "int8", True),
        ("h100", 300, 900, 1000, "fp8", True),
        ("v100", 640, 384, 256, "fp16", False),
        ("a100", 64, 64, 8192, "tf32", False),
    ],
)
def test_search_picks_the_same_configuration(
    name: str, m: int, n: int, k: int, dtype: str, sparse: bool
) -> None:
    p = gpu.preset(name)
    closed = p.gemm_cost(m, n, k, dtype, sparse)
    stepped = p.simulate_gemm(m, n, k, dtype, sparse)
    assert_same(closed, stepped)
    assert closed.candidates == stepped.candidates == len(p.gemm_candidates(m, n, k, dtype, sparse))
    assert closed.time_s == min(
        p.gemm_cost(m, n, k, dtype, sparse, tile=t).time_s
        for t in p.gemm_candidates(m, n, k, dtype, sparse)
    )


@pytest.mark.parametrize(
    ("name", "dtype"),
    [("v100", "fp16"), ("a100", "fp16"), ("a100", "int8"), ("h100", "fp16"), ("h100", "fp8"),
     ("h100", "int8")],
)
def test_time_never_beats_peak_and_large_gemms_approach_it(name: str, dtype: str) -> None:
    p = gpu.preset(name)
    c = p.gemm_cost(8192, 8192, 8192, dtype)
    peak_s = 2 * 8192**3 / (p.peak_tflops(dtype) * 1e12)
    assert c.time_s >= peak_s
    assert c.utilization <= 1.0
    assert c.utilization > 0.6, c.to_dict()


def test_4096_cube_fp16_is_plausible() -> None:
    # cuBLAS reaches roughly 250-290 TFLOPS on A100 and 600-800 on H100 SXM for 4096^3 fp16;
    # the model must land in the same neighbourhood and below the peak.
    a100 = gpu.preset("a100").gemm_cost(4096, 4096, 4096, "fp16")
    h100 = gpu.preset("h100").gemm_cost(4096, 4096, 4096, "fp16")
    v100 = gpu.preset("v100").gemm_cost(4096, 4096, 4096, "fp16")
    assert 220 < a100.tflops < 312
    assert 550 < h100.tflops < 989
    assert 80 < v100.tflops < 125
    assert a100.macs == 4096**3


def test_tiny_gemm_is_launch_bound() -> None:
    p = gpu.preset("a100")
    c = p.gemm_cost(16, 16, 16)
    assert c.launch_s == pytest.approx(4e-6)
    assert p.launch_overhead_us * 1e-6 <= c.time_s < 2 * p.launch_overhead_us * 1e-6
    assert p.replace(launch_overhead_us=0).gemm_time(16, 16, 16) < 1e-6


def test_wave_quantization_steps() -> None:
    # One CTA more than fills a wave costs a whole extra wave of the chosen tile.
    p = gpu.preset("a100")
    tile = (256, 128, 32, 1)  # one CTA per SM (its accumulators fill half the register file)
    c1 = p.gemm_cost(256 * 108, 128, 4096, tile=tile)  # 108 CTAs: one full wave
    c2 = p.gemm_cost(256 * 109, 128, 4096, tile=tile)  # 109 CTAs: a second wave of one
    assert (c1.ctas_per_sm, c1.waves, c2.waves, c2.last_wave_ctas) == (1, 1, 2, 1)
    assert c2.compute_s == pytest.approx(2 * c1.compute_s)
    assert c2.wave_efficiency == pytest.approx(109 / 216)
    # With two CTAs per SM, a wave of one CTA per SM takes half as long as a full one.
    half = (128, 128, 32, 1)
    full = p.gemm_cost(128 * 216, 128, 4096, tile=half)
    more = p.gemm_cost(128 * 216 + 108 * 128, 128, 4096, tile=half)
    assert (full.ctas_per_sm, full.waves, more.waves) == (2, 1, 2)
    assert more.compute_s == pytest.approx(1.5 * full.compute_s)


def test_split_k_for_skinny_shapes() -> None:
    # 128 x 128 output, K = 65536: a handful of CTAs unless K is split.
    c = gpu.preset("a100").gemm_cost(128, 128, 65536)
    assert c.split_k > 1
    assert c.reduction_s > 0
    assert c.time_s < gpu.preset("a100").gemm_cost(128, 128, 65536, tile=(128, 128, 32, 1)).time_s


def test_sparse_is_faster_when_compute_bound_and_reads_metadata() -> None:
    p = gpu.preset("a100")
    dense = p.gemm_cost(8192, 8192, 8192, "fp16")
    sparse = p.gemm_cost(8192, 8192, 8192, "fp16", sparse=True)
    assert 1.3 < dense.time_s / sparse.time_s <= 2.0
    assert sparse.metadata_bytes == 8192 * 4096 * 2 // 8  # 2 bits per kept value
    assert sparse.macs == dense.macs


def test_memory_bound_gemv_like_shape() -> None:
    # M = 1: every byte of B must come from HBM at least once.
    p = gpu.preset("h100")
    c = p.gemm_cost(1, 8192, 8192, "fp16")
    assert c.hbm_read_bytes >= 8192 * 8192 * 2
    assert c.time_s >= 8192 * 8192 * 2 / (p.hbm_bandwidth_gb_per_s * 1e9)


def test_cost_fields_are_consistent() -> None:
    p = gpu.preset("h100")
    c = p.gemm_cost(3000, 5000, 7000, "bf16")
    d = c.to_dict()
    assert d["time_s"] == pytest.approx(
        d["launch_s"] + d["mainloop_s"] + d["epilogue_s"] + d["reduction_s"]
    )
    assert d["mainloop_s"] >= max(d["compute_s"], d["smem_s"], d["l2_s"], d["hbm_s"])
    assert d["mainloop_s"] <= d["compute_s"] + d["smem_s"] + d["l2_s"] + d["hbm_s"]
    assert d["ctas"] == math.ceil(3000 / d["tile_m"]) * math.ceil(5000 / d["tile_n"]) * d["split_k"]
    assert d["waves"] == math.ceil(d["ctas"] / (p.sms * d["ctas_per_sm"]))
    assert d["issued_macs"] >= d["macs"]
    assert d["bound"] in ("compute", "smem", "l2", "hbm")
    assert d["tflops"] == pytest.approx(2 * d["macs"] / d["time_s"] / 1e12)
    assert p.gemm_time(3000, 5000, 7000, "bf16") == c.time_s


def test_bigger_l2_or_bandwidth_never_slower() -> None:
    p = gpu.preset("v100")
    base = p.gemm_time(4096, 4096, 4096)
    assert p.replace(hbm_bandwidth_gb_per_s=1800.0).gemm_time(4096, 4096, 4096) <= base
    assert p.replace(l2_kb=p.l2_kb * 8).gemm_time(4096, 4096, 4096) <= base
    assert p.replace(l2_kb=4).gemm_time(4096, 4096, 4096) >= base


@pytest.mark.parametrize(
    ("name", "dtype", "rows"),
    [("a100", "fp16", 16), ("a100", "int8", 16), ("h100", "bf16", 16), ("h100", "fp8", 16),
     ("v100", "fp16", 64)],
)
def test_decode_gemm_uses_the_narrowest_tile_that_exists(name: str, dtype: str, rows: int) -> None:
    # CUTLASS has 16- and 32-wide tiles on sm80 / sm90 (tensor_core.cpp cites them), none
    # narrower than 64 on sm70: a one-row GEMM is not padded to a 64- or 128-row tile where a
    # narrower one fits, and pads less C than the 64-row tile would.
    p = gpu.preset(name)
    tiles = {t[:2] for t in p.gemm_candidates(1, 8192, 8192, dtype)}
    assert min(bm for bm, _ in tiles) == rows
    assert {(256, 64), (64, 256)} <= tiles
    c = p.gemm_cost(1, 8192, 8192, dtype)
    assert c.tile_m == rows
    padded = p.gemm_cost(1, 8192, 8192, dtype, tile=(64, 128, c.tile_k, 1))
    assert c.hbm_write_bytes <= padded.hbm_write_bytes
    assert c.time_s <= padded.time_s
    # and the N = 1 orientation (C^T of the same product) on the architectures that have it
    if rows < 64:
        assert p.gemm_cost(8192, 1, 8192, dtype).tile_n == rows
