"""Functional tensor-core MMA against NumPy references built with ml_dtypes.

Tolerances (stated, not tuned):
  int8 / int4 -> int32 and b1 popcount: bit-exact (int32 wrap-around included).
  fp16 / bf16 / fp8 / fp6 / fp4 / tf32 with fp32 accumulation:
    * against a NumPy emulation of the same numerics (exact products, one fp32 rounding per
      instruction K step): within 1 ulp of fp32 (the emulation sums a step with NumPy's
      order, the C++ kernel sequentially; both in double);
    * against the exact product of the converted inputs (float64):
      |out - exact| <= (ceil(K / k) + 1) * 2^-24 * (|A| @ |B|), one rounding per step.
"""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pysim import _core, gpu

FORMATS = {
    "fp16": np.float16,
    "bf16": ml_dtypes.bfloat16,
    "fp8_e4m3": ml_dtypes.float8_e4m3fn,
    "fp8_e5m2": ml_dtypes.float8_e5m2,
    "fp6_e2m3": ml_dtypes.float6_e2m3fn,
    "fp6_e3m2": ml_dtypes.float6_e3m2fn,
    "fp4_e2m1": ml_dtypes.float4_e2m1fn,
}
FLOAT_DTYPES = ["fp16", "bf16", "fp8_e4m3", "fp8_e5m2", "fp6_e2m3", "fp6_e3m2", "fp4_e2m1", "tf32"]


def tf32(x: np.ndarray) -> np.ndarray:
    """fp32 -> tf32, round to nearest with ties away from zero (PTX cvt.rna.tf32.f32)."""
    bits = np.asarray(x, dtype=np.float32).view(np.uint32)
    return ((bits + np.uint32(0x1000)) & np.uint32(0xFFFFE000)).view(np.float32)


