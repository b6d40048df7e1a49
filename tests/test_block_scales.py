"""`systolic_array.block_scales`: MX weights' E8M0 block scales applied in the PE datapath (a
partial-sum shift per block, OCP MX v1.0 Section 6.3) instead of a vector-unit multiply per
block partial sum; other group scales (NF4's fp32) stay on the vector unit."""

from __future__ import annotations

from pathlib import Path

import pytest

import pysim
from pysim.config.units import mx_block_accumulator
from pysim.errors import ConfigError
from pysim.workload import Gemm, Workload

ROOT = Path(__file__).resolve().parent.parent
M, N, K = 64, 128, 1024


def chip(block_scales: str, vector_ops: int | None = None) -> pysim.Hardware:
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml")
    over: dict = {"units.0.float_precisions": [4, 8], "units.0.block_scales": block_scales}
    if vector_ops is not None:
        over["vector.lanes"], over["vector.ops_per_lane_per_cycle"] = vector_ops, 1
    return hw.with_overrides(over)


def gemm(weight_format: str) -> Workload:
    return Workload("g", [Gemm(name="g", inputs=("x",), m=M, n=N, k=K,
                               weight_format=weight_format, act_format="fp8_e4m3")],
                    [{"name": "x", "shape": (M, K), "format": "fp8_e4m3"}])


def test_mx_scales_in_the_datapath_cost_no_vector_work_and_a_shift_per_block():
    vec, dp = (pysim.simulate(chip(b), gemm("mxfp4")) for b in ("vector", "datapath"))
    lv, ld = vec.layers.iloc[0], dp.layers.iloc[0]
    assert lv["vector_ops"] == M * N * (K // 32) and ld["vector_ops"] == 0
    hw = chip("datapath")
    unit, table = hw.units[0], hw.energy_table
    shift = table.shift_pj(unit.float_acc_bits)
    # each product into the block's fixed-point word, not the fp32 accumulator; the block's
    # sum into it once per 32 products, shifted by the block's scale
    op = gemm("mxfp4").ops[0]
    block = mx_block_accumulator(op, unit)
    assert block is not None and block.group == 32
    fp_add = table.add_pj(unit.float_acc_bits, "fp")
    per_product = block.mac_pj(table) + fp_add / 32 - fp_add
    assert (dp.energy_breakdown_j["mac"] - vec.energy_breakdown_j["mac"]) * 1e12 == \
        pytest.approx(M * N * K * (per_product + shift / 32), rel=1e-9)
    assert dp.energy_breakdown_j["vector"] == 0 < vec.energy_breakdown_j["vector"]
    # the same traffic: only where the scales are applied changed
    assert (dp.dram_read_bytes, dp.dram_write_bytes) == (vec.dram_read_bytes,
                                                         vec.dram_write_bytes)


def test_a_narrow_vector_unit_bounds_the_op_only_when_it_applies_the_scales():
    vec = pysim.simulate(chip("vector", vector_ops=1), gemm("mxfp4")).layers.iloc[0]
    dp = pysim.simulate(chip("datapath", vector_ops=1), gemm("mxfp4")).layers.iloc[0]
    assert vec["compute_cycles"] >= M * N * (K // 32)  # one vector op a cycle
    assert dp["compute_cycles"] < vec["compute_cycles"] / 4


def test_non_power_of_two_group_scales_stay_on_the_vector_unit():
    vec, dp = (pysim.simulate(chip(b), gemm("nf4")) for b in ("vector", "datapath"))
    assert dp.layers.iloc[0]["vector_ops"] == vec.layers.iloc[0]["vector_ops"] > 0
    assert dp.energy_j == vec.energy_j


def test_block_scales_bad_value_names_the_field():
    with pytest.raises(ConfigError, match="block_scales"):
        chip("alu")


@pytest.mark.parametrize(("act", "weight", "word"), [
    ("fp8_e4m3", "mxfp8_e4m3", 42), ("mxfp8_e5m2", "mxfp8_e5m2", 64),
    ("mxfp6_e2m3", "mxfp6_e2m3", 18), ("mxfp6_e3m2", "mxfp6_e3m2", 24), ("mxfp4", "mxfp4", 14)])
def test_the_block_word_holds_every_product_of_the_two_formats(act, weight, word):
    """(emax_a + emax_w + 2) - (emin_a - m_a + emin_w - m_w) + log2(32) + a sign: E4M3 products
    span 2^-18 .. 2^18, 36 bits; E5M2's 70 are kept to 64."""
    op = Gemm(name="g", inputs=("x",), m=M, n=N, k=K, weight_format=weight, act_format=act)
    block = mx_block_accumulator(op, chip("datapath").units[0])
    assert block is not None and block.word_bits == word


def test_fixed_point_blocks_make_fp4_far_cheaper_than_fp8():
    """With an fp32 add per product the MAC barely depends on the element format (1.18x fp8 /
    fp4); with each block summed in fixed point, the word's width follows the exponent range:
    MXFP8 (E4M3) costs 2.5x MXFP4 a MAC, against 1.9x (Vmxdotp, arXiv:2603.04979, 843 vs 1632
    GFLOPS/W) and 2.4-2.8x (Cuyckens et al., arXiv:2511.06313, 1438-1675 vs 4065 GOPS/W) for
    whole published MX systems (benchmarks/validate_float_mac_energy.py)."""
    def mac(fmt: str, mode: str) -> float:
        unit, table = chip(mode).units[0], chip(mode).energy_table
        op = Gemm(name="g", inputs=("x",), m=M, n=N, k=K, weight_format=fmt, act_format=fmt)
        return unit.mac_pj(table, op)
    assert mac("mxfp8_e4m3", "vector") / mac("mxfp4", "vector") < 1.3
    assert 2.2 <= mac("mxfp8_e4m3", "datapath") / mac("mxfp4", "datapath") <= 2.9
    assert mac("mxfp8_e4m3", "datapath") < mac("mxfp8_e4m3", "vector")
    # a wider exponent, a wider word: E5M2 dearer than E4M3 though its multiplier is smaller
    assert mac("mxfp8_e5m2", "datapath") > mac("mxfp8_e4m3", "datapath")
