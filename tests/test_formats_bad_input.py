"""Bad input to pysim.formats: one-line ValueErrors naming the tensor or field, the value and
what is allowed."""

from __future__ import annotations

import re

import numpy as np
import pytest

from pysim import formats


def one_line(exc: pytest.ExceptionInfo[ValueError]) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


def test_unknown_format_names_the_known_ones() -> None:
    with pytest.raises(ValueError) as e:
        formats.quantize(np.ones(4), "fp9")
    msg = one_line(e)
    assert "'fp9'" in msg and all(n in msg for n in ("int4", "nf4", "mxfp4", "fp8_e4m3", "tf32"))


@pytest.mark.parametrize("fmt,gran", [("int8", formats.per_group(32)), ("mxfp4", None),
                                      ("nf4", None)])
def test_group_size_must_divide_the_axis(fmt: str, gran: object) -> None:
    with pytest.raises(ValueError) as e:
        formats.quantize(np.ones((4, 40)), fmt, gran, name="w")
    assert re.search(r"^w: (group|block) size (32|64) does not divide axis -1 of length 40 "
                     r"\(shape \(4, 40\)\); allowed: a size dividing 40$", one_line(e))


def test_storage_bits_checks_the_same() -> None:
    with pytest.raises(ValueError, match="block size 32 does not divide axis -1 of length 48"):
        formats.storage_bits((48,), "mxint8")


@pytest.mark.parametrize("fmt", ["int8", "uint4", "ternary", "nf4", "fp4_e2m1", "fp6_e3m2"])
def test_nan_into_a_format_without_nan(fmt: str) -> None:
    with pytest.raises(ValueError) as e:
        formats.quantize(np.r_[0.5, np.nan, np.zeros(62)], fmt, name="act")
    msg = one_line(e)
    assert msg.startswith(f"act[1] = nan: format {fmt}") and msg.endswith("allowed: finite values")


def test_nan_under_a_float_scale() -> None:
    with pytest.raises(ValueError, match=r"^w\[0, 3\] = inf: format fp8_e4m3 with fp16 scales has "
                                         r"no NaN or inf; allowed: finite values$"):
        formats.quantize(np.array([[1, 2, 3, np.inf]]), "fp8_e4m3", "tensor", scale_dtype="fp16",
                         name="w")


def test_scale_dtype_that_cannot_hold_the_scale() -> None:
    with pytest.raises(ValueError) as e:
        formats.quantize(np.array([1.0, 1e9]), "int8", "tensor", scale_dtype="fp16", name="w")
    msg = one_line(e)
    assert msg.startswith("w scale[0, 0] = 7.87402e+06") and "fp16 (65504 max" in msg
    assert "allowed scale dtypes: fp32, fp16, bf16, fp8_e4m3, e8m0" in msg
    with pytest.raises(ValueError, match=r"scale\[0, 0\] = 7.87402e-15 .* fp16"):
        formats.quantize(np.array([1e-12]), "int8", "tensor", scale_dtype="fp16")
    with pytest.raises(ValueError, match=r"= 2\^988 .*cannot be represented in scale dtype e8m0 "
                                         r"\(2\^-127..2\^127\)"):
        formats.quantize(np.full(32, 1e300), "mxfp8_e4m3")


@pytest.mark.parametrize("kwargs,match", [
    ({"scale_dtype": "fp64", "granularity": "tensor"},
     "x: scale_dtype must be one of fp32, fp16, bf16, fp8_e4m3, e8m0; got 'fp64'"),
    ({"rounding": "up"}, "x: rounding must be one of nearest_even, stochastic; got 'up'"),
    ({"rounding": "stochastic"}, "x: rounding='stochastic' needs an integer seed; got None"),
    ({"granularity": "group:x"}, "granularity must be a Granularity or one of 'none', 'tensor'"),
    ({"granularity": formats.per_channel(2)}, r"x: channel axis 2 is out of range for shape "
                                              r"\(2, 32\); allowed: -2..1"),
    ({"scale_dtype": "fp16"}, "x: scale_dtype 'fp16' needs a granularity"),
])
def test_bad_options(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match) as e:
        formats.quantize(np.ones((2, 32)), "int8", **kwargs)  # type: ignore[arg-type]
    one_line(e)


@pytest.mark.parametrize("kwargs", [{"granularity": "tensor"}, {"scale_dtype": "fp32"},
                                    {"granularity": formats.per_block(16)}])
def test_mx_keeps_the_specs_blocks_and_scales(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"x: mxfp4 (takes blocks of 32|scales are e8m0)") as e:
        formats.quantize(np.ones(64), "mxfp4", **kwargs)  # type: ignore[arg-type]
    assert "allowed:" in one_line(e)


def test_gemm_shapes() -> None:
    a = formats.quantize(np.ones((2, 3)), "int8")
    with pytest.raises(ValueError, match=r"gemm needs a \(m x k\) and b \(k x n\); got a \(2, 3\)"):
        formats.gemm(a, a)


def test_non_real_input() -> None:
    with pytest.raises(ValueError, match="x: expected a real array, got dtype complex128"):
        formats.quantize(np.ones(2, complex), "fp16")
    with pytest.raises(ValueError, match=r"shape must be non-negative integers; got \[-1\]"):
        formats.storage_bits((-1,), "int8")


def test_error_index_counts_over_the_whole_tensor() -> None:
    """Large tensors are encoded in chunks; the index in the message is still the tensor's."""
    x = np.zeros((3, 100_000))
    x[2, 12345] = np.nan
    with pytest.raises(ValueError, match=r"^x\[2, 12345\] = nan: format int8 has no NaN"):
        formats.quantize(x, "int8")
