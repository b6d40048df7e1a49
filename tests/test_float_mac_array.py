"""Float MAC arrays on accelerators (issue 14): a systolic array whose PEs multiply fp8 / bf16
/ fp16 operands (``float_precisions``) and accumulate in ``float_acc_bits``."""

from __future__ import annotations

from pathlib import Path

import pytest

import pysim
from pysim.workload import workload_from_dict

ROOT = Path(__file__).resolve().parents[1]


def gemm(bits: int, dtype: str, m: int = 512) -> pysim.Workload:
    return workload_from_dict({
        "name": f"{dtype}{bits}", "inputs": [{"name": "x", "shape": [m, 512], "bits": bits,
                                              "dtype": dtype}],
        "ops": [{"name": "fc", "type": "gemm", "inputs": ["x"], "m": m, "n": 512, "k": 512,
                 "weight_bits": bits, "act_bits": bits, "dtype": dtype}]})


def npu(**unit: object) -> pysim.Hardware:
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml")
    return hw.with_overrides({f"units.0.{k}": v for k, v in unit.items()})


def test_an_int_array_refuses_float_ops_naming_what_it_runs() -> None:
    with pytest.raises(pysim.WorkloadError, match=r"no unit supports.*int operands up to 8"):
        pysim.simulate(npu(), gemm(16, "float"))


def test_a_float_array_runs_float_ops_at_one_mac_per_pe_per_cycle() -> None:
    hw = npu(float_precisions=[16])
    fp16, int8 = pysim.simulate(hw, gemm(16, "float")), pysim.simulate(hw, gemm(8, "int"))
    assert fp16.macs == int8.macs
    # the same array timing (a MAC per PE per cycle); fp16 operands move twice the bytes,
    # through the scratchpad's ports too (the array then waits on them: port stalls)
    def array(r: pysim.Result) -> float:
        return float(r.layers["compute_cycles"].iloc[0] - r.layers["port_stall_cycles"].iloc[0])

    assert array(fp16) == pytest.approx(array(int8), rel=0.25)
    assert fp16.layers["port_stall_cycles"].iloc[0] >= int8.layers["port_stall_cycles"].iloc[0]
    assert fp16.dram_read_bytes > int8.dram_read_bytes
    # priced as a float multiply and an fp32 add, above the int8 MAC
    table = hw.energy_table
    assert fp16.energy_breakdown_j["mac"] == pytest.approx(
        fp16.macs * table.mac_pj(16, 16, "fp", 32) * 1e-12, rel=1e-9)
    assert fp16.energy_breakdown_j["mac"] > 3 * int8.energy_breakdown_j["mac"]


def test_fp8_is_cheaper_than_fp16_and_a_float_only_array_is_allowed() -> None:
    hw = npu(precisions=[], float_precisions=[8, 16])
    fp8, fp16 = pysim.simulate(hw, gemm(8, "float")), pysim.simulate(hw, gemm(16, "float"))
    assert fp8.energy_breakdown_j["mac"] < fp16.energy_breakdown_j["mac"]
    assert fp8.latency_cycles <= fp16.latency_cycles
    with pytest.raises(pysim.WorkloadError, match="no unit supports"):
        pysim.simulate(hw, gemm(8, "int"))


def named(fmt: str, m: int = 512) -> pysim.Workload:
    return workload_from_dict({
        "name": fmt, "inputs": [{"name": "x", "shape": [m, 512], "format": fmt}],
        "ops": [{"name": "fc", "type": "gemm", "inputs": ["x"], "m": m, "n": 512, "k": 512,
                 "weight_format": fmt, "act_format": fmt}]})


def test_a_named_float_format_prices_its_mantissa_not_only_its_width() -> None:
    """bf16 and fp16 are both 16 bits; bf16's 7-bit mantissa multiplier costs less than
    fp16's 10-bit one at the same cycles (Wang & Kanwar 2019: a multiplier's size goes with
    the square of the mantissa width). A float op that names no format is IEEE's fp16 at 16
    bits, as before. An MX format's elements multiply as their element format."""
    hw = npu(float_precisions=[4, 6, 8, 16])
    table = hw.energy_table
    bf16, fp16, bare = (pysim.simulate(hw, w) for w in (named("bf16"), named("fp16"),
                                                          gemm(16, "float")))
    assert bf16.latency_cycles == fp16.latency_cycles
    acc = table.add_pj(hw.units[0].float_acc_bits, "fp")
    assert bf16.energy_breakdown_j["mac"] == pytest.approx(
        bf16.macs * (table.float_mult_pj((8, 7), (8, 7)) + acc) * 1e-12, rel=1e-9)
    assert bf16.energy_breakdown_j["mac"] < 0.9 * fp16.energy_breakdown_j["mac"]
    assert fp16.energy_breakdown_j["mac"] == pytest.approx(bare.energy_breakdown_j["mac"])
    e4m3, mx = pysim.simulate(hw, named("fp8_e4m3")), pysim.simulate(hw, named("mxfp8_e4m3"))
    assert mx.energy_breakdown_j["mac"] == pytest.approx(e4m3.energy_breakdown_j["mac"])
    e5m2 = pysim.simulate(hw, named("fp8_e5m2"))
    assert e5m2.energy_breakdown_j["mac"] < e4m3.energy_breakdown_j["mac"]


def test_partial_sums_are_float_acc_bits_wide() -> None:
    narrow = pysim.simulate(npu(float_precisions=[16], float_acc_bits=16), gemm(16, "float"))
    wide = pysim.simulate(npu(float_precisions=[16], float_acc_bits=32), gemm(16, "float"))
    assert narrow.energy_breakdown_j["mac"] < wide.energy_breakdown_j["mac"]
    assert narrow.energy_j < wide.energy_j


def test_float_pes_cost_area() -> None:
    base = pysim.area_mm2(npu())["mac_array"]
    both = pysim.area_mm2(npu(float_precisions=[16]))["mac_array"]
    only = pysim.area_mm2(npu(precisions=[], float_precisions=[16]))["mac_array"]
    assert both > only > 0 and both > base


@pytest.mark.parametrize(("fields", "path", "allowed"), [
    ({"precisions": [], "float_precisions": []}, "precisions", "float_precisions"),
    ({"float_precisions": [16], "float_acc_bits": 8}, "float_acc_bits", ">= the widest"),
    ({"float_precisions": [64]}, "float_precisions", "<= 32"),
])
def test_bad_float_fields_name_the_field(fields: dict, path: str, allowed: str) -> None:
    with pytest.raises(pysim.ConfigError, match=path) as info:
        npu(**fields)
    assert allowed in str(info.value)