def converted(x: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "tf32":
        return tf32(x.astype(np.float32)).astype(np.float64)
    return x.astype(FORMATS[dtype]).astype(np.float64)


def emulate(a: np.ndarray, b: np.ndarray, c: np.ndarray | None, k_step: int) -> np.ndarray:
    """fp32 accumulator, exact products summed per K step in float64, rounded once per step."""
    m, k = a.shape
    acc = np.zeros((m, b.shape[1]), np.float32) if c is None else c.astype(np.float32)
    for k0 in range(0, k, k_step):
        step = a[:, k0 : k0 + k_step] @ b[k0 : k0 + k_step, :]
        acc = (acc.astype(np.float64) + step).astype(np.float32)
    return acc


def data(shape: tuple[int, int], seed: int, scale: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape) * scale


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_mma_tile_matches_emulation_and_exact_product(dtype: str) -> None:
    m, n, k = gpu.MMA_SHAPES[dtype]
    a, b, c = data((m, k), 1), data((k, n), 2), data((m, n), 3).astype(np.float32)
    out = gpu.mma(a, b, c, dtype=dtype)
    assert out.dtype == np.float32 and out.shape == (m, n)
    ca, cb = converted(a, dtype), converted(b, dtype)
    np.testing.assert_array_max_ulp(out, emulate(ca, cb, c, k), maxulp=1)
    exact = ca @ cb + c.astype(np.float64)
    bound = 2 * 2.0**-24 * (np.abs(ca) @ np.abs(cb) + np.abs(c))
    assert np.all(np.abs(out - exact) <= bound)


@settings(max_examples=30, deadline=None)
@given(
    dtype=st.sampled_from(FLOAT_DTYPES),
    m=st.integers(1, 40),
    n=st.integers(1, 40),
    k=st.integers(1, 300),
    seed=st.integers(0, 2**16),
)
def test_gemm_by_tiles_matches_numpy(dtype: str, m: int, n: int, k: int, seed: int) -> None:
    a, b = data((m, k), seed), data((k, n), seed + 1)
    out = gpu.gemm(a, b, dtype)
    ca, cb = converted(a, dtype), converted(b, dtype)
    k_step = gpu.MMA_SHAPES[dtype][2]
    np.testing.assert_array_max_ulp(out, emulate(ca, cb, None, k_step), maxulp=1)
    bound = (math.ceil(k / k_step) + 1) * 2.0**-24 * (np.abs(ca) @ np.abs(cb))
    assert np.all(np.abs(out - ca @ cb) <= bound)


def test_fp32_accumulator_rounds_once_per_instruction() -> None:
    # 1 + 16 x 2^-25 in fp16: one k16 step sums the small products exactly (2^-21) before the
    # single rounding, so it survives; accumulated one product at a time it would not.
    k = 32
    a = np.zeros((16, k))
    b = np.zeros((k, 8))
    a[:, 0], b[0, :] = 1.0, 1.0
    a[:, 16:], b[16:, :] = 2.0**-12, 2.0**-13
    out = gpu.gemm(a, b, "fp16")
    assert np.all(out == np.float32(1 + 16 * 2.0**-25))
    # Within the same k16 step as the 1.0 the small terms are summed exactly too.
    a2, b2 = np.zeros((16, 16)), np.zeros((16, 8))
    a2[:, 0], b2[0, :] = 1.0, 1.0
    a2[:, 1:], b2[1:, :] = 2.0**-12, 2.0**-13
    assert np.all(gpu.mma(a2, b2, dtype="fp16") == np.float32(1 + 15 * 2.0**-25))


def test_tf32_rounding_is_nearest_ties_away() -> None:
    one_plus_half_ulp = np.float32(1 + 2.0**-11)
    assert _core.round_to_tf32(float(one_plus_half_ulp)) == 1 + 2.0**-10
    assert _core.round_to_tf32(-float(one_plus_half_ulp)) == -(1 + 2.0**-10)
    assert _core.round_to_tf32(1 + 2.0**-12) == 1.0
    assert _core.round_to_tf32(float("inf")) == float("inf")
    assert math.isnan(_core.round_to_tf32(float("nan")))
    x = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    assert np.array_equal([_core.round_to_tf32(float(v)) for v in x], tf32(x))


def test_inputs_are_converted_like_ml_dtypes() -> None:
    x = np.array([[0.1, 1000.0, -3.3e-3, 448.0]])
    e4m3 = gpu.to_input_format(x, "fp8_e4m3")
    assert np.array_equal(e4m3, x.astype(ml_dtypes.float8_e4m3fn).astype(np.float32),
                          equal_nan=True)
    assert np.isnan(e4m3[0, 1])  # past 448: NaN (e4m3fn has no inf), as ml_dtypes converts
    assert np.array_equal(gpu.to_input_format(x, "bf16"),
                          x.astype(ml_dtypes.bfloat16).astype(np.float32))
    # fp6 / fp4 have no inf or NaN: past the range they saturate, as ml_dtypes converts.
    assert gpu.to_input_format(x, "fp4")[0, 1] == 6.0
    assert gpu.to_input_format(x, "fp6_e2m3")[0, 1] == 7.5
    assert gpu.to_input_format(x, "fp6_e3m2")[0, 1] == 28.0
    assert np.array_equal(gpu.to_input_format(x, "e2m1"),
                          x.astype(ml_dtypes.float4_e2m1fn).astype(np.float32))
    # Already in the format: taken as is.
    h = x.astype(np.float16)
    assert np.array_equal(gpu.to_input_format(h, "fp16"), h.astype(np.float32))


@settings(max_examples=30, deadline=None)
@given(
    bits=st.sampled_from([8, 4]),
    m=st.integers(1, 40),
    n=st.integers(1, 40),
    k=st.integers(1, 400),
    seed=st.integers(0, 2**16),
)
def test_int_gemm_is_exact(bits: int, m: int, n: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    a = rng.integers(lo, hi + 1, (m, k))
    b = rng.integers(lo, hi + 1, (k, n))
    c = rng.integers(-1000, 1000, (m, n))
    out = gpu.gemm(a, b, f"int{bits}", c=c)
    assert out.dtype == np.int32
    assert np.array_equal(out, (a @ b + c).astype(np.int32))


def test_int32_accumulator_wraps() -> None:
    k = 140_000  # 127 * 127 * k > 2^31
    a = np.full((1, k), 127, dtype=np.int8)
    b = np.full((k, 1), 127, dtype=np.int8)
    out = gpu.gemm(a, b, "int8")
    exact = 127 * 127 * k
    assert out[0, 0] == (exact + 2**31) % 2**32 - 2**31


@pytest.mark.parametrize("dtype", ["int8", "int4"])
def test_int_mma_tile(dtype: str) -> None:
    m, n, k = gpu.MMA_SHAPES[dtype]
    lo, hi = (-128, 127) if dtype == "int8" else (-8, 7)
    rng = np.random.default_rng(5)
    a, b = rng.integers(lo, hi + 1, (m, k)), rng.integers(lo, hi + 1, (k, n))
    assert np.array_equal(gpu.mma(a, b, dtype=dtype), a @ b)


@pytest.mark.parametrize("op", ["xor", "and"])
@settings(max_examples=20, deadline=None)
@given(m=st.integers(1, 20), n=st.integers(1, 20), k=st.integers(1, 700), seed=st.integers(0, 999))
def test_b1_popcount(op: str, m: int, n: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 2, (m, k)), rng.integers(0, 2, (k, n))
    pairs = a[:, None, :] ^ b.T[None, :, :] if op == "xor" else a[:, None, :] & b.T[None, :, :]
    assert np.array_equal(gpu.gemm(a, b, "b1", op=op), pairs.sum(-1))


def test_b1_mma_tile_shape() -> None:
    a = np.ones((16, 256), dtype=bool)
    b = np.zeros((256, 8), dtype=bool)
    assert np.array_equal(gpu.mma(a, b, dtype="b1"), np.full((16, 8), 256))
    assert np.array_equal(gpu.mma(a, b, dtype="b1", op="and"), np.zeros((16, 8)))


def test_sparse_gemm_checks_pattern_and_equals_dense() -> None:
    from pysim import sparse

    rng = np.random.default_rng(3)
    a = sparse.prune_nm(rng.standard_normal((32, 64)), 2, 4)
    b = rng.standard_normal((64, 24))
    assert np.array_equal(gpu.gemm(a, b, "fp16", sparse=True), gpu.gemm(a, b, "fp16"))
    with pytest.raises(ValueError, match="not 2:4 sparse: row 0"):
        gpu.gemm(rng.standard_normal((32, 64)), b, "fp16", sparse=True)
    t = sparse.prune_nm(rng.standard_normal((16, 32)), 1, 2)
    gpu.gemm(t, rng.standard_normal((32, 8)), "tf32", sparse=True)  # 1:2 for tf32


def test_fp6_fp4_instruction_shapes() -> None:
    # kind::f8f6f4 m16n8k32 for fp6, block-scaled kind::mxf4 m16n8k64 for fp4
    assert gpu.MMA_SHAPES["fp6_e2m3"] == gpu.MMA_SHAPES["fp6_e3m2"] == (16, 8, 32)
    assert gpu.MMA_SHAPES["fp4_e2m1"] == (16, 8, 64)
    b200 = gpu.preset("b200")
    assert b200.mma_shape("fp6") == (16, 8, 32)
    assert b200.mma_shape("fp4") == (16, 8, 64)
    assert b200.mma_shape("fp4", sparse=True) == (16, 8, 128)
    a = np.ones((16, 64))
    b = np.full((64, 8), 0.5)
    assert np.array_equal(gpu.mma(a, b, dtype="fp4"), np.full((16, 8), 32.0, np.float32))
