"""Functional low-precision kernels, NumPy-exact (C++ in csrc/kernels/).

    xnor_gemm(a, b)                      int8 +-1 matrices -> a @ b as int32, by XNOR-popcount
                                         on 64-bit words
    pack_pm1(x), xnor_gemm_packed(...)   the same on operands packed once by the caller
    bitserial_gemm(a, b, a_bits, b_bits, signed=True)
                                         integers within the bit widths -> a @ b as int64, by
                                         bit planes (two's complement sign planes)
    gemm(a, b)                           int8 / int16 -> a @ b as int32

Every function raises ValueError naming the argument on a wrong dtype, a non-2-D operand,
mismatched inner dimensions, a bit width outside 1..32 or a value outside its range.
"""

from __future__ import annotations

import numpy as np

from pysim import _core
from pysim.units._args import as_array, check_bits, is_int, signed_pair

__all__ = ["bitserial_gemm", "gemm", "isa", "pack_pm1", "xnor_gemm", "xnor_gemm_packed"]


def _threads(threads: object) -> int:
    if not is_int(threads) or threads < 0:
        raise ValueError(f"threads must be an integer >= 0 (0: all cores), got {threads!r}")
    return int(threads)


def _isa(isa: object) -> str:
    if not isinstance(isa, str):
        raise ValueError(f"isa must be a string, got {isa!r}")
    return isa


def xnor_gemm(a: np.ndarray, b: np.ndarray, *, threads: int = 0, isa: str = "auto") -> np.ndarray:
    """a @ b for int8 matrices of +-1 values (a: m x k, b: k x n) -> int32 (m x n).

    Packs both operands into 64-bit words (any k; padding bits never count) and computes
    k - 2 popcount(a_row XOR b_col) with the widest popcount the CPU has (see ``isa()``).
    ``threads``: rows are split over that many threads (0: all cores, for large products only).
    ``isa`` forces a
    popcount kernel ("avx512-vpopcntdq", "popcnt", "portable"; ValueError if this CPU lacks it).
    The result is the same either way.
    """
    return _core.xnor_gemm(as_array(a, "a"), as_array(b, "b"), _threads(threads), _isa(isa))


def pack_pm1(x: np.ndarray) -> np.ndarray:
    """Pack the rows of an int8 +-1 matrix (rows x k) into uint64 words (rows x ceil(k / 64)):
    bit k % 64 of word k // 64 is 1 for +1, 0 for -1; padding bits are zero. Pack B as
    ``pack_pm1(b.T)`` for ``xnor_gemm_packed``."""
    return _core.pack_pm1(as_array(x, "x"))


def xnor_gemm_packed(
    a_packed: np.ndarray, b_packed: np.ndarray, k: int, *, threads: int = 0, isa: str = "auto"
) -> np.ndarray:
    """A @ B from ``pack_pm1(a)`` (m x ceil(k/64)) and ``pack_pm1(b.T)`` (n x ceil(k/64)) ->
    int32 (m x n). Raises ValueError on a mismatched packing: a word count other than
    ceil(k / 64), or bits set past k."""
    if not is_int(k):
        raise ValueError(f"k must be an integer >= 0, got {k!r}")
    return _core.xnor_gemm_packed(
        as_array(a_packed, "a_packed"), as_array(b_packed, "b_packed"), int(k), _threads(threads),
        _isa(isa),
    )


def bitserial_gemm(
    a: np.ndarray, b: np.ndarray, a_bits: int, b_bits: int, signed: object = True
) -> np.ndarray:
    """a @ b for integer matrices whose values fit ``a_bits`` / ``b_bits`` (1..32) -> int64.

    ``signed``: one bool for both operands or a pair (a_signed, b_signed); signed values are
    two's complement, their top bit plane weighing -2^(bits-1). Computed plane by plane as
    sum_p sum_q +-2^(p+q) popcount(plane_p(a_row) AND plane_q(b_col)); arithmetic modulo 2^64,
    like NumPy's int64 matmul. Raises ValueError naming the first value out of range.
    """
    a_signed, b_signed = signed_pair(signed)
    return _core.bitserial_gemm(
        as_array(a, "a"), as_array(b, "b"), check_bits("a_bits", a_bits),
        check_bits("b_bits", b_bits), a_signed, b_signed,
    )


def gemm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for int8 / int16 matrices (mixed allowed) with int32 accumulation -> int32, equal
    to ``a.astype(np.int32) @ b.astype(np.int32)`` (wrapping like it on overflow)."""
    return _core.int_gemm(as_array(a, "a"), as_array(b, "b"))


def isa() -> str:
    """The popcount kernel ``xnor_gemm`` uses here: "avx512-vpopcntdq", "popcnt" or
    "portable"."""
    return _core.xnor_gemm_isa()
