"""Bad input to the C++ core and its Python faces: always a ValueError (pysim.ConfigError is
one) whose message names the field and the value, never a crash or a silent wrong answer."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

import pysim
from pysim import _core

S = _core.SystolicSpec
G = _core.GemmShape
SPEC = S(4, 4, "os", "scalesim")


def conv(**overrides: int) -> _core.Conv2dShape:
    kwargs = dict(in_h=5, in_w=5, in_c=2, filter_h=3, filter_w=3, filters=4)
    kwargs.update(overrides)
    return _core.Conv2dShape(**kwargs)


# --- array spec ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, -1, 4097, -(2**40), 2**40])
@pytest.mark.parametrize("field", ["rows", "cols"])
def test_core_spec_dims_out_of_range(field: str, value: int) -> None:
    dims = {"rows": 4, "cols": 4, field: value}
    with pytest.raises(ValueError, match=rf"{field} must be in 1\.\.4096, got {value}"):
        S(dims["rows"], dims["cols"])


def test_core_spec_dims_at_limits_are_accepted() -> None:
    for rows, cols in [(1, 1), (4096, 1), (1, 4096), (4096, 4096)]:
        s = S(rows, cols)
        assert (s.rows, s.cols) == (rows, cols)


@pytest.mark.parametrize("value", [0, -1, 4097])
@pytest.mark.parametrize("field", ["rows", "cols"])
def test_systolic_array_dims_out_of_range(field: str, value: int) -> None:
    dims: dict[str, Any] = {"rows": 4, "cols": 4, field: value}
    with pytest.raises(pysim.ConfigError, match=rf"{field} must be in 1\.\.4096, got {value}"):
        pysim.SystolicArray(**dims)


@pytest.mark.parametrize("value", [2.0, 2.5, "4", None, True, [4]])
@pytest.mark.parametrize("field", ["rows", "cols"])
def test_systolic_array_non_int_dims(field: str, value: object) -> None:
    dims: dict[str, Any] = {"rows": 4, "cols": 4, field: value}
    message = rf"{field} must be an integer.*got {re.escape(repr(value))}"
    with pytest.raises(pysim.ConfigError, match=message):
        pysim.SystolicArray(**dims)


@pytest.mark.parametrize("value", [2.5, "4", None, 2**70])
def test_core_spec_non_int_dims_raise_cleanly(value: object) -> None:
    # pybind11 rejects what it cannot convert to int64 before our validation runs: a TypeError
    # naming the accepted signature (not a ValueError; SystolicArray is the checked face).
    with pytest.raises(TypeError, match="incompatible constructor arguments"):
        S(value, 4)


def test_systolic_array_accepts_numpy_ints() -> None:
    arr = pysim.SystolicArray(np.int64(8), np.int32(4))
    assert arr.spec.rows == 8 and arr.spec.cols == 4


@pytest.mark.parametrize("value", ["xs", "", "output", "o s"])
def test_unknown_dataflow(value: str) -> None:
    with pytest.raises(ValueError, match=rf"dataflow must be one of .*got '{value}'"):
        S(4, 4, value)
    with pytest.raises(pysim.ConfigError, match=rf"dataflow must be one of .*got '{value}'"):
        pysim.SystolicArray(4, 4, value)


@pytest.mark.parametrize("value", ["fast", "", "scale-sim", "pipeline"])
def test_unknown_timing(value: str) -> None:
    with pytest.raises(ValueError, match=rf"timing must be one of .*got '{value}'"):
        S(4, 4, "os", value)
    with pytest.raises(pysim.ConfigError, match=rf"timing must be one of .*got '{value}'"):
        pysim.SystolicArray(4, 4, "os", value)


def test_config_error_is_value_error() -> None:
    assert issubclass(pysim.ConfigError, ValueError)


# --- GEMM shape ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, -1, -(2**62)])
@pytest.mark.parametrize("field", ["M", "N", "K"])
def test_gemm_dims_below_one(field: str, value: int) -> None:
    dims = {"M": 3, "N": 3, "K": 3, field: value}
    with pytest.raises(ValueError, match=rf"{field} must be >= 1, got {value}"):
        G(dims["M"], dims["N"], dims["K"])
    with pytest.raises(ValueError, match=rf"{field} must be >= 1, got {value}"):
        pysim.SystolicArray(4, 4).cost(dims["M"], dims["N"], dims["K"])


@pytest.mark.parametrize("value", [1.5, "3", None, True])
def test_systolic_array_cost_non_int_dims(value: object) -> None:
    message = rf"K must be a positive integer, got {re.escape(repr(value))}"
    with pytest.raises(ValueError, match=message):
        pysim.SystolicArray(4, 4).cost(3, 3, value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("m", "n", "k", "what"),
    [
        (2**40, 2**40, 2**40, r"M\*N overflows"),
        (2**21, 2**21, 2**21, r"M\*N\*K overflows"),
        (1, 2**31, 2**31, r"M\*N\*K overflows"),  # 2^62 MACs: no room for the x4 headroom
        (2**62, 1, 2, r"M\*N\*K overflows"),
    ],
)
def test_gemm_mac_count_overflow(m: int, n: int, k: int, what: str) -> None:
    with pytest.raises(ValueError, match=what):
        G(m, n, k)


def test_largest_accepted_gemm_has_exact_cost() -> None:
    # 2^60 MACs is accepted; the cost is exact int64 arithmetic, not a wrapped value.
    c = _core.systolic_cost(S(1, 1, "ws", "scalesim"), G(2**20, 2**20, 2**20))
    # WS on 1x1: F = K * N = 2^40 folds of 2 + 1 + 2^20 - 2 = 2^20 + 1 cycles.
    assert c.cycles == 2**40 * (2**20 + 1)
    assert c.macs == 2**60


# --- reference operands -------------------------------------------------------------------


def i8(*shape: int) -> np.ndarray:
    return np.ones(shape, np.int8)


@pytest.mark.parametrize(
    ("a_shape", "b_shape"), [((3, 4), (5, 2)), ((3, 4), (3, 4)), ((1, 1), (2, 1))]
)
def test_inner_dimensions_differ(a_shape: tuple[int, int], b_shape: tuple[int, int]) -> None:
    a_txt = "x".join(map(str, a_shape))
    b_txt = "x".join(map(str, b_shape))
    with pytest.raises(ValueError, match=rf"inner dimensions differ: a is {a_txt}, b is {b_txt}"):
        _core.systolic_simulate_gemm(SPEC, i8(*a_shape), i8(*b_shape))


@pytest.mark.parametrize(
    ("a", "b", "dims"),
    [
        (i8(4), i8(4, 2), "a.ndim=1, b.ndim=2"),
        (i8(3, 4), i8(4), "a.ndim=2, b.ndim=1"),
        (i8(1, 3, 4), i8(4, 2), "a.ndim=3, b.ndim=2"),
        (i8(3, 4), i8(1, 4, 2), "a.ndim=2, b.ndim=3"),
        (np.int8(1), i8(1, 1), "a.ndim=0, b.ndim=2"),
    ],
)
def test_operands_not_2d(a: np.ndarray, b: np.ndarray, dims: str) -> None:
    with pytest.raises(ValueError, match=rf"operands must be 2-D, got {dims}"):
        _core.systolic_simulate_gemm(SPEC, np.asarray(a), b)


@pytest.mark.parametrize(
    ("da", "db"),
    [(np.int8, np.int16), (np.int16, np.float32), (np.float32, np.int8), (np.int8, np.uint8)],
)
def test_mixed_dtypes(da: type, db: type) -> None:
    a, b = np.ones((3, 4), da), np.ones((4, 2), db)
    with pytest.raises(
        ValueError,
        match=rf"operands must share a dtype, got {np.dtype(da)} and {np.dtype(db)}",
    ):
        _core.systolic_simulate_gemm(SPEC, a, b)


@pytest.mark.parametrize(
    "dtype", [np.float64, np.int32, np.int64, np.uint8, np.uint16, np.float16, np.bool_]
)
def test_unsupported_dtype(dtype: type) -> None:
    a, b = np.ones((3, 4), dtype), np.ones((4, 2), dtype)
    with pytest.raises(
        ValueError, match=rf"dtype must be int8, int16 or float32, got {np.dtype(dtype)}"
    ):
        _core.systolic_simulate_gemm(SPEC, a, b)
    with pytest.raises(ValueError, match="dtype must be int8, int16 or float32"):
        pysim.SystolicArray(4, 4).simulate(a, b)


@pytest.mark.parametrize(
    ("a_shape", "b_shape", "field"), [((0, 4), (4, 2), "M"), ((3, 0), (0, 2), "K"),
                                      ((3, 4), (4, 0), "N")]
)
def test_empty_operands(a_shape: tuple[int, int], b_shape: tuple[int, int], field: str) -> None:
    with pytest.raises(ValueError, match=rf"{field} must be >= 1, got 0"):
        _core.systolic_simulate_gemm(SPEC, i8(*a_shape), i8(*b_shape))


def test_reference_budget_exceeded() -> None:
    # OS 10000^3 on 4096x4096: F = 3 * 3 = 9 folds of 10000 + 8190 = 18190 -> 163710 cycles;
    # x (2^24 PEs + 8192 edge ports) = 2.7e12 PE steps > 2^29.
    with pytest.raises(ValueError,
                       match=r"163710 cycles on a 4096x4096 array: PE steps .* exceeds the limit "
                             r"of 2\^29; the reference model's budget; use cost\(\)"):
        _core.systolic_simulate_cycles(S(4096, 4096), G(10000, 10000, 10000))
    with pytest.raises(ValueError,
                       match=r"exceeds the limit of 2\^29; the reference model's budget"):
        pysim.SystolicArray(4096, 4096).simulate_cycles(10000, 10000, 10000)


def test_reference_budget_checked_before_data_is_touched() -> None:
    # One fold on 4096x4096 OS: 1 + 8190 = 8191 cycles x 2^24 PEs > 2^29.
    a, b = np.ones((3000, 1), np.int8), np.ones((1, 3000), np.int8)
    with pytest.raises(ValueError, match=r"8191 cycles on a 4096x4096 array: PE steps"):
        _core.systolic_simulate_gemm(S(4096, 4096), a, b)


# --- convolution --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("batch", 0, ">= 1"), ("in_h", 0, ">= 1"), ("in_w", -2, ">= 1"), ("in_c", 0, ">= 1"),
        ("filter_h", 0, ">= 1"), ("filter_w", -1, ">= 1"), ("filters", 0, ">= 1"),
        ("stride_h", 0, ">= 1"), ("stride_w", 0, ">= 1"), ("stride_h", -1, ">= 1"),
        ("pad_h", -1, ">= 0"), ("pad_w", -3, ">= 0"),
        ("dilation_h", 0, ">= 1"), ("dilation_w", -1, ">= 1"),
    ],
)
def test_conv_field_out_of_range(field: str, value: int, allowed: str) -> None:
    with pytest.raises(ValueError, match=rf"{field} must be {allowed}, got {value}"):
        conv(**{field: value})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        # 6 > 5 + 0
        (dict(filter_h=6, filter_w=1),
         r"filter_h \(dilated\) must be <= in_h \+ 2 \* pad_h, got 6"),
        # 8 > 5 + 2
        (dict(filter_w=8, pad_w=1), r"filter_w \(dilated\) must be <= in_w \+ 2 \* pad_w, got 8"),
        # dilation 3 on a 3-tap filter spans 7 > 5
        (dict(dilation_h=3), r"filter_h \(dilated\) must be <= in_h \+ 2 \* pad_h, got 7"),
    ],
)
def test_conv_filter_larger_than_padded_input(overrides: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        conv(**overrides)


@pytest.mark.parametrize(
    "x_shape",
    [(1, 5, 5), (2, 5, 5, 2), (1, 5, 5, 3), (1, 2, 5, 5), (1, 5, 4, 2), (1, 1, 5, 5, 2), (50,)],
)
def test_im2col_wrong_input_shape(x_shape: tuple[int, ...]) -> None:
    with pytest.raises(
        ValueError, match=r"x must have shape \(batch, in_h, in_w, in_c\) = \(1, 5, 5, 2\)"
    ):
        _core.im2col(conv(), np.zeros(x_shape, np.int8))


@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.uint8, np.int64])
def test_im2col_unsupported_dtype(dtype: type) -> None:
    with pytest.raises(
        ValueError, match=rf"dtype must be int8, int16 or float32, got {np.dtype(dtype)}"
    ):
        _core.im2col(conv(), np.zeros((1, 5, 5, 2), dtype))


def test_conv_lowering_mac_overflow() -> None:
    # M = (2^31 - 1) * 2^16 * 2^16 output pixels does not fit in int64.
    c = _core.Conv2dShape(batch=2**31 - 1, in_h=2**16, in_w=2**16, in_c=1, filter_h=1,
                          filter_w=1, filters=1)
    with pytest.raises(ValueError, match="overflows"):
        _core.conv2d_to_gemm(c)


@pytest.mark.parametrize("field", ["batch", "in_h", "filter_h", "dilation_h", "in_c"])
def test_conv_dims_beyond_int32_are_rejected(field: str) -> None:
    kwargs = dict(batch=1, in_h=4, in_w=4, in_c=1, filter_h=1, filter_w=1, filters=1)
    kwargs[field] = 2**62 + 1
    with pytest.raises(ValueError, match=rf"{field} must be <= 2\^31 - 1, got {2**62 + 1}"):
        _core.Conv2dShape(**kwargs)
