"""Functional tensor-core MMA: what the hardware computes, number format by number format.

Float inputs are converted to the input format with ml_dtypes / NumPy (round to nearest even;
values past the format's range become inf, or NaN for fp8 e4m3, as ml_dtypes does; fp6 and fp4,
which have neither, saturate); tf32 keeps
10 mantissa bits (round to nearest, ties away, as PTX ``cvt.rna.tf32.f32``). Products are exact
and accumulate in fp32, rounded once per instruction K step. int8 / int4 accumulate exactly in
int32 with wrap-around; b1 adds popcount(a AND b) or popcount(a XOR b). The C++ kernels are in
csrc/kernels/mma.*; docs/tensor_cores.md states the model and how it differs from silicon.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from pysim import _core
from pysim.gpu.dtypes import normalize_dtype
from pysim.sparse import check_nm

# PTX mma.sync shapes (m, n, k) on sm_80 and later (Volta issues m8n8k4 for fp16; fp6 is the
# kind::f8f6f4 m16n8k32, fp4 the block-scaled kind::mxf4 m16n8k64).
MMA_SHAPES: dict[str, tuple[int, int, int]] = {
    "fp16": (16, 8, 16),
    "bf16": (16, 8, 16),
    "tf32": (16, 8, 8),
    "fp8_e4m3": (16, 8, 32),
    "fp8_e5m2": (16, 8, 32),
    "fp6_e2m3": (16, 8, 32),
    "fp6_e3m2": (16, 8, 32),
    "fp4_e2m1": (16, 8, 64),
    "int8": (16, 8, 32),
    "int4": (16, 8, 64),
    "b1": (16, 8, 256),
}

@functools.cache
def _float_formats() -> dict[str, Any]:
    """Input format -> NumPy scalar type; ml_dtypes (a second to import) loads on first use."""
    import ml_dtypes

    return {
        "fp16": np.float16,
        "bf16": ml_dtypes.bfloat16,
        "fp8_e4m3": ml_dtypes.float8_e4m3fn,
        "fp8_e5m2": ml_dtypes.float8_e5m2,
        # OCP MX element formats: no inf or NaN, so ml_dtypes saturates values past the range
        # to the largest finite one (and turns NaN into zero); block scale factors are not
        # modelled
        "fp6_e2m3": ml_dtypes.float6_e2m3fn,
        "fp6_e3m2": ml_dtypes.float6_e3m2fn,
        "fp4_e2m1": ml_dtypes.float4_e2m1fn,
        "tf32": np.float32,  # rounded to tf32 in C++
    }


_INT_RANGES = {"int8": (-128, 127), "int4": (-8, 7)}
_B1_OPS = ("xor", "and")


def to_input_format(x: object, dtype: str) -> np.ndarray:
    """``x`` converted to the tensor-core input format ``dtype`` and back to fp32 (floats) or
    int8 / uint8 (integers, binary), exactly as the functional MMA sees it.

    Raises ValueError for non-numeric data, integers outside the format's range, or b1 values
    other than 0 / 1.
    """
    name = normalize_dtype(dtype)
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf" and arr.dtype not in {
        np.dtype(t) for t in _float_formats().values()
    }:
        raise ValueError(f"operands must be numeric arrays, got dtype {arr.dtype}")
    if name in _float_formats():
        fmt = _float_formats()[name]
        with np.errstate(over="ignore", invalid="ignore"):
            return arr.astype(fmt).astype(np.float32)
    if name in _INT_RANGES:
        lo, hi = _INT_RANGES[name]
        if arr.dtype.kind == "f" and (
            not np.all(np.isfinite(arr)) or not np.array_equal(arr, np.round(arr))
        ):
            raise ValueError(f"{name} operands must hold integers, got non-integer floats")
        if arr.size and (arr.min() < lo or arr.max() > hi):
            bad = arr.min() if arr.min() < lo else arr.max()
            raise ValueError(f"{name} operands must be in {lo}..{hi}, got {bad}")
        return arr.astype(np.int8)
    # b1
    if arr.size and not np.all((arr == 0) | (arr == 1)):
        raise ValueError("b1 operands must hold only 0 and 1")
    return arr.astype(np.uint8)


def _check_2d(a: np.ndarray, b: np.ndarray) -> None:
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"operands must be 2-D, got a.ndim={a.ndim}, b.ndim={b.ndim}")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"inner dimensions differ: a is {a.shape}, b is {b.shape}")
    if 0 in a.shape or b.shape[1] == 0:
        raise ValueError(f"operands must not be empty, got a {a.shape}, b {b.shape}")


def _run(a: object, b: object, c: object, name: str, op: str) -> np.ndarray:
    a_in = to_input_format(a, name)
    b_in = to_input_format(b, name)
    _check_2d(a_in, b_in)
    shape = (a_in.shape[0], b_in.shape[1])
    if c is not None:
        c = np.asarray(c)
        if c.shape != shape:
            raise ValueError(f"c must have shape {shape}, got {c.shape}")
    k_step = MMA_SHAPES[name][2]
    if name in _float_formats():
        c32 = None if c is None else c.astype(np.float32)
        return _core.mma_float(a_in, b_in, c32, k_step, name == "tf32")
    c_int = None
    if c is not None:
        if c.dtype.kind not in "iu" or (c.size and (c.min() < -(2**31) or c.max() >= 2**31)):
            raise ValueError(f"c must hold int32 values for {name}, got dtype {c.dtype}")
        c_int = c.astype(np.int32)
    if name in _INT_RANGES:
        return _core.mma_int(a_in, b_in, c_int, 8 if name == "int8" else 4)
    if op not in _B1_OPS:
        raise ValueError(f"op must be one of {_B1_OPS} for b1, got {op!r}")
    return _core.mma_b1(a_in, b_in, c_int, op)


def mma(
    a: object, b: object, c: object | None = None, *, dtype: str = "fp16", op: str = "xor"
) -> np.ndarray:
    """One warp-level MMA instruction: D = A x B + C with A m x k, B k x n, C m x n of the
    instruction shape ``MMA_SHAPES[dtype]`` (m16n8k16 for fp16, ...).

    Returns fp32 (float dtypes) or int32 (int8, int4, b1). ``op`` ("xor" or "and") picks the
    b1 operation. Raises ValueError on a shape other than the instruction's, an unknown dtype,
    or inputs outside the format.
    """
    name = normalize_dtype(dtype)
    m, n, k = MMA_SHAPES[name]
    a_arr, b_arr = np.asarray(a), np.asarray(b)
    if a_arr.shape != (m, k) or b_arr.shape != (k, n):
        raise ValueError(
            f"{name} MMA is m{m}n{n}k{k}: a must be {(m, k)} and b {(k, n)}, "
            f"got {a_arr.shape} and {b_arr.shape}"
        )
    return _run(a_arr, b_arr, c, name, op)


def gemm(
    a: object,
    b: object,
    dtype: str = "fp16",
    *,
    c: object | None = None,
    op: str = "xor",
    sparse: bool = False,
) -> np.ndarray:
    """A whole GEMM by MMA tiles: ragged edges are zero-padded to the instruction shape, K is
    consumed one instruction K step at a time in order (the same numerics as ``mma``).

    ``sparse=True`` first checks that A has the tensor cores' structured pattern along K (2:4;
    1:2 for tf32) and raises ValueError where it does not; the result equals the dense one.
    """
    name = normalize_dtype(dtype)
    if sparse:
        check_nm(np.asarray(a), *((1, 2) if name == "tf32" else (2, 4)))
    return _run(a, b, c, name, op)
