"""Multiplication-free MAC arrays: the ``pow2`` format, the L-Mul / shift / ternary kernels
(pysim/formats/mulfree.py), the energy table's multiplier entries and the systolic array's
``multiplier`` field (docs/low_precision_units.md, "Multiplication-free MAC arrays")."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import pysim
from pysim import formats
from pysim.config.energy_table import EnergyEntry, load_energy_table
from pysim.workload import workload_from_dict

ROOT = Path(__file__).resolve().parents[1]
TABLE = load_energy_table("45nm")


# -- the pow2 format ------------------------------------------------------------------------

def pow2_reference(x: np.ndarray) -> np.ndarray:
    """Nearest of {0, +-2^-14 .. +-2^0} by enumeration; ties to the even significand (1.5 x 2^p
    up, 2^-15 down to 0); saturating at 1."""
    grid = np.concatenate([[0.0], 2.0 ** np.arange(-14, 1)])
    a = np.minimum(np.abs(x), 1.0)
    d = np.abs(a[:, None] - grid[None, :])
    best = d.min(axis=1, keepdims=True)
    ties = d == best
    # among tied candidates: 0 beats 2^-14 (k even = 0); 2^(p+1) beats 2^p (k = 2 vs 1)
    idx = np.where(ties[:, 0] & ties[:, 1], 0, ties.shape[1] - 1 - np.argmax(ties[:, ::-1], 1))
    return np.copysign(grid[idx], x)


def test_pow2_is_five_bits_sign_and_exponent_and_int_for_the_simulator() -> None:
    f = formats.get("pow2")
    assert (f.bits, f.max_abs, f.emax, f.is_pow2) == (5, 1.0, 0, True)
    assert not formats.get("fp8_e4m3").is_pow2
    from pysim.workload.number_formats import element_format

    assert element_format("pow2").dtype == "int"  # a shift of fixed-point activations
    assert formats.storage_bits((64, 64), "pow2").total_bytes == 64 * 64 * 5 // 8


def test_pow2_quantize_matches_a_numpy_reference_bit_for_bit() -> None:
    rng = np.random.default_rng(7)
    x = np.concatenate([
        rng.standard_normal(4000) * 0.3,
        np.ldexp(rng.uniform(-1, 1, 2000), rng.integers(-17, 2, 2000)),
        1.5 * 2.0 ** np.arange(-14, 0), -(2.0 ** np.arange(-16, 3)),
        [0.0, -0.0, 2.0**-15, 3 * 2.0**-16, 5.0, -1e9]])
    got = formats.dequantize(formats.quantize(x, "pow2"), np.float64)
    ref = pow2_reference(x)
    assert np.array_equal(got, ref)
    assert np.array_equal(np.signbit(got[got == 0]), np.signbit(x[got == 0]))


def test_pow2_codes_round_trip_and_split_into_sign_and_shift() -> None:
    f = formats.get("pow2")
    codes = np.arange(32, dtype=np.uint8)
    values = formats.dequantize(formats.QuantizedTensor(f, codes, None, None, None, (32,),
                                                        "nearest_even"), np.float64)
    again = formats.quantize(values, "pow2").codes
    assert np.array_equal(np.where(values == 0, codes & 0x10, again), codes)
    sign, shift = formats.pow2_parts(codes, f)
    assert np.array_equal(sign * np.ldexp(1.0, shift), values)
    with pytest.raises(ValueError, match="power-of-two format"):
        formats.pow2_parts(codes, formats.get("fp8_e4m3"))


# -- L-Mul ------------------------------------------------------------------------------------

def test_lmul_offset_is_the_papers_l_of_m() -> None:
    from pysim.formats.mulfree import lmul_offset_bits

    assert [lmul_offset_bits(m) for m in (1, 2, 3, 4, 5, 10, 23)] == [1, 2, 3, 3, 4, 4, 4]


def test_lmul_hand_worked() -> None:
    # m = 3, offset 2^-3. 1.5 x 1.5: mantissas 0.5 + 0.5 + 0.125 = 1.125 carries: 1.125 x 2 =
    # 2.25; 2 x 3 = 1 x 1.5 x 2^2: 1 + 0.5 + 0.125 = 1.625 x 4 = 6.5; signs XOR; zero is zero
    got = formats.lmul(np.array([1.5, 2.0, -1.25, 0.0, 3.0]),
                       np.array([1.5, 3.0, 2.0, 4.0, -0.0]), 3)
    assert got.tolist() == [2.25, 6.5, -2.75, 0.0, -0.0]


def test_lmul_on_fp32_is_the_papers_integer_add_of_the_bit_patterns() -> None:
    # Luo & Sun's fp32 L-Mul (their Fig. 2): |a| bits + |b| bits - (bias << 23 - 2^(23 - 4)),
    # sign XOR: 0x3F780000 for fp32 (l(23) = 4)
    rng = np.random.default_rng(1)
    a = (rng.standard_normal(5000) * 8).astype(np.float32)
    b = (rng.standard_normal(5000) / 8).astype(np.float32)
    ua, ub = a.view(np.uint32).astype(np.int64), b.view(np.uint32).astype(np.int64)
    mag = (ua & 0x7FFFFFFF) + (ub & 0x7FFFFFFF) - 0x3F780000
    ref = (mag | ((ua ^ ub) & 0x80000000)).astype(np.uint32).view(np.float32)
    assert np.array_equal(formats.lmul(a, b, 23), ref.astype(np.float64))


def test_lmul_on_fp8_e4m3_codes_is_an_integer_add() -> None:
    # 3-bit mantissas: code sum - (7 << 3) + 2^(3 - 3), where the result stays a normal e4m3
    e4m3 = formats.get("fp8_e4m3")
    codes = np.arange(1 << 7, dtype=np.int64)
    exp = codes >> 3
    normal = codes[(exp >= 4) & (exp <= 10)]  # 2^-3 .. 2^3: products stay normal
    ca, cb = np.meshgrid(normal, normal)
    va = formats.dequantize(formats.QuantizedTensor(e4m3, ca.astype(np.uint8), None, None, None,
                                                    ca.shape, "nearest_even"), np.float64)
    vb = formats.dequantize(formats.QuantizedTensor(e4m3, cb.astype(np.uint8), None, None, None,
                                                    cb.shape, "nearest_even"), np.float64)
    out = (ca + cb - (7 << 3) + 1).astype(np.uint8)
    ref = formats.dequantize(formats.QuantizedTensor(e4m3, out, None, None, None, out.shape,
                                                     "nearest_even"), np.float64)
    assert np.array_equal(formats.lmul(va, vb, 3), ref)


def test_lmul_gemm_sums_lmul_products() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((5, 7)), rng.standard_normal((7, 3))
    ref = formats.lmul(a[:, :, None], b[None], 4).sum(axis=1)
    assert np.allclose(formats.lmul_gemm(a, b, 4), ref, rtol=1e-15, atol=0)
    with pytest.raises(ValueError, match="m x k"):
        formats.lmul_gemm(a, b.T)
    with pytest.raises(ValueError, match="mbits"):
        formats.lmul(a, a, 0)
    with pytest.raises(ValueError, match=r"a\[0\] = nan"):
        formats.lmul(np.array([np.nan]), np.array([1.0]))


# -- shift and ternary GEMMs -------------------------------------------------------------------

def test_shift_gemm_is_exact_for_integers() -> None:
    rng = np.random.default_rng(3)
    a = rng.integers(-128, 128, (9, 33)).astype(np.int8)
    sign = rng.integers(-1, 2, (33, 11))
    shift = rng.integers(0, 15, (33, 11))
    got = formats.shift_gemm(a, sign, shift)
    assert got.dtype == np.int64
    assert np.array_equal(got, a.astype(np.int64) @ (sign * (1 << shift)).astype(np.int64))
    # right shifts (pow2 weights p <= 0): the exact sum in units of 2^min(p)
    neg = -shift
    got = formats.shift_gemm(a, sign, neg)
    exact = (a.astype(np.int64) @ (sign << (shift.max() - shift)).astype(np.int64))
    assert np.array_equal(got, np.ldexp(exact.astype(np.float64), -int(shift.max())))


def test_shift_gemm_on_pow2_weights_is_exact_for_floats() -> None:
    rng = np.random.default_rng(4)
    a = np.ldexp(rng.integers(-64, 64, (6, 40)).astype(np.float64), -3)  # 7-bit values
    w = rng.standard_normal((40, 5)) * 0.2
    q = formats.quantize(w, "pow2")
    sign, shift = formats.pow2_parts(q.codes, q.fmt)
    wv = formats.dequantize(q, np.float64)
    # every product and partial sum is a multiple of 2^-17 below 2^53: float64 is exact
    assert np.array_equal(formats.shift_gemm(a, sign, shift), a @ wv)


def test_ternary_gemm_equals_numpy_int_matmul() -> None:
    rng = np.random.default_rng(5)
    a = rng.integers(-128, 128, (17, 65)).astype(np.int8)
    w = rng.integers(-1, 2, (65, 9)).astype(np.int8)
    assert np.array_equal(formats.ternary_gemm(a, w), a.astype(np.int64) @ w.astype(np.int64))
    q = formats.quantize(w.astype(np.float64) * 0.9, "ternary")
    assert np.array_equal(formats.ternary_gemm(a, q.codes), formats.gemm(
        formats.quantize(a, "int8"), q))
    with pytest.raises(ValueError, match=r"w\[0, 0\] = 2"):
        formats.ternary_gemm(a, np.full((65, 9), 2))
    with pytest.raises(ValueError, match="integer array"):
        formats.ternary_gemm(a.astype(np.float32), w)


# -- energy table ----------------------------------------------------------------------------

def test_lmul_energy_is_an_integer_add_of_exponent_and_mantissa() -> None:
    assert TABLE.lmul_pj(16) == pytest.approx(TABLE.add_pj(15))
    # Luo & Sun's element-wise headline: fp16 L-Mul vs an fp16 multiply (Horowitz 1.1 pJ)
    assert 1 - TABLE.lmul_pj(16) / TABLE.mult_pj(16, 16, "fp") == pytest.approx(0.953, abs=0.005)
    assert TABLE.lmul_pj(32) < 0.03 * TABLE.mult_pj(32, 32, "fp")
    # the optional entries of a custom table take over from the derivations
    entries = {"lmul_over_int_add": 2.0, "int8_shift_pj": 0.05, "sign_select_bit_pj": 0.01}
    custom = TABLE.model_copy(update={"entries": {**TABLE.entries, **{
        k: EnergyEntry(value=v, unit="pJ", scaling="dynamic", source="test")
        for k, v in entries.items()}}})
    assert custom.lmul_pj(16) == pytest.approx(2 * TABLE.lmul_pj(16))
    assert custom.shift_pj(8) == pytest.approx(0.05)
    assert custom.sign_select_pj(8) == pytest.approx(0.08)


def test_shift_energy_is_shiftaddnets_at_45nm_and_scales() -> None:
    assert TABLE.shift_pj(8) == pytest.approx(0.024)
    assert TABLE.shift_pj(32) == pytest.approx(0.13)
    assert TABLE.shift_pj(8) < TABLE.mult_pj(8, 8) / 8
    at22 = TABLE.scaled_to(22)
    assert at22.shift_pj(8) / TABLE.shift_pj(8) == pytest.approx(
        at22.add_pj(8) / TABLE.add_pj(8))
    assert TABLE.sign_select_pj(8) == pytest.approx(8 * TABLE.and_popcount_bit_pj())


# -- the systolic array's multiplier -----------------------------------------------------------

def npu(**unit: object) -> pysim.Hardware:
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml")
    return hw.with_overrides({f"units.0.{k}": v for k, v in unit.items()})


def gemm(m: int = 128, fmt: str | None = None, act: str | None = None,
         **extra: object) -> pysim.Workload:
    x: dict[str, object] = {"name": "x", "shape": [m, 256]}
    if act:
        x["format"] = act
    op: dict[str, object] = {"name": "fc", "type": "gemm", "inputs": ["x"], "m": m, "n": 256,
                             "k": 256, **extra}
    if fmt:
        op["weight_format"] = fmt
    if act:
        op["act_format"] = act
    return workload_from_dict({"name": "g", "inputs": [x], "ops": [op]})


@pytest.mark.parametrize(("fields", "message"), [
    ({"multiplier": "booth"}, "multiplier must be one of 'exact', 'lmul', 'shift' or "
                              "'ternary', got 'booth'"),
    ({"multiplier": "lmul"}, "multiplier needs float_precisions"),
    ({"multiplier": "shift", "precisions": [], "float_precisions": [16]},
     "multiplier needs precisions"),
])
def test_bad_multiplier_names_field_value_and_allowed(fields: dict, message: str) -> None:
    with pytest.raises(pysim.ConfigError, match=message) as info:
        npu(**fields)
    assert "\n" not in str(info.value).split(" (overrides")[0]


def test_exact_is_the_default_and_changes_nothing() -> None:
    hw = npu()
    assert hw.units[0].multiplier == "exact"
    explicit = npu(multiplier="EXACT")
    wl = gemm()
    a, b = pysim.simulate(hw, wl), pysim.simulate(explicit, wl)
    assert (a.latency_cycles, a.energy_j) == (b.latency_cycles, b.energy_j)
    assert a.energy_breakdown_j["mac"] == pytest.approx(
        a.macs * hw.energy_table.mac_pj(8, 8) * 1e-12, rel=1e-12)


def test_each_multiplier_runs_only_what_it_can() -> None:
    shift, ternary = npu(multiplier="shift").units[0], npu(multiplier="ternary").units[0]
    lmul = npu(multiplier="lmul", float_precisions=[16]).units[0]
    plain, pow2, tern = gemm().ops[0], gemm(fmt="pow2").ops[0], gemm(fmt="ternary").ops[0]
    fp16 = gemm(fmt="fp16", act="fp16").ops[0]
    assert shift.supports(pow2) and not shift.supports(plain) and not shift.supports(tern)
    assert ternary.supports(tern) and not ternary.supports(pow2) and not ternary.supports(plain)
    assert lmul.supports(fp16) and not lmul.supports(plain)
    with pytest.raises(pysim.WorkloadError, match="power-of-two weights"):
        pysim.simulate(npu(multiplier="shift"), gemm())
    with pytest.raises(pysim.WorkloadError, match="ternary weights"):
        pysim.simulate(npu(multiplier="ternary"), gemm(fmt="pow2"))


def test_multipliers_keep_the_arrays_timing_and_cut_mac_energy() -> None:
    table = npu().energy_table  # edge_npu: the 45 nm table scaled to 16 nm
    exact = pysim.simulate(npu(), gemm(fmt="pow2"))
    shift = pysim.simulate(npu(multiplier="shift"), gemm(fmt="pow2"))
    assert shift.latency_cycles == exact.latency_cycles
    assert shift.layers["compute_cycles"].iloc[0] == exact.layers["compute_cycles"].iloc[0]
    per_mac = shift.energy_breakdown_j["mac"] / shift.macs * 1e12
    assert per_mac == pytest.approx(table.shift_pj(8) + table.add_pj(32), rel=1e-12)
    assert shift.energy_j < exact.energy_j
    fp = gemm(fmt="fp16", act="fp16")
    lm = pysim.simulate(npu(multiplier="lmul", float_precisions=[16]), fp)
    ex = pysim.simulate(npu(float_precisions=[16]), fp)
    assert lm.latency_cycles == ex.latency_cycles
    assert lm.energy_breakdown_j["mac"] / lm.macs * 1e12 == pytest.approx(
        table.lmul_pj(16) + table.add_pj(32, "fp"), rel=1e-12)


def test_ternary_zero_weights_gate_the_accumulator() -> None:
    hw = npu(multiplier="ternary")
    table = hw.energy_table
    dense = pysim.simulate(hw, gemm(fmt="ternary"))
    sparse = pysim.simulate(hw, gemm(fmt="ternary", weight_sparsity={
        "pattern": "unstructured", "density": 0.5}))
    per = [r.energy_breakdown_j["mac"] / r.macs * 1e12 for r in (dense, sparse)]
    assert per[0] == pytest.approx(table.sign_select_pj(8) + table.add_pj(32), rel=1e-12)
    assert per[1] == pytest.approx(table.sign_select_pj(8) + 0.5 * table.add_pj(32), rel=1e-12)
    # with sparsity gating on, the unit's factor gates them instead (not twice)
    gated = pysim.simulate(npu(multiplier="ternary", sparsity="gating"), gemm(
        fmt="ternary", weight_sparsity={"pattern": "unstructured", "density": 0.5}))
    assert gated.energy_breakdown_j["mac"] == pytest.approx(
        0.5 * dense.energy_breakdown_j["mac"], rel=1e-9)
