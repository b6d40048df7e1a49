"""The energy table: its numbers equal their published sources, the interpolations pass
through those numbers, and technology scaling follows the documented rule."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pysim.config import EnergyTable, load_energy_table, load_hardware, vdd_at
from pysim.config.energy_table import BUILTIN_TABLES, REQUIRED_ENTRIES
from pysim.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
T = load_energy_table("45nm")

# Horowitz, ISSCC 2014 (45 nm, 0.9 V), and Chen et al., ISCA 2016 for the RF ratio.
PUBLISHED = {
    "int8_add_pj": 0.03, "int32_add_pj": 0.1, "int8_mult_pj": 0.2, "int32_mult_pj": 3.1,
    "fp16_add_pj": 0.4, "fp16_mult_pj": 1.1, "fp32_add_pj": 0.9, "fp32_mult_pj": 3.7,
    "sram_8kib_read_64b_pj": 10.0, "sram_32kib_read_64b_pj": 20.0,
    "sram_1mib_read_64b_pj": 100.0, "dram_read_64b_low_pj": 1300.0,
    "dram_read_64b_high_pj": 2600.0, "rf_access_per_mac16": 1.0,
}


def test_table_values_equal_their_sources() -> None:
    assert (T.technology_nm, T.vdd_v) == (45, 0.9)
    for name, value in PUBLISHED.items():
        assert T.value(name) == value, name
        assert T.entries[name].source.strip(), name
    for name in PUBLISHED:
        source = T.entries[name].source
        assert "Horowitz" in source or "Chen et al." in source, name
    for name in ("sram_leakage_mw_per_kib", "pe_leakage_mw"):
        assert "ASSUMPTION" in T.entries[name].source
    assert set(REQUIRED_ENTRIES) <= set(T.entries)


def test_packaged_table_is_the_configs_copy() -> None:
    shipped = (ROOT / "configs" / "energy" / "45nm.yaml").read_bytes()
    assert BUILTIN_TABLES["45nm"].read_bytes() == shipped
    assert load_energy_table(ROOT / "configs" / "energy" / "45nm.yaml") == T


def test_mac_is_multiply_plus_accumulate_add() -> None:
    assert T.mac_pj(8, 8) == T.value("int8_mult_pj") + T.value("int32_add_pj")
    assert T.mac_pj(8, 8) == pytest.approx(0.3)
    assert T.mac_pj(32, 32) == T.value("int32_mult_pj") + T.value("int32_add_pj")
    assert T.mac_pj(8, 8, acc_bits=8) == T.value("int8_mult_pj") + T.value("int8_add_pj")
    assert T.mac_pj(16, 16, kind="fp") == T.value("fp16_mult_pj") + T.value("fp32_add_pj")
    assert T.mac_pj(32, 32, kind="fp") == T.value("fp32_mult_pj") + T.value("fp32_add_pj")


def test_interpolation_is_a_power_law_through_the_points() -> None:
    # 16 bits and a 16x16 product are the geometric midpoints of the table's points.
    assert T.add_pj(16) == pytest.approx(math.sqrt(0.03 * 0.1))
    assert T.mult_pj(16, 16) == pytest.approx(math.sqrt(0.2 * 3.1))
    assert T.mult_pj(8, 32) == T.mult_pj(16, 16)  # same product of widths
    assert T.mult_pj(8, 32, kind="fp") == T.value("fp32_mult_pj")  # fp: the wider operand
    assert T.add_pj(24, kind="fp") == pytest.approx(0.4 * (24 / 16) ** math.log2(0.9 / 0.4))


def test_sram_access_interpolates_log_log_and_scales_with_word_width() -> None:
    assert T.sram_access_pj(8 * 1024, 64) == 10.0
    assert T.sram_access_pj(32 * 1024, 64) == 20.0
    assert T.sram_access_pj(1024 * 1024, 64) == 100.0
    assert T.sram_access_pj(16 * 1024, 64) == pytest.approx(math.sqrt(10 * 20))
    assert T.sram_access_pj(32 * 1024, 128) == 40.0
    assert T.sram_access_pj(32 * 1024, 16) == 5.0
    assert T.sram_access_pj(2 * 1024, 64) == pytest.approx(10 / 2)  # first segment extended


@given(st.floats(min_value=64, max_value=2**31), st.floats(min_value=1.0001, max_value=100))
def test_sram_energy_is_monotone_in_size(size: float, ratio: float) -> None:
    assert T.sram_access_pj(size * ratio, 64) > T.sram_access_pj(size, 64)


@given(st.integers(1, 63), st.integers(1, 64), st.sampled_from(["int", "fp"]))
def test_mac_energy_is_monotone_in_width(bits: int, other: int, kind: str) -> None:
    assert T.mac_pj(bits + 1, other, kind) >= T.mac_pj(bits, other, kind)
    assert T.add_pj(bits + 1, kind) > T.add_pj(bits, kind)


FP16, FP32, BF16, TF32 = (5, 10), (8, 23), (8, 7), (8, 10)
E4M3, E5M2, E2M1 = (4, 3), (5, 2), (2, 1)


def test_float_multiply_by_fields_passes_through_horowitz_and_prices_the_mantissa() -> None:
    """The gate-count multiplier is Horowitz's at fp16 and fp32; between and below them a
    narrow mantissa costs less than its width suggests (bf16 below fp16, E5M2 below E4M3)."""
    assert T.float_mult_pj(FP16, FP16) == pytest.approx(1.1, rel=1e-12)
    assert T.float_mult_pj(FP32, FP32) == pytest.approx(3.7, rel=1e-12)
    bf16 = T.float_mult_pj(BF16, BF16)
    assert bf16 == pytest.approx(0.844, abs=1e-3)  # the docstring's figure
    assert bf16 < T.float_mult_pj(FP16, FP16) < T.float_mult_pj(TF32, TF32)
    e4m3, e5m2 = T.float_mult_pj(E4M3, E4M3), T.float_mult_pj(E5M2, E5M2)
    assert e5m2 < e4m3 < bf16
    assert e4m3 == pytest.approx(0.350, abs=1e-3)
    # an fp8 multiplier costs more than an int8 one (exponent add, normalisation), fp4 less
    assert T.value("int8_mult_pj") < e5m2
    assert T.float_mult_pj(E2M1, E2M1) < T.value("int8_mult_pj")
    # mixed operands: between the two formats' own products
    assert e4m3 < T.float_mult_pj(E4M3, BF16) < bf16


@given(st.integers(0, 8), st.integers(0, 16), st.integers(0, 8), st.integers(0, 16))
def test_float_multiply_is_monotone_in_exponent_and_mantissa(e: int, m: int, de: int,
                                                             dm: int) -> None:
    if e + m < 1:
        return
    small = T.float_mult_pj((e, m), (e, m))
    assert small <= T.float_mult_pj((e + de, m + dm), (e + de, m + dm))
    assert small <= T.float_mult_pj((e, m), (e + de, m + dm))


def test_float_multiply_scales_with_the_table() -> None:
    """Fit to the table's own fp16 / fp32 entries: a scaled table scales it by the same
    factor, and an override of either anchor moves it."""
    scaled = T.scaled_to(7)
    factor = scaled.value("fp16_mult_pj") / T.value("fp16_mult_pj")
    assert scaled.float_mult_pj(BF16, BF16) == pytest.approx(
        factor * T.float_mult_pj(BF16, BF16), rel=1e-12)
    bumped = T.with_overrides({"fp16_mult_pj": 2.2, "fp32_mult_pj": 7.4})
    assert bumped.float_mult_pj(E4M3, E4M3) == pytest.approx(2 * T.float_mult_pj(E4M3, E4M3))


def test_register_file_vector_dram_and_leakage() -> None:
    assert T.rf_access_pj(16) == T.mac_pj(16, 16)  # Eyeriss: RF ~ 1x a 16-bit MAC
    assert T.rf_access_pj(8) == pytest.approx(T.rf_access_pj(16) / 2)
    assert T.vector_op_pj(16) == pytest.approx(1.1 + 0.4)
    assert T.vector_op_pj(32, kind="int") == pytest.approx(3.1 + 0.1)
    assert T.dram_pj_per_bit() == (1300 + 2600) / 2 / 64
    assert T.bound_to_dram(5.0).dram_pj_per_bit() == 5.0
    assert T.leakage_mw(sram_kib=100, pes=10) == pytest.approx(100 * 0.05 + 10 * 0.002)
    assert T.leakage_mw() == 0


def test_scaled_to_own_node_is_identity() -> None:
    assert T.scaled_to(45) == T
    assert T.scaled_to(45.0).mac_pj(8, 8) == T.mac_pj(8, 8)


@pytest.mark.parametrize("node", [65, 28, 16, 7, 25])
def test_scaling_rule(node: float) -> None:
    scaled = T.scaled_to(node)
    vdd = vdd_at(node)
    dynamic = node / 45 * (vdd / 0.9) ** 2
    leakage = node / 45 * (vdd / 0.9)
    assert scaled.technology_nm == node and scaled.vdd_v == vdd
    assert scaled.value("int8_mult_pj") == pytest.approx(0.2 * dynamic)
    assert scaled.mac_pj(8, 8) == pytest.approx(T.mac_pj(8, 8) * dynamic)
    assert scaled.sram_access_pj(5000, 32) == pytest.approx(T.sram_access_pj(5000, 32) * dynamic)
    assert scaled.value("pe_leakage_mw") == pytest.approx(0.002 * leakage)
    assert scaled.dram_pj_per_bit() == T.dram_pj_per_bit()  # off-chip: not scaled
    assert scaled.value("rf_access_per_mac16") == 1.0  # a ratio: not scaled
    back = scaled.scaled_to(45)
    assert back.value("fp32_mult_pj") == pytest.approx(3.7)


def test_vdd_table() -> None:
    assert vdd_at(45) == 0.9 and vdd_at(16) == 0.8 and vdd_at(180) == 1.8
    assert 0.8 < vdd_at(25) < 0.9
    for node in (2, 250):
        with pytest.raises(ValueError, match="3..180"):
            vdd_at(node)


def test_hardware_binds_scaled_table_overrides_and_dram() -> None:
    hw = load_hardware(ROOT / "configs" / "edge_npu.yaml")
    table = hw.energy_table
    assert table.technology_nm == 16
    assert table.mac_pj(8, 8) == pytest.approx(T.scaled_to(16).mac_pj(8, 8))
    assert table.dram_pj_per_bit() == hw.dram.energy_pj_per_bit == 5.0
    pad = hw.scratchpads[0]
    assert pad.read_pj(table) == table.sram_access_pj(512 * 1024, 128)
    eyeriss = load_hardware(ROOT / "configs" / "eyeriss.yaml")
    spads = eyeriss.for_operand("weight")
    assert spads.read_pj(eyeriss.energy_table) == 1.58
    assert spads.read_energy_pj == pytest.approx(eyeriss.energy_table.rf_access_pj(16), rel=0.01)


@pytest.mark.parametrize(("call", "match"), [
    (lambda: T.mac_pj(0, 8), "weight_bits"),
    (lambda: T.mac_pj(8, 65), "act_bits"),
    (lambda: T.mac_pj(8, 8, kind="bf"), "kind"),
    (lambda: T.add_pj(8, kind="posit"), "kind"),
    (lambda: T.sram_access_pj(0, 64), "size_bytes"),
    (lambda: T.sram_access_pj(1024, 0), "word_bits"),
    (lambda: T.leakage_mw(sram_kib=-1), "sram_kib"),
    (lambda: T.with_overrides({"int9_add_pj": 1.0}), "int9_add_pj"),
    (lambda: T.with_overrides({"int8_add_pj": -1.0}), "int8_add_pj"),
    (lambda: T.scaled_to(1), "3..180"),
    (lambda: T.float_mult_pj((0, 0), (5, 10)), "w must be"),
    (lambda: T.float_mult_pj((5, 10), (17, 2)), "a must be"),
])
def test_bad_arguments_raise_value_error(call: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()  # type: ignore[operator]


def test_bad_table_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="neither a built-in table"):
        load_energy_table(tmp_path / "none.yaml")
    text = (ROOT / "configs" / "energy" / "45nm.yaml").read_text()
    short = tmp_path / "short.yaml"
    short.write_text(text.replace("  pe_leakage_mw:", "  pe_leakage:"))
    with pytest.raises(ConfigError, match=rf"entries lacks entries \['pe_leakage_mw'\].*{short}"):
        load_energy_table(short)
    unsourced = tmp_path / "unsourced.yaml"
    unsourced.write_text(text.replace(
        'source: "Horowitz, ISSCC 2014: 8-bit integer add, 0.03 pJ"', 'source: ""'))
    with pytest.raises(ConfigError, match=r"entries\.int8_add_pj\.source"):
        load_energy_table(unsourced)


def test_with_overrides_replaces_values_and_marks_them() -> None:
    table = T.with_overrides({"int8_mult_pj": 0.5})
    assert isinstance(table, EnergyTable)
    assert table.mac_pj(8, 8) == 0.5 + 0.1
    assert table.entries["int8_mult_pj"].source == "user override"
    assert T.value("int8_mult_pj") == 0.2  # the original is untouched


def test_the_float_mac_validation_script_prints_its_published_figures() -> None:
    """benchmarks/validate_float_mac_energy.py: the anchors at 1.00, the significand arrays
    within 15 % of Google's "half" and "eight times", and an fp8 MAC below the DHFP-PE's
    whole PE (its registers are booked elsewhere in pysim) but within 0.6-1.0 of it."""
    from tests.example_scripts import load_benchmark

    got = {case: ours / published for case, ours, published, _ in
           load_benchmark("validate_float_mac_energy").rows()}
    assert got["fp16 multiply, pJ (45 nm)"] == pytest.approx(1.0)
    assert got["fp32 multiply, pJ (45 nm)"] == pytest.approx(1.0)
    assert 0.85 < got["bf16 / fp16 significand array"] < 1.15
    assert 0.85 < got["fp32 / bf16 significand array"] < 1.15
    assert 0.6 < got["fp8 E4M3 MAC + fp32 add, pJ (28 nm)"] < 1.0
    # MX-native fixed-point blocks: MXFP8 / MXFP4 between the two published MX systems'
    # ratios (1.94 and 2.43-2.83); an fp32 add per product would give under half of the latter
    assert 0.85 < got["MXFP8 / MXFP4 MAC (Cuyckens)"] < 1.15
    assert 1.0 < got["MXFP8 / MXFP4 MAC (Vmxdotp)"] < 1.45
    assert got["MXFP8 / MXFP4, an fp32 add each"] < 0.6
