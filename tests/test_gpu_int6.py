"""int5-7 operands on GPU presets (pysim/gpu/bitplane.py): stored at their width in HBM, run
as b1 bit-plane passes (FlexQ / ABQ-LLM) or int8 MMAs after unpacking, whichever is faster;
a GPU with neither b1 nor int8 tensor cores refuses them in one line."""

from __future__ import annotations

import math

import pytest

import pysim
from pysim.gpu import bitplane
from pysim.workload import workload_from_dict


def _gemm(m: int, n: int, k: int, wbits: int = 6, abits: int = 6) -> pysim.Workload:
    return workload_from_dict({
        "name": "g", "inputs": [{"name": "x", "shape": [m, k], "bits": abits, "dtype": "int"}],
        "ops": [{"name": "fc", "type": "gemm", "inputs": ["x"], "m": m, "n": n, "k": k,
                 "dtype": "int", "act_bits": abits, "weight_bits": wbits, "out_bits": 16}]})


def test_int6_tensors_take_ceil_6n_over_8_bytes() -> None:
    wl = workload_from_dict({
        "name": "t", "inputs": [{"name": "x", "shape": [1, 5], "bits": 6, "dtype": "int"}],
        "ops": [{"name": "fc", "type": "gemm", "inputs": ["x"], "m": 1, "n": 3, "k": 5,
                 "dtype": "int", "act_bits": 6, "weight_bits": 6, "out_bits": 16}]})
    assert wl.tensors["x"].bytes == math.ceil(6 * 5 / 8) == 4
    assert wl.ops[0].weight_bytes == math.ceil(6 * 15 / 8) == 12


def test_int6_weights_cross_hbm_at_6_bits_and_tensors_sum_to_totals() -> None:
    k = n = 4096
    r = pysim.simulate(pysim.gpu.preset("a100"), _gemm(1, n, k))
    assert r.layers["tiling"].iloc[0].startswith("bit-plane w6a6: 36 b1 passes")
    weight = r.tensors.set_index("tensor").loc["fc.weight"]
    assert weight["dram_read_bytes"] == math.ceil(6 * k * n / 8) == 12_582_912
    # the rest is A: 6 planes of its one row (the m16 MMA tile's other 15 rows are out of
    # bounds, zero-filled, not fetched: 16 x 4096 bits before that was modelled)
    assert r.dram_read_bytes == 12_582_912 + 6 * k // 8
    assert r.tensors["dram_read_bytes"].sum() == r.dram_read_bytes
    assert r.tensors["dram_write_bytes"].sum() == r.dram_write_bytes
    # today's alternative, int6 held in int8 containers, would read 4/3 of the weight bytes
    w8 = pysim.simulate(pysim.gpu.preset("a100"), _gemm(1, n, k, 8, 8))
    assert w8.tensors.set_index("tensor").loc["fc.weight", "dram_read_bytes"] == k * n


@pytest.mark.parametrize(("wbits", "abits", "passes"), [(6, 6, 36), (6, 8, 48), (5, 7, 35)])
def test_b1_path_issues_one_binary_gemm_per_plane_pair(wbits: int, abits: int,
                                                        passes: int) -> None:
    gpu = pysim.gpu.preset("a100")
    m, n, k = 128, 128, 1024  # stacked a*M x w*N divides the CTA tiles: no padding
    op = _gemm(m, n, k, wbits, abits).ops[0]
    p = bitplane._b1(gpu, op, m, n, k, 1, m * n * 2, 0)
    c = p.cost
    assert p.passes == passes
    assert c.issued_macs == passes * m * n * k  # binary MACs: the passes x the GEMM
    # MMA term: the busiest SM's CTAs x their binary MACs at the b1 rate (8x int8's on A100)
    rate = gpu.macs_per_clk_per_sm("b1") * gpu.boost_clock_mhz * 1e6
    assert gpu.macs_per_clk_per_sm("b1") == 8 * gpu.macs_per_clk_per_sm("int8")
    busiest = math.ceil(c.ctas / gpu.sms) if c.waves == 1 else None
    assert busiest is not None
    assert c.compute_s == pytest.approx(busiest * c.issued_macs / c.ctas / rate, rel=1e-12)
    assert p.time_s >= passes * m * n * k / (gpu.sms * rate)


def test_the_faster_kernel_is_chosen() -> None:
    a100, h100 = pysim.gpu.preset("a100"), pysim.gpu.preset("h100")
    op = _gemm(1, 4096, 4096).ops[0]
    b1 = bitplane._b1(a100, op, 1, 4096, 4096, 1, 8192, 0)
    i8 = bitplane._int8(a100, op, 1, 4096, 4096, 1, 2, None, 0)
    got = bitplane.bitplane_gemm(a100, op, 1, 4096, 4096, 1, 2, None)
    assert got.path == "b1" and got.time_s == min(b1.time_s, i8.time_s)
    big = _gemm(4096, 4096, 4096).ops[0]  # compute-bound: 36 b1 passes = 4.5x int8's MMAs
    assert bitplane.bitplane_gemm(a100, big, 4096, 4096, 4096, 1, 2, None).path == "int8"
    # Hopper has no b1 MMA in pysim's table: the unpacking kernel
    assert bitplane.bitplane_gemm(h100, op, 1, 4096, 4096, 1, 2, None).path == "int8"
    # decode: int6 weights beat int8 ones by their bytes, on either kernel
    for gpu in (a100, h100):
        w6 = pysim.simulate(gpu, _gemm(1, 4096, 4096)).latency_s
        w8 = pysim.simulate(gpu, _gemm(1, 4096, 4096, 8, 8)).latency_s
        assert w6 < w8


def test_int6_on_a_gpu_without_b1_or_int8_is_one_line_error() -> None:
    with pytest.raises(pysim.WorkloadError) as err:
        pysim.simulate(pysim.gpu.preset("v100"), _gemm(1, 64, 64))
    msg = str(err.value)
    assert "\n" not in msg
    assert "'fc'" in msg and "int6" in msg and "b1" in msg and "int8" in msg
    assert msg.endswith("supports fp16")
