"""pysim.area: the TPU v1 config lands near the published die breakdown; areas grow with what
they should and shrink with the node."""

from __future__ import annotations

from pathlib import Path

import pytest

import pysim
from pysim.area import (
    SRAM_BITCELL_UM2,
    area_mm2,
    logic_scale,
    mac_pe_um2,
    sram_bitcell_um2,
    sram_mm2,
)

ROOT = Path(__file__).resolve().parent.parent

# Jouppi et al., ISCA 2017, Figure 2 (floor plan) and Table 2: die < 331 mm² at 28 nm;
# Unified Buffer 29 %, Matrix Multiply Unit 24 %, Accumulators 6 %.
TPU_DIE_MM2 = 331.0
TPU_SHARE = {"unified_buffer": 0.29, "mxu": 0.24, "accumulators": 0.06}


@pytest.fixture(scope="module")
def tpu() -> dict[str, float]:
    return area_mm2(pysim.load_hardware(ROOT / "configs" / "tpu_v1.yaml"))


def test_tpu_v1_buffers_match_the_published_floor_plan(tpu):
    # SRAM comes from published bitcells and the CACTI ~600 F²/bit rule, with no TPU input:
    # pinned at 0.65-1.25 of the floor plan (model: 85 and 14 mm² against ~96 and ~20).
    for name in ("unified_buffer", "accumulators"):
        published = TPU_SHARE[name] * TPU_DIE_MM2
        assert 0.65 * published <= tpu[name] <= 1.25 * published, (name, tpu[name], published)
    assert tpu["unified_buffer"] == pytest.approx(85.2, rel=0.01)


def test_tpu_v1_matrix_unit_is_within_the_stated_gap(tpu):
    # The MAC PE is built from Horowitz's 45 nm adder and multiplier, registers and a 2x layout
    # overhead; it lands ~2.3x below the TPU's MXU (which also handles 16-bit and
    # signed/unsigned operands). Pinned at 0.35-0.6 of the published 24 % so a change that
    # moves it is seen and the docs are updated with it.
    published = TPU_SHARE["mxu"] * TPU_DIE_MM2
    assert 0.35 * published <= tpu["mxu"] <= 0.6 * published


def test_tpu_v1_total_is_below_the_die_and_the_datapath_share(tpu):
    datapath = sum(TPU_SHARE.values()) * TPU_DIE_MM2
    assert 0.55 * datapath <= tpu["total"] <= TPU_DIE_MM2
    assert tpu["total"] == pytest.approx(sum(v for k, v in tpu.items() if k != "total"))


def test_area_grows_with_array_size_and_scratchpad():
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml")
    base = area_mm2(hw)
    assert set(base) == {"mac_array", "vpu", "unified", "total"}
    big = area_mm2(hw.with_overrides({"units.0.rows": 64}))
    assert big["mac_array"] == pytest.approx(2 * base["mac_array"])
    assert big["unified"] == base["unified"]
    more = area_mm2(hw.with_overrides({"scratchpads.0.size_kib": 1024}))
    assert more["unified"] == pytest.approx(2 * base["unified"])
    ported = area_mm2(hw.with_overrides({"scratchpads.0.ports_per_bank": 2}))
    assert ported["unified"] == pytest.approx(1.5 * base["unified"])


def test_node_scaling():
    assert logic_scale(45) == 1.0
    assert logic_scale(22.5) == pytest.approx(0.25)
    for node, cell in SRAM_BITCELL_UM2.items():
        assert sram_bitcell_um2(node) == pytest.approx(cell)
    nodes = [180, 130, 90, 65, 40, 28, 20, 16, 12, 10, 7, 5, 3]
    cells = [sram_bitcell_um2(n) for n in nodes]
    assert all(a >= b for a, b in zip(cells, cells[1:], strict=False))
    assert sram_bitcell_um2(180) == pytest.approx(1.0 * 4)
    assert sram_mm2(2**20, 45) == pytest.approx(8 * 2**20 * 0.346 / 0.3 * 1e-6)


def test_pe_area_grows_with_precision_and_weight_buffering():
    assert mac_pe_um2(4, 4) < mac_pe_um2(8, 8) < mac_pe_um2(16, 16)
    assert mac_pe_um2(8, 8, weight_regs=2) > mac_pe_um2(8, 8)
    assert mac_pe_um2(8, 8, node_nm=16) == pytest.approx(mac_pe_um2(8, 8) * (16 / 45) ** 2)
    # Horowitz: 8-bit multiply 282 µm², 32-bit add 137 µm² at 45 nm; registers 4.52 µm²/bit.
    assert mac_pe_um2(8, 8, 32) == pytest.approx((282 + 137 + 4.52 * 48) * 2)


def test_bit_level_units_have_their_own_area_model():
    import pysim
    from pysim.area import bit_lanes_um2, mac_pe_um2

    hw = pysim.load_hardware(ROOT / "configs" / "lowp_edge.yaml")
    parts = pysim.area_mm2(hw)
    xnor = next(u for u in hw.units if u.kind == "xnor")
    assert parts[xnor.name] == pytest.approx(
        xnor.pe * bit_lanes_um2(xnor.simd, xnor.acc_bits, hw.technology_nm) * 1e-6)
    # a 64-lane 1-bit dot product is far smaller than 64 int8 MAC PEs
    assert bit_lanes_um2(64, 32) < 64 * mac_pe_um2(8, 8) / 4


def test_multiplication_free_pes_price_what_replaces_the_multiplier():
    from pysim.area import MUX2_UM2_45NM, XOR2_UM2_45NM, float_multiplier_um2, int_multiplier_um2

    # int8: an XOR2 per activation bit (ternary); plus min(7, log2 32) = 5 MUX2 stages (shift)
    assert int_multiplier_um2(8, 8, "ternary") == pytest.approx(8 * XOR2_UM2_45NM)
    assert int_multiplier_um2(8, 8, "shift", 32) == pytest.approx(
        8 * 5 * MUX2_UM2_45NM + 8 * XOR2_UM2_45NM)
    assert int_multiplier_um2(8, 8, "ternary") < int_multiplier_um2(8, 8, "shift") \
        < int_multiplier_um2(8, 8, "exact") == pytest.approx(282)
    # L-Mul: fp16's 15 exponent-and-mantissa bits added, against Horowitz's 1640 µm² multiply
    assert float_multiplier_um2(16, "lmul") < 0.1 * float_multiplier_um2(16, "exact")
    assert int_multiplier_um2(8, 8, "lmul") == int_multiplier_um2(8, 8, "exact")
    with pytest.raises(ValueError, match="multiplier must be"):
        int_multiplier_um2(8, 8, "log")


@pytest.mark.parametrize(("multiplier", "overrides"), [
    ("shift", {}), ("ternary", {}),
    ("lmul", {"units.0.float_precisions": [16], "units.0.precisions": []}),
])
def test_multiplication_free_array_is_smaller_and_only_its_pes_change(multiplier, overrides):
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml").with_overrides(overrides)
    exact = area_mm2(hw)
    free = area_mm2(hw.with_overrides({"units.0.multiplier": multiplier}))
    unit = hw.units[0].name
    assert free[unit] < exact[unit]
    assert {k: v for k, v in free.items() if k not in (unit, "total")} == \
        {k: v for k, v in exact.items() if k not in (unit, "total")}
    assert free["total"] == pytest.approx(sum(v for k, v in free.items() if k != "total"))
