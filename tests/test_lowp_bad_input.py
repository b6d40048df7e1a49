"""Bad input to the low-precision units and kernels: always a ValueError (pysim.ConfigError is
one) whose message names the argument and the value, never a crash or a silent wrong answer.
Bit widths 0 or above 32, values outside a width's range, non +-1 values, mismatched packing,
shape mismatches, wrong dtypes."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

import pysim
from pysim import _core, kernels

I8 = np.int8
A8, B8 = np.ones((2, 3), I8), np.ones((3, 2), I8)


# --- bit widths ----------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [0, 33, -1, 2**40])
def test_bit_width_out_of_range(bits: int) -> None:
    msg = rf"a_bits must be in 1\.\.32, got {bits}"
    with pytest.raises(ValueError, match=msg):
        kernels.bitserial_gemm(A8, B8, bits, 4)
    with pytest.raises(ValueError, match=msg.replace("a_bits", "b_bits")):
        kernels.bitserial_gemm(A8, B8, 4, bits)
    arr = pysim.BitSerialArray(2, 2, 8)
    for call in (arr.cost, arr.simulate_cycles):
        with pytest.raises(ValueError, match=msg):
            call(4, 4, 4, bits, 4)
    with pytest.raises(ValueError, match=msg):
        arr.simulate(A8, B8, bits, 4)
    with pytest.raises(ValueError, match=msg):
        arr.peak_macs_per_cycle(bits, 1)


@pytest.mark.parametrize("bits", [0, 33])
def test_core_bit_width_out_of_range(bits: int) -> None:
    msg = rf"a_bits must be in 1\.\.32, got {bits}"
    spec, shape = _core.BitSerialSpec(1, 1, 1), _core.GemmShape(1, 1, 1)
    for call in (
        lambda: _core.bit_serial_cost(spec, shape, bits, 1),
        lambda: _core.bit_serial_simulate_cycles(spec, shape, bits, 1),
        lambda: _core.bit_serial_simulate_gemm(spec, A8, B8, bits, 1),
        lambda: _core.bitserial_gemm(A8, B8, bits, 1),
        lambda: _core.bit_fusion_factor(bits, 1),
    ):
        with pytest.raises(ValueError, match=msg):
            call()


@pytest.mark.parametrize("bits", [True, 2.0, "8", None])
def test_bit_width_not_an_integer(bits: object) -> None:
    msg = rf"b_bits must be an integer in 1\.\.32, got {re.escape(repr(bits))}"
    with pytest.raises(ValueError, match=msg):
        kernels.bitserial_gemm(A8, B8, 4, bits)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=msg):
        pysim.BitSerialArray(1, 1, 1).cost(1, 1, 1, 4, bits)  # type: ignore[arg-type]


# --- values outside the bit range ----------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "bits", "signed", "message"),
    [
        ([[0, 8]], 4, True, r"a\[0, 1\] = 8 is out of range for 4-bit signed integers \(-8\.\.7\)"),
        ([[-9]], 4, True, r"a\[0, 0\] = -9 is out of range for 4-bit signed"),
        ([[-1]], 4, False, r"a\[0, 0\] = -1 is out of range for 4-bit unsigned .*\(0\.\.15\)"),
        ([[16]], 4, False, r"a\[0, 0\] = 16 is out of range for 4-bit unsigned"),
        ([[1]], 1, True, r"a\[0, 0\] = 1 is out of range for 1-bit signed integers \(-1\.\.0\)"),
        ([[2**31]], 32, True, r"= 2147483648 is out of range for 32-bit signed"),
        ([[2**32]], 32, False, r"= 4294967296 is out of range for 32-bit unsigned"),
    ],
)
def test_values_out_of_range(a: list, bits: int, signed: bool, message: str) -> None:
    x = np.array(a, dtype=np.int64)
    b = np.zeros((x.shape[1], 1), np.int64)
    with pytest.raises(ValueError, match=message):
        kernels.bitserial_gemm(x, b, bits, 8, signed=signed)
    for mode in ("bismo", "stripes", "bitfusion"):
        with pytest.raises(ValueError, match=message):
            pysim.BitSerialArray(1, 1, 4, mode).simulate(x, b, bits, 8, signed=signed)


def test_b_values_out_of_range_name_b() -> None:
    with pytest.raises(ValueError, match=r"b\[2, 1\] = 4 is out of range for 3-bit signed"):
        kernels.bitserial_gemm(A8, np.array([[0, 0], [0, 0], [0, 4]]), 8, 3)


def test_huge_uint64_is_out_of_range_not_wrapped() -> None:
    a = np.array([[2**63 + 5]], dtype=np.uint64)
    with pytest.raises(ValueError, match=r"a\[0, 0\] = 9223372036854775813 is out of range"):
        kernels.bitserial_gemm(a, np.ones((1, 1), np.uint64), 32, 32, signed=False)


@pytest.mark.parametrize("signed", ["yes", (True,), (True, 1), None])
def test_signed_flag_must_be_bools(signed: object) -> None:
    with pytest.raises(ValueError, match="signed must be a bool or a pair of bools"):
        kernels.bitserial_gemm(A8, B8, 4, 4, signed=signed)


# --- +-1 operands ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, 2, -2, 127, -128])
def test_xnor_gemm_rejects_non_pm1_values(value: int) -> None:
    a = np.ones((3, 130), I8)
    a[2, 129] = value
    with pytest.raises(ValueError, match=rf"a\[2, 129\] = {value} is not -1 or \+1"):
        kernels.xnor_gemm(a, np.ones((130, 4), I8))
    b = np.ones((130, 70), I8)
    b[65, 69] = value
    with pytest.raises(ValueError, match=rf"b\[65, 69\] = {value} is not -1 or \+1"):
        kernels.xnor_gemm(np.ones((3, 130), I8), b)
    with pytest.raises(ValueError, match=rf"b\[65, 69\] = {value} is not -1 or \+1"):
        pysim.XnorArray(2, 16).simulate(np.ones((3, 130), I8), b)
    with pytest.raises(ValueError, match=rf"x\[69, 65\] = {value} is not -1 or \+1"):
        kernels.pack_pm1(b.T)


# Positions in full 64 x 64 tiles of b (the vectorised transpose paths) and in a partial one,
# each checked with one and with two threads (the error comes out of the parallel packing).
@pytest.mark.parametrize("value", [0, 3, -3, 127, -127, -128])
@pytest.mark.parametrize("row, col", [(0, 0), (63, 63), (64, 64), (127, 100), (65, 191), (129, 3)])
@pytest.mark.parametrize("threads", [1, 2])
def test_xnor_gemm_names_a_bad_value_in_any_tile(value: int, row: int, col: int,
                                                 threads: int) -> None:
    b = np.ones((130, 192), I8)
    b[row, col] = value
    with pytest.raises(ValueError, match=rf"b\[{row}, {col}\] = {value} is not -1 or \+1"):
        kernels.xnor_gemm(np.ones((8, 130), I8), b, threads=threads)
    a = np.ones((192, 130), I8)
    a[col, row] = value
    with pytest.raises(ValueError, match=rf"a\[{col}, {row}\] = {value} is not -1 or \+1"):
        kernels.xnor_gemm(a, np.ones((130, 8), I8), threads=threads)


def test_xnor_conv_rejects_bad_pad_value_and_shapes() -> None:
    conv = _core.Conv2dShape(in_h=4, in_w=4, in_c=2, filter_h=3, filter_w=3, filters=2,
                             pad_h=1, pad_w=1)
    x, w = np.ones((1, 4, 4, 2), I8), np.ones((3, 3, 2, 2), I8)
    arr = pysim.XnorArray(2, 8)
    with pytest.raises(ValueError, match="pad_value must be"):
        arr.simulate_conv(x, w, conv, pad_value=0)
    with pytest.raises(ValueError, match=r"w must have shape .* = \(3, 3, 2, 2\), got \(3, 3, 2\)"):
        arr.simulate_conv(x, w[..., 0], conv)
    with pytest.raises(ValueError, match="x and w must have dtype int8"):
        arr.simulate_conv(x.astype(np.float32), w, conv)


# --- packing ---------------------------------------------------------------------------------


def test_mismatched_packing_word_count() -> None:
    a = kernels.pack_pm1(np.ones((2, 100), I8))  # 2 words per row
    with pytest.raises(ValueError, match=r"mismatched packing: b_packed rows hold 1 uint64 words "
                                         r"but k=100 needs ceil\(k/64\) = 2"):
        kernels.xnor_gemm_packed(a, kernels.pack_pm1(np.ones((3, 64), I8)), 100)
    with pytest.raises(ValueError, match=r"mismatched packing: a_packed rows hold 2 .* k=64"):
        kernels.xnor_gemm_packed(a, kernels.pack_pm1(np.ones((3, 64), I8)), 64)


def test_mismatched_packing_padding_bits() -> None:
    # Packed for k=128 (every bit set), read as k=100: bits past 100 are set.
    a = kernels.pack_pm1(np.ones((2, 128), I8))
    b = kernels.pack_pm1(np.ones((3, 100), I8))
    with pytest.raises(ValueError, match=r"mismatched packing: a_packed row 0 has bits set past "
                                         r"k=100"):
        kernels.xnor_gemm_packed(a, b, 100)


@pytest.mark.parametrize("k", [-1, 1.5, "64", None])
def test_packed_k_must_be_a_nonnegative_integer(k: object) -> None:
    with pytest.raises(ValueError, match=r"k must be"):
        kernels.xnor_gemm_packed(np.zeros((1, 1), np.uint64), np.zeros((1, 1), np.uint64), k)


def test_packed_operands_must_be_uint64() -> None:
    with pytest.raises(ValueError, match="a_packed must have dtype uint64, got int64"):
        kernels.xnor_gemm_packed(np.zeros((1, 1), np.int64), np.zeros((1, 1), np.uint64), 10)


# --- shapes ----------------------------------------------------------------------------------


KERNELS: list[tuple[str, Any]] = [
    ("xnor_gemm", lambda a, b: kernels.xnor_gemm(a, b)),
    ("bitserial_gemm", lambda a, b: kernels.bitserial_gemm(a, b, 8, 8)),
    ("gemm", lambda a, b: kernels.gemm(a, b)),
    ("bit_serial_unit", lambda a, b: pysim.BitSerialArray(1, 1, 8).simulate(a, b, 8, 8)),
    ("xnor_unit", lambda a, b: pysim.XnorArray(1, 8).simulate(a, b)),
]


@pytest.mark.parametrize(("name", "call"), KERNELS, ids=[k[0] for k in KERNELS])
def test_shape_mismatch(name: str, call: Any) -> None:
    with pytest.raises(ValueError, match=r"inner dimensions differ: a is 2x3, b is 4x2"):
        call(np.ones((2, 3), I8), np.ones((4, 2), I8))
    with pytest.raises(ValueError, match=r"a must be 2-D, got ndim=1"):
        call(np.ones(3, I8), B8)
    with pytest.raises(ValueError, match=r"b must be 2-D, got ndim=3"):
        call(A8, np.ones((3, 2, 1), I8))
    with pytest.raises(ValueError, match=r"a must be 2-D, got ndim=0"):
        call(np.int8(1), B8)


@pytest.mark.parametrize(("name", "call"), KERNELS, ids=[k[0] for k in KERNELS])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.bool_, np.complex64, object])
def test_wrong_dtype(name: str, call: Any, dtype: type) -> None:
    with pytest.raises(ValueError, match=r"a must (have dtype|hold integers).*got"):
        call(np.ones((2, 3), dtype), B8)


@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.uint8])
def test_xnor_needs_int8(dtype: type) -> None:
    with pytest.raises(ValueError, match=rf"b must have dtype int8 \(\+-1 values\), got "
                                         rf"{np.dtype(dtype).name}"):
        kernels.xnor_gemm(A8, B8.astype(dtype))


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.uint16])
def test_gemm_needs_int8_or_int16(dtype: type) -> None:
    with pytest.raises(ValueError, match=rf"b must have dtype int8 or int16, got "
                                         rf"{np.dtype(dtype).name}"):
        kernels.gemm(A8, B8.astype(dtype))


def test_unit_references_reject_empty_gemms() -> None:
    with pytest.raises(ValueError, match=r"M must be >= 1, got 0"):
        pysim.BitSerialArray(1, 1, 8).simulate(np.ones((0, 3), I8), B8, 8, 8)
    with pytest.raises(ValueError, match=r"K must be >= 1, got 0"):
        pysim.XnorArray(1, 8).simulate(np.ones((2, 0), I8), np.ones((0, 2), I8))


# --- thresholds, threads, isa ------------------------------------------------------------------


def test_thresholds_length_and_dtype() -> None:
    arr = pysim.XnorArray(1, 8)
    with pytest.raises(ValueError, match=r"thresholds must be 1-D with one value per output "
                                         r"column \(2\), got shape \(3,\)"):
        arr.simulate(A8, B8, np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="thresholds must hold integers, got dtype float64"):
        arr.simulate(A8, B8, np.zeros(2))


@pytest.mark.parametrize("threads", [-1, 1.5, True])
def test_threads_must_be_a_nonnegative_integer(threads: object) -> None:
    with pytest.raises(ValueError, match="threads must be an integer >= 0"):
        kernels.xnor_gemm(A8, B8, threads=threads)  # type: ignore[arg-type]


@pytest.mark.parametrize("isa", ["sse", "", "AVX512", 3])
def test_unknown_isa(isa: object) -> None:
    with pytest.raises(ValueError, match="isa must be"):
        kernels.xnor_gemm(A8, B8, isa=isa)  # type: ignore[arg-type]


# --- unit fields and budgets -----------------------------------------------------------------


@pytest.mark.parametrize(("field", "value"), [("dm", 0), ("dn", 4097), ("dk", -1),
                                              ("acc_bits", 65)])
def test_bit_serial_fields_out_of_range(field: str, value: int) -> None:
    kwargs: dict[str, Any] = {"dm": 2, "dn": 2, "dk": 8, field: value}
    with pytest.raises(pysim.ConfigError, match=rf"{field} must be in 1\.\.\d+, got {value}"):
        pysim.BitSerialArray(**kwargs)
    with pytest.raises(ValueError, match=rf"{field} must be in 1\.\.\d+, got {value}"):
        _core.BitSerialSpec(**kwargs)


@pytest.mark.parametrize(("field", "value"), [("pe", 0), ("simd", 4097), ("acc_bits", 0)])
def test_xnor_fields_out_of_range(field: str, value: int) -> None:
    kwargs: dict[str, Any] = {"pe": 2, "simd": 8, field: value}
    with pytest.raises(pysim.ConfigError, match=rf"{field} must be in 1\.\.\d+, got {value}"):
        pysim.XnorArray(**kwargs)
    with pytest.raises(ValueError, match=rf"{field} must be in 1\.\.\d+, got {value}"):
        _core.XnorSpec(**kwargs)


@pytest.mark.parametrize("value", [2.0, "4", None, True])
def test_unit_fields_must_be_integers(value: object) -> None:
    shown = re.escape(repr(value))
    with pytest.raises(pysim.ConfigError, match=rf"dk must be an integer.*{shown}"):
        pysim.BitSerialArray(1, 1, value)  # type: ignore[arg-type]
    with pytest.raises(pysim.ConfigError, match=rf"pe must be an integer.*{shown}"):
        pysim.XnorArray(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", ["loom", "", "bit fusion"])
def test_unknown_mode(mode: str) -> None:
    with pytest.raises(pysim.ConfigError, match=rf"mode must be one of .*got '{mode}'"):
        pysim.BitSerialArray(1, 1, 1, mode)
    with pytest.raises(ValueError, match=rf"mode must be one of .*got '{mode}'"):
        _core.BitSerialSpec(1, 1, 1, mode)


def test_reference_budget_points_to_cost() -> None:
    with pytest.raises(ValueError, match=r"DPUs: steps .* exceeds the limit of 2\^32; "
                                         r"the reference model's budget; use cost\(\)"):
        pysim.BitSerialArray(1, 1, 1).simulate_cycles(10**5, 10**5, 10**5, 32, 32)
    with pytest.raises(ValueError, match=r"PEs: steps .* exceeds the limit of 2\^32; "
                                         r"the reference model's budget; use cost\(\)"):
        pysim.XnorArray(1, 1).simulate_cycles(10**6, 10**6, 10**6)


def test_cost_overflow_is_an_error() -> None:
    with pytest.raises(ValueError, match="overflows 64-bit integers"):
        pysim.BitSerialArray(1, 1, 1).cost(2**40, 2**40, 2**40, 32, 32)
    with pytest.raises(ValueError, match="overflows 64-bit integers"):
        pysim.XnorArray(1, 1).cost(2**40, 2**40, 2**40)
