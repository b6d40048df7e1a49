"""Element-wise rounding of real numbers to a format's codes, and codes back to values.

Vectorised NumPy on float64 (every float32 and every scaled value is exact in it, so each value
is rounded once). Floats: a magnitude a has exponent e = max(floor(log2 a), emin) and rounds to
k = round(a / 2^(e - mbits)), an integer; its code without the sign is (e - emin) * 2^mbits + k,
which also carries a mantissa overflow into the next exponent (IEEE 754-2019 Section 4.3).
``rounding``: "nearest_even" (ties to the even code) or "stochastic" (round up with
probability equal to the fraction: unbiased, deterministic for a given ``rng``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from pysim.formats.registry import CodebookFormat, FloatFormat, IntFormat

__all__ = ["check_finite", "decode", "encode"]

ROUNDINGS = ("nearest_even", "stochastic")


def _round(t: np.ndarray, rounding: str, rng: np.random.Generator | None) -> np.ndarray:
    if rounding == "nearest_even":
        return np.rint(t)  # IEEE round half to even
    assert rng is not None
    return np.floor(t + rng.random(t.shape))


def floor_log2(a: np.ndarray) -> np.ndarray:
    """floor(log2 a) of finite float64 a > 0 from its exponent field (int64; 0 and float64
    subnormals give -1023, below every format's emin). 10x faster than np.frexp."""
    return ((np.ascontiguousarray(a, dtype=np.float64).view(np.int64) >> 52) & 0x7FF) - 1023


def _code_dtype(bits: int) -> type[np.unsignedinteger]:
    return np.uint8 if bits <= 8 else np.uint16 if bits <= 16 else np.uint32


def check_finite(x: np.ndarray, fmt_name: str, name: str) -> None:
    bad = ~np.isfinite(x)
    if bad.any():
        i = np.unravel_index(int(np.argmax(bad)), x.shape)
        where = ", ".join(str(int(j)) for j in i)
        raise ValueError(f"{name}[{where}] = {x[i]}: format {fmt_name} has no NaN or inf; "
                         "allowed: finite values")


def encode_float(x: np.ndarray, fmt: FloatFormat, *, rounding: str, saturate: bool,
                 rng: np.random.Generator | None, name: str) -> np.ndarray:
    """Codes of float64 ``x`` in ``fmt``. Past the largest finite value: ``saturate`` clamps to
    it (OCP OFP8 v1.0 saturating conversion, MX element conversion); otherwise "ieee" formats
    give inf, "fn" (E4M3) NaN, as IEEE 754 and ml_dtypes do; "none" formats always saturate.
    NaN gives the format's NaN; raises ValueError for NaN into a format without one."""
    if fmt.specials == "none" and np.isnan(x).any():
        check_finite(np.where(np.isinf(x), 0.0, x), fmt.name, name)
    neg = np.signbit(x)
    a = np.abs(x)
    finite = np.isfinite(a)
    a = np.where(finite, a, 0.0)
    e = np.maximum(floor_log2(a), fmt.emin)
    # a / 2^(e - mbits), the power of two built from its exponent field (exact, no ldexp)
    k = _round(a * ((1023 + fmt.mbits - e) << 52).view(np.float64), rounding, rng)
    mag = ((e - fmt.emin).astype(np.int64) << fmt.mbits) + k.astype(np.int64)
    over = (mag > fmt.max_code) | ~finite
    if over.any():
        top = (1 << (fmt.ebits + fmt.mbits)) - 1
        if saturate or fmt.specials == "none":
            past = fmt.max_code
        elif fmt.specials == "ieee":
            past = top - ((1 << fmt.mbits) - 1)  # exponent all ones, mantissa 0: inf
        else:
            past = top  # S.1111.111: NaN
        mag = np.where(over, past, mag)
        nan = np.isnan(x)
        if nan.any():  # a quiet NaN: exponent all ones, mantissa MSB set (ml_dtypes, NumPy)
            qnan = top if fmt.specials == "fn" else top - ((1 << (fmt.mbits - 1)) - 1)
            mag = np.where(nan, qnan, mag)
    sign = neg.astype(np.int64) << (fmt.ebits + fmt.mbits)
    return (mag | sign).astype(_code_dtype(fmt.encoding_bits))


@lru_cache(maxsize=32)
def _float_table(fmt: FloatFormat) -> np.ndarray:
    """Value of every code of a <= 16-bit float format (read-only float32 table)."""
    codes = np.arange(1 << fmt.encoding_bits, dtype=np.int64)
    mag = codes & ((1 << (fmt.ebits + fmt.mbits)) - 1)
    exp, man = mag >> fmt.mbits, mag & ((1 << fmt.mbits) - 1)
    val = np.where(exp == 0, np.ldexp(man.astype(np.float64), fmt.emin - fmt.mbits),
                   np.ldexp((man + (1 << fmt.mbits)).astype(np.float64),
                            exp - fmt.bias - fmt.mbits))
    top = (1 << fmt.ebits) - 1
    if fmt.specials == "ieee":
        val = np.where(exp == top, np.where(man == 0, np.inf, np.nan), val)
    elif fmt.specials == "fn":
        val = np.where(mag == (1 << (fmt.ebits + fmt.mbits)) - 1, np.nan, val)
    val = np.where(codes >> (fmt.ebits + fmt.mbits) == 1, -val, val).astype(np.float32)
    val.flags.writeable = False
    return val


def decode_float(codes: np.ndarray, fmt: FloatFormat) -> np.ndarray:
    if fmt.encoding_bits <= 16:
        return _float_table(fmt)[codes]
    # fp32 and tf32: the code is the top bits of a binary32 word
    return (codes.astype(np.uint32) << np.uint32(32 - fmt.encoding_bits)).view(np.float32)


def encode_int(x: np.ndarray, fmt: IntFormat, *, rounding: str,
               rng: np.random.Generator | None, name: str) -> np.ndarray:
    """Integer codes of float64 ``x`` (in units of 2^-frac_bits), saturated to qmin..qmax.
    Raises ValueError on NaN or inf."""
    check_finite(x, fmt.name, name)
    k = _round(np.ldexp(x, fmt.frac_bits), rounding, rng)
    if fmt.signed:
        dtype: type[np.integer] = np.int8 if fmt.bits <= 8 else np.int16
    else:
        dtype = np.uint8 if fmt.bits <= 8 else np.uint16
    return np.clip(k, fmt.qmin, fmt.qmax).astype(dtype)


def encode_codebook(x: np.ndarray, fmt: CodebookFormat, *, rounding: str,
                    rng: np.random.Generator | None, name: str) -> np.ndarray:
    """Index of the nearest code-book value (ties to the even index), or for "stochastic" one
    of the two neighbours with probability by distance (unbiased). Saturates at the ends;
    raises ValueError on NaN or inf."""
    check_finite(x, fmt.name, name)
    v = np.asarray(fmt.values, dtype=np.float64)
    t = np.clip(x, v[0], v[-1])
    lo = np.clip(np.searchsorted(v, t, side="right") - 1, 0, len(v) - 2)
    frac = (t - v[lo]) / (v[lo + 1] - v[lo])
    if rounding == "nearest_even":
        up = (frac > 0.5) | ((frac == 0.5) & (lo % 2 == 1))
    else:
        assert rng is not None
        up = rng.random(t.shape) < frac
    return (lo + up).astype(np.uint8)


def _encode(x: np.ndarray, fmt: IntFormat | FloatFormat | CodebookFormat, rounding: str,
            saturate: bool, rng: np.random.Generator | None, name: str) -> np.ndarray:
    if isinstance(fmt, FloatFormat):
        return encode_float(x, fmt, rounding=rounding, saturate=saturate, rng=rng, name=name)
    if isinstance(fmt, IntFormat):
        return encode_int(x, fmt, rounding=rounding, rng=rng, name=name)
    return encode_codebook(x, fmt, rounding=rounding, rng=rng, name=name)


CHUNK = 1 << 16  # elements per pass: the temporaries stay in cache
NATIVE_MIN = 1 << 12  # elements from which the C++ kernel runs (below: NumPy's is as fast)


def _encode_native(flat: np.ndarray, fmt: IntFormat | FloatFormat | CodebookFormat,
                   rounding: str, saturate: bool, rng: np.random.Generator | None, name: str,
                   shape: tuple[int, ...], scales: np.ndarray | None = None) -> np.ndarray:
    """The C++ kernel (csrc/kernels/quantize.cpp): the same codes as the NumPy functions, bit
    for bit, with the same stochastic draws (one per element, in order). An error names the
    element by its index in the tensor of ``shape``. ``scales``: ``flat`` is divided by one
    per ``flat.size // scales.size`` consecutive elements first (a NaN scale gives 0), the
    caller's guarantee being that the quotients are finite (finite values over scales that
    are finite and not 0)."""
    from pysim import _core

    if scales is None:  # (with scales the quotients are finite: nothing for these to find)
        if not isinstance(fmt, FloatFormat):
            check_finite(flat.reshape(shape), fmt.name, name)
        elif fmt.specials == "none" and np.isnan(flat).any():
            check_finite(np.where(np.isinf(flat), 0.0, flat).reshape(shape), fmt.name, name)
    u = None if rounding == "nearest_even" else (
        rng.random(flat.shape) if rng is not None else None)
    if rounding != "nearest_even" and u is None:
        raise ValueError("stochastic rounding needs a generator (rng)")
    block = flat.size // scales.size if scales is not None and scales.size else 1
    if isinstance(fmt, CodebookFormat):
        return _core.encode_codebook(flat, values=np.asarray(fmt.values, dtype=np.float64),
                                     u=u, scales=scales, block=block)
    if isinstance(fmt, FloatFormat):
        return _core.encode_float(flat, ebits=fmt.ebits, mbits=fmt.mbits, emin=fmt.emin,
                                  max_code=fmt.max_code, specials=fmt.specials,
                                  saturate=saturate, u=u, scales=scales, block=block)
    return _core.encode_int(flat, bits=fmt.bits, signed=fmt.signed, frac_bits=fmt.frac_bits,
                            qmin=fmt.qmin, qmax=fmt.qmax, u=u, scales=scales, block=block)


def encode_scaled(xb: np.ndarray, s: np.ndarray,
                  fmt: IntFormat | FloatFormat | CodebookFormat, *,
                  rounding: str, saturate: bool, rng: np.random.Generator | None,
                  name: str) -> np.ndarray | None:
    """Codes of ``xb / s[..., None]`` (blocks ``xb`` of shape (R, G, S), float64 scales ``s``
    of shape (R, G), finite and not 0 where not NaN; a NaN scale's block gives 0): what
    ``encode`` makes of that quotient, bit for bit, with the division done in C++ block by
    block instead of as a NumPy temporary. None where the C++ kernel does not apply (fewer
    than NATIVE_MIN elements, blocks that are not one contiguous array): the caller divides
    itself."""
    if xb.size < NATIVE_MIN or not xb.flags.c_contiguous or xb.dtype != np.float64:
        return None
    flat = xb.reshape(-1)
    return _encode_native(flat, fmt, rounding, saturate, rng, name, xb.shape,
                          np.ascontiguousarray(s, dtype=np.float64).reshape(-1)
                          ).reshape(xb.shape)


def encode(x: np.ndarray, fmt: IntFormat | FloatFormat | CodebookFormat, *, rounding: str,
           saturate: bool, rng: np.random.Generator | None, name: str,
           native: bool | None = None) -> np.ndarray:
    """Codes of float64 ``x`` in element format ``fmt`` (see the encode_* functions). Tensors
    of NATIVE_MIN elements or more run in C++ (``native``: force it on or off); the rest in
    NumPy, in chunks of CHUNK elements (stochastic draws follow the same
    order either way, so a seed fixes the result)."""
    flat = np.ascontiguousarray(x, dtype=np.float64).reshape(-1)
    if native if native is not None else flat.size >= NATIVE_MIN:
        return _encode_native(flat, fmt, rounding, saturate, rng, name,
                              x.shape).reshape(x.shape)
    if flat.size <= CHUNK:
        return _encode(flat, fmt, rounding, saturate, rng, name).reshape(x.shape)
    if not (isinstance(fmt, FloatFormat) and fmt.specials != "none"):
        check_finite(np.where(np.isinf(x), 0.0, x) if isinstance(fmt, FloatFormat)
                     else x, fmt.name, name)  # error indices refer to the whole tensor
    first = _encode(flat[:CHUNK], fmt, rounding, saturate, rng, name)
    out = np.empty(flat.size, dtype=first.dtype)
    out[:CHUNK] = first
    for lo in range(CHUNK, flat.size, CHUNK):
        out[lo:lo + CHUNK] = _encode(flat[lo:lo + CHUNK], fmt, rounding, saturate, rng, name)
    return out.reshape(x.shape)


def decode(codes: np.ndarray, fmt: IntFormat | FloatFormat | CodebookFormat) -> np.ndarray:
    """Values (float32) of ``codes`` in element format ``fmt``."""
    if isinstance(fmt, FloatFormat):
        return decode_float(codes, fmt)
    if isinstance(fmt, IntFormat):
        out = codes.astype(np.float32)
        return np.ldexp(out, -fmt.frac_bits).astype(np.float32) if fmt.frac_bits else out
    return np.asarray(fmt.values, dtype=np.float32)[codes]
