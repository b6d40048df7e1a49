"""`systolic_array.block_scales`: MX weights' E8M0 block scales applied in the PE datapath (a
partial-sum shift per block, OCP MX v1.0 Section 6.3) instead of a vector-unit multiply per
block partial sum; other group scales (NF4's fp32) stay on the vector unit."""

from __future__ import annotations

from pathlib import Path

import pytest

import pysim
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
    shift = hw.energy_table.shift_pj(hw.units[0].float_acc_bits)
    assert (dp.energy_breakdown_j["mac"] - vec.energy_breakdown_j["mac"]) * 1e12 == \
        pytest.approx(M * N * K / 32 * shift, rel=1e-9)
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
