"""Multiplication-free products, functional (NumPy, vectorised): what the ``lmul``, ``shift`` and
``ternary`` multipliers of a systolic array (``units.N.multiplier``, docs/low_precision_units.md,
"Multiplication-free MAC arrays") compute.

    lmul(a, b, mbits)            L-Mul of Luo & Sun, "Addition is All You Need for
                                 Energy-efficient Language Models" (arXiv:2410.00907, 2024):
                                 a float product from one integer add of the operands' bits
    lmul_gemm(a, b, mbits)       a @ b with every product an L-Mul, summed exactly (float64)
    pow2_parts(q)                sign and shift of power-of-two codes (format ``pow2``)
    shift_gemm(a, sign, shift)   a @ (sign x 2^shift) by shifts and adds (DeepShift, Elhoushi et
                                 al. 2019; ShiftAddNet, You et al., NeurIPS 2020): exact
    ternary_gemm(a, w)           a @ w for w in {-1, 0, +1} by add / subtract / skip: exact

Every function raises ValueError naming the argument on a non-2-D operand, mismatched inner
dimensions, a wrong dtype or a value outside its range.
"""

from __future__ import annotations

import numpy as np

from pysim.formats.registry import FloatFormat

__all__ = ["lmul", "lmul_gemm", "lmul_offset_bits", "pow2_parts", "round_mantissa",
           "shift_gemm", "ternary_gemm"]

CHUNK = 1 << 21  # elements of an (rows, k, n) temporary: the GEMMs work in row blocks


def lmul_offset_bits(mbits: int) -> int:
    """l(m) of Luo & Sun (2024), Eq. for L-Mul: the offset 2^-l(m) that stands in for the
    dropped mantissa product x_m y_m: l(m) = m for m <= 3, 3 for m = 4, 4 for m > 4."""
    _check_mbits(mbits)
    return mbits if mbits <= 3 else 3 if mbits == 4 else 4


def _check_mbits(mbits: object) -> int:
    if isinstance(mbits, bool) or not isinstance(mbits, int | np.integer) or not 1 <= mbits <= 23:
        raise ValueError(f"mbits must be an integer in 1..23, got {mbits!r}")
    return int(mbits)


def _real(x: object, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name}: expected a real array, got dtype {arr.dtype}")
    out = arr.astype(np.float64)
    bad = ~np.isfinite(out)
    if bad.any():
        i = tuple(int(j) for j in np.unravel_index(int(np.argmax(bad)), out.shape))
        raise ValueError(f"{name}[{', '.join(map(str, i))}] = {out[i]}: allowed: finite values")
    return out


def round_mantissa(x: np.ndarray, mbits: int) -> np.ndarray:
    """``x`` (float64) with each significand rounded to ``mbits`` fraction bits, ties to even;
    the exponent is float64's (no range limit: the precision of an m-bit mantissa alone)."""
    m = _check_mbits(mbits)
    f, e = np.frexp(_real(x, "x"))  # x = f 2^e, |f| in [0.5, 1)
    return np.ldexp(np.rint(np.ldexp(f, m + 1)), e - (m + 1))


def lmul(a: np.ndarray, b: np.ndarray, mbits: int = 3) -> np.ndarray:
    """L-Mul of ``a`` and ``b`` (broadcast, float64 out) on ``mbits``-bit mantissas.

    Luo & Sun (2024): for x = (1 + x_m) 2^x_e and y = (1 + y_m) 2^y_e, an exact product is
    (1 + x_m + y_m + x_m y_m) 2^(x_e + y_e); L-Mul drops the mantissa product for the constant
    2^-l(m) (``lmul_offset_bits``): (1 + x_m + y_m + 2^-l(m)) 2^(x_e + y_e), one integer add of
    the operands' exponent-and-mantissa bits (their Fig. 2), so a mantissa sum of 1 or more
    carries into the exponent as the integer add does: with s = x_m + y_m + 2^-l(m), the result
    is (1 + frac(s)) 2^(x_e + y_e + floor(s)). The sign is the XOR of the signs; a zero operand
    gives zero (a zero-detect, as a float multiplier has). The operands are first rounded to
    ``mbits`` mantissa bits (``round_mantissa``); the exponent range is float64's.
    """
    m = _check_mbits(mbits)
    x, y = np.broadcast_arrays(round_mantissa(_real(a, "a"), m), round_mantissa(_real(b, "b"), m))
    fx, ex = np.frexp(np.abs(x))
    fy, ey = np.frexp(np.abs(y))
    # integer mantissas in units of 2^-m: 2 f = 1 + x_m with x_m = mx / 2^m
    mx = np.ldexp(fx, m + 1).astype(np.int64) - (1 << m)
    my = np.ldexp(fy, m + 1).astype(np.int64) - (1 << m)
    s = mx + my + (1 << (m - lmul_offset_bits(m)))
    carry, frac = np.divmod(s, 1 << m)
    mag = np.ldexp((frac + (1 << m)).astype(np.float64), ex + ey - 2 + carry - m)
    out = np.where((x == 0) | (y == 0), 0.0, mag)
    return np.where(np.signbit(x) ^ np.signbit(y), -out, out)


def _gemm_operands(a: object, b: object, a_name: str = "a", b_name: str = "b") -> tuple[
        np.ndarray, np.ndarray]:
    aa, bb = np.asarray(a), np.asarray(b)
    if aa.ndim != 2 or bb.ndim != 2 or aa.shape[1] != bb.shape[0]:
        raise ValueError(f"{a_name} must be m x k and {b_name} k x n, got {a_name} "
                         f"{aa.shape}, {b_name} {bb.shape}")
    return aa, bb


def _row_blocks(m: int, k: int, n: int) -> range:
    step = max(1, CHUNK // max(1, k * n))
    return range(0, m, step)


def lmul_gemm(a: np.ndarray, b: np.ndarray, mbits: int = 3) -> np.ndarray:
    """a (m x k) @ b (k x n) with every product an ``lmul`` on ``mbits``-bit mantissas, the
    products summed in float64 (float64 out). L-Mul replaces the multiplier only; the
    accumulation is an ordinary float add (Luo & Sun's dot product)."""
    aa, bb = _gemm_operands(a, b)
    m, k, n = aa.shape[0], aa.shape[1], bb.shape[1]
    out = np.zeros((m, n))
    blocks = _row_blocks(m, k, n)
    for lo in blocks:
        out[lo:lo + blocks.step] = lmul(aa[lo:lo + blocks.step, :, None], bb[None],
                                        mbits).sum(axis=1)
    return out


def pow2_parts(codes: np.ndarray, fmt: FloatFormat) -> tuple[np.ndarray, np.ndarray]:
    """(sign in {-1, 0, +1} as int8, shift p as int64) of codes in a power-of-two format
    (``fmt.is_pow2``, e.g. ``pow2``): the value is sign x 2^p; zero codes have sign 0, p 0."""
    if not (isinstance(fmt, FloatFormat) and fmt.is_pow2):
        raise ValueError(f"fmt must be a power-of-two format (mbits 0, e.g. pow2), got {fmt!r}")
    c = np.asarray(codes).astype(np.int64)
    if (c < 0).any() or (c >> (fmt.ebits + 1)).any():
        raise ValueError(f"codes must be {fmt.encoding_bits}-bit {fmt.name} codes")
    exp = c & ((1 << fmt.ebits) - 1)
    sign = np.where(exp == 0, 0, np.where(c >> fmt.ebits, -1, 1)).astype(np.int8)
    return sign, np.where(exp == 0, 0, exp - fmt.bias)


def shift_gemm(a: np.ndarray, sign: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """a (m x k) @ w (k x n) with w = sign x 2^shift, by shifts and adds (no multiplier).

    ``sign`` in {-1, 0, +1} (0 skips the term), ``shift`` integers in -62..62. Integer ``a``:
    each term is a << (shift - min shift), negated by the sign, summed in int64: with every
    shift >= 0 the int64 result, else that sum x 2^(min shift) as float64 (a right shift of a
    fixed-point operand: exact while the sum stays below 2^53). Float ``a``: each term is
    ldexp(a, shift) (an exponent add: exact within float64's range), summed in float64.
    """
    aa, ss = _gemm_operands(a, sign, "a", "sign")
    pp = np.asarray(shift)
    if pp.shape != ss.shape or not np.issubdtype(pp.dtype, np.integer):
        raise ValueError(f"shift must be integers of sign's shape {ss.shape}, got dtype "
                         f"{pp.dtype}, shape {pp.shape}")
    if not np.isin(ss, (-1, 0, 1)).all():
        raise ValueError("sign must hold -1, 0 or +1 only")
    if pp.size and (pp.min() < -62 or pp.max() > 62):
        raise ValueError(f"shift must lie in -62..62, got {int(pp.min())}..{int(pp.max())}")
    s8, p64 = ss.astype(np.int8), pp.astype(np.int64)
    m, k, n = aa.shape[0], aa.shape[1], ss.shape[1]
    blocks = _row_blocks(m, k, n)
    if np.issubdtype(aa.dtype, np.integer):
        base = int(p64.min()) if p64.size else 0
        base = min(base, 0)
        rel = p64 - base
        acc = np.zeros((m, n), dtype=np.int64)
        for lo in blocks:
            rows = aa[lo:lo + blocks.step].astype(np.int64)[:, :, None]
            terms = np.left_shift(rows, rel[None])
            acc[lo:lo + blocks.step] = np.where(s8 > 0, terms, np.where(s8 < 0, -terms, 0)).sum(
                axis=1)
        return acc if base == 0 else np.ldexp(acc.astype(np.float64), base)
    af = _real(aa, "a")
    out = np.zeros((m, n))
    for lo in blocks:
        terms = np.ldexp(af[lo:lo + blocks.step, :, None], p64[None])
        out[lo:lo + blocks.step] = np.where(s8 > 0, terms, np.where(s8 < 0, -terms, 0.0)).sum(
            axis=1)
    return out


def ternary_gemm(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """a (m x k, integers) @ w (k x n, values in {-1, 0, +1}) as int64, by sign select: each
    term adds a (w = +1), subtracts it (w = -1) or is skipped (w = 0: no accumulator update).
    Equal to NumPy's int64 matmul bit for bit (wrapping like it on overflow)."""
    aa, ww = _gemm_operands(a, w, "a", "w")
    if not np.issubdtype(aa.dtype, np.integer):
        raise ValueError(f"a must be an integer array, got dtype {aa.dtype}")
    if not np.isin(ww, (-1, 0, 1)).all():
        bad = tuple(int(j) for j in np.argwhere(~np.isin(ww, (-1, 0, 1)))[0])
        raise ValueError(f"w[{bad[0]}, {bad[1]}] = {ww[bad]}: allowed: -1, 0, +1")
    m, k, n = aa.shape[0], aa.shape[1], ww.shape[1]
    w8 = ww.astype(np.int8)
    out = np.zeros((m, n), dtype=np.int64)
    blocks = _row_blocks(m, k, n)
    for lo in blocks:
        rows = aa[lo:lo + blocks.step].astype(np.int64)[:, :, None]
        out[lo:lo + blocks.step] = np.where(w8 > 0, rows, np.where(w8 < 0, -rows, 0)).sum(axis=1)
    return out
