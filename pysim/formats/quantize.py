"""Functional quantize / dequantize and GEMM in every registered format.

    q = quantize(x, "mxfp4")                       # 32-element blocks along the last axis
    q = quantize(w, "int4", per_group(128), scale_dtype="fp16")
    y = dequantize(q)                              # float32, x's shape
    out = gemm(quantize(a, "int8", per_channel(0)), quantize(b, "int8", per_channel(1)))

A scaled element is x / scale rounded in the element format and saturated at its largest finite
value (MX v1.0 Section 6.3 for MX; the same rule for every other scaled format, since a rounded
scale can put x / scale just past the range). Unscaled floats follow the format's own overflow
rule (see ``elements.encode_float``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from pysim.formats import elements
from pysim.formats import granularity as gr
from pysim.formats.registry import (
    CodebookFormat,
    FloatFormat,
    Format,
    IntFormat,
    MXFormat,
    get,
)

__all__ = ["QuantizedTensor", "dequantize", "gemm", "quantize"]

# QLoRA quantizes NF4 weights in blocks of 64 with one absmax scale each (Section 3, "4-bit
# NormalFloat"); unscaled use means the input is already in [-1, 1].
NF4_BLOCK = 64


@dataclass(frozen=True, eq=False)
class QuantizedTensor:
    """A tensor in ``fmt``: ``codes`` (one unpacked code per element, ``shape``: unsigned bit
    patterns for floats, integers for integer formats, indices for code books), ``scales``
    (float32 values exactly representable in ``scale_dtype``, one per (row, group) of
    ``granularity``'s layout, see ``pysim.formats.granularity``; None when unscaled)."""

    fmt: Format
    codes: np.ndarray
    scales: np.ndarray | None
    granularity: gr.Granularity | None
    scale_dtype: str | None
    shape: tuple[int, ...]
    rounding: str

    @property
    def element(self) -> IntFormat | FloatFormat | CodebookFormat:
        return self.fmt.element if isinstance(self.fmt, MXFormat) else self.fmt

    @property
    def scale_codes(self) -> np.ndarray | None:
        """The scales' bit patterns in ``scale_dtype`` (E8M0: biased exponent, 0xFF NaN)."""
        if self.scales is None or self.scale_dtype is None:
            return None
        if self.scale_dtype == "e8m0":
            s = self.scales.astype(np.float64)
            nan = np.isnan(s)
            e = np.frexp(np.where(nan, 1.0, s))[1] - 1 + 127
            return np.where(nan, 255, e).astype(np.uint8)
        sfmt = get(self.scale_dtype)
        assert isinstance(sfmt, FloatFormat)
        return elements.encode_float(self.scales.astype(np.float64), sfmt,
                                     rounding="nearest_even", saturate=False, rng=None,
                                     name="scales")


def _defaults(fmt: Format, g: object, scale_dtype: str | None, name: str) -> tuple[
        gr.Granularity | None, str | None]:
    if g is None and isinstance(fmt, MXFormat):
        g = gr.per_block(fmt.block_size)
    elif g is None and isinstance(fmt, CodebookFormat):
        g = gr.per_group(NF4_BLOCK)
    gran = gr.parse(g)
    if isinstance(fmt, MXFormat):
        if gran is None or gran.kind not in ("group", "block") or gran.size != fmt.block_size:
            raise ValueError(f"{name}: {fmt.name} takes blocks of {fmt.block_size} elements "
                             f"(MX v1.0 Section 5, Table 1), got granularity {gran}; allowed: "
                             f"per_block({fmt.block_size}, axis) (other scalings: quantize to "
                             f"{fmt.element.name} with a granularity and scale_dtype)")
        if scale_dtype not in (None, fmt.scale_dtype):
            raise ValueError(f"{name}: {fmt.name} scales are {fmt.scale_dtype} (MX v1.0 "
                             f"Section 5.4), got scale_dtype {scale_dtype!r}; allowed: "
                             f"{fmt.scale_dtype}")
        return gran, fmt.scale_dtype
    if gran is None:
        if scale_dtype is not None:
            raise ValueError(f"{name}: scale_dtype {scale_dtype!r} needs a granularity; "
                             "allowed: 'tensor', 'channel', 'group:N', 'block[:N]'")
        return None, None
    return gran, scale_dtype or "fp32"


def quantize(x: np.ndarray, fmt: str | Format, granularity: object = None, *,
             scale_dtype: str | None = None, rounding: str = "nearest_even",
             seed: int | None = None, saturate: bool = False,
             name: str = "x") -> QuantizedTensor:
    """``x`` (any real array) in format ``fmt``.

    ``granularity``: None (no scale: MX formats default to 32-element blocks along the last
    axis, NF4 to QLoRA's groups of 64, everything else to a plain cast), or a Granularity /
    "tensor" / "channel" / "group:N" / "block:N". ``scale_dtype``: the scales' dtype (fp32,
    fp16, bf16, fp8_e4m3, e8m0; fp32 by default, e8m0 for MX). ``rounding``: "nearest_even" or
    "stochastic" (needs ``seed``; the same seed gives the same codes). ``saturate``: clamp an
    unscaled float past its range to the largest finite value instead of inf / NaN (scaled
    elements always saturate). ``name`` names the tensor in error messages.

    Raises ValueError (naming the tensor, the value and what is allowed) for an unknown format
    or rounding, a group size that does not divide its axis, NaN or inf into a format without
    them, or a scale its dtype cannot represent.
    """
    f = get(fmt)
    if rounding not in elements.ROUNDINGS:
        raise ValueError(f"{name}: rounding must be one of {', '.join(elements.ROUNDINGS)}; "
                         f"got {rounding!r}")
    if rounding == "stochastic" and (seed is None or isinstance(seed, bool)
                                     or not isinstance(seed, int | np.integer)):
        raise ValueError(f"{name}: rounding='stochastic' needs an integer seed; got {seed!r}")
    xa = np.asarray(x)
    if not (np.issubdtype(xa.dtype, np.floating) or np.issubdtype(xa.dtype, np.integer)
            or xa.dtype.name in ("bfloat16", "float16")):
        raise ValueError(f"{name}: expected a real array, got dtype {xa.dtype}")
    gran, sdt = _defaults(f, granularity, scale_dtype, name)
    fused = _quantize_fused(xa, f, gran, sdt, rounding, seed, saturate, name)
    if fused is not None:
        return fused
    return _quantize_numpy(xa, f, gran, sdt, rounding, seed, saturate, name)


# The input dtypes the fused kernel reads as they are (anything else is converted to float64).
_FUSED_INPUTS = ("float16", "bfloat16", "float32", "float64")


def _quantize_fused(xa: np.ndarray, f: Format, gran: gr.Granularity | None, sdt: str | None,
                    rounding: str, seed: int | None, saturate: bool,
                    name: str) -> QuantizedTensor | None:
    """quantize in one C++ call (``_core.quantize_fused``: finite check, block absmax, scale,
    division and encoding in one or two passes over ``xa`` in its own dtype, no float64 copy),
    or None where it does not apply (fewer than ``elements.NATIVE_MIN`` elements, another
    input dtype) or where the NumPy path raises (the caller reruns it for the message). The
    blocks are those of ``gr.layout``: one contiguous array for the usual layouts, else a copy
    in the input's dtype."""
    from pysim import _core

    if xa.size < elements.NATIVE_MIN or xa.dtype.name not in _FUSED_INPUTS:
        return None
    elem = f.element if isinstance(f, MXFormat) else f
    kw: dict[str, Any] = {}
    if isinstance(elem, FloatFormat):
        kw.update(element="float", ebits=elem.ebits, mbits=elem.mbits, emin=elem.emin,
                  max_code=elem.max_code, specials=elem.specials, saturate=saturate)
        out_dtype: np.dtype = np.dtype(elements._code_dtype(elem.encoding_bits))
        reject = "nan" if elem.specials == "none" else "none"
    elif isinstance(elem, IntFormat):
        kw.update(element="int", bits=elem.bits, frac_bits=elem.frac_bits, qmin=elem.qmin,
                  qmax=elem.qmax)
        out_dtype = np.dtype((np.int8 if elem.bits <= 8 else np.int16) if elem.signed
                             else (np.uint8 if elem.bits <= 8 else np.uint16))
        reject = "nonfinite"
    else:
        kw.update(element="codebook", values=np.asarray(elem.values, dtype=np.float64))
        out_dtype = np.dtype(np.uint8)
        reject = "nonfinite"
    if gran is None:
        xb = np.ascontiguousarray(xa).reshape(-1)
        block, from_blocks, grid = xb.size, None, (1, 1)
    else:
        assert sdt is not None
        try:
            to_blocks, from_blocks, grid = gr.layout(xa.shape, gran, name)
        except ValueError:
            return None  # the NumPy path raises, after any check that comes first
        blocks = np.ascontiguousarray(to_blocks(xa))
        block, xb = blocks.shape[2], blocks.reshape(-1)
        if sdt == "e8m0":
            kw.update(scale="e8m0", emax=elem.emax)
            reject = "none"  # a block holding NaN or inf has a NaN scale
        else:
            sfmt = get(sdt)
            assert isinstance(sfmt, FloatFormat)
            kw.update(scale="float", scale_ebits=sfmt.ebits, scale_mbits=sfmt.mbits,
                      scale_emin=sfmt.emin, scale_max_code=sfmt.max_code,
                      scale_specials=sfmt.specials, max_abs=float(elem.max_abs))
            reject = "nonfinite"
    u = np.random.default_rng(seed).random(xb.size) if rounding == "stochastic" else None
    got = _core.quantize_fused(xb, block=block, reject=reject, u=u, **kw)
    if got is None:
        return None
    codes, s = got
    codes = codes.view(out_dtype)
    if gran is None or from_blocks is None or s is None:
        return QuantizedTensor(f, codes.reshape(xa.shape), None, None, None, xa.shape, rounding)
    codes = np.ascontiguousarray(from_blocks(codes.reshape(*grid, block)))
    return QuantizedTensor(f, codes, s.reshape(grid), gran, sdt, xa.shape, rounding)


def _quantize_numpy(xa: np.ndarray, f: Format, gran: gr.Granularity | None, sdt: str | None,
                    rounding: str, seed: int | None, saturate: bool,
                    name: str) -> QuantizedTensor:
    """quantize on a float64 copy, the absmax and scales in NumPy and the division block by
    block in C++ where the blocks are one contiguous array (the reference the fused kernel
    matches, and the path that raises for bad input)."""
    rng = np.random.default_rng(seed) if rounding == "stochastic" else None
    x64 = xa.astype(np.float64)
    elem = f.element if isinstance(f, MXFormat) else f
    if gran is None:
        codes = elements.encode(x64, elem, rounding=rounding, saturate=saturate, rng=rng,
                                name=name)
        return QuantizedTensor(f, codes, None, None, None, x64.shape, rounding)
    assert sdt is not None
    if sdt != "e8m0":  # an absmax scale needs finite values (E8M0 has NaN for such blocks)
        elements.check_finite(x64, f"{f.name} with {sdt} scales", name)
    to_blocks, from_blocks, _ = gr.layout(x64.shape, gran, name)
    xb = to_blocks(x64)
    amax = np.max(np.abs(xb), axis=2, initial=0.0) if xb.size else np.zeros(xb.shape[:2])
    s = gr.scales(np.where(np.isnan(xb).any(axis=2), np.nan, amax), elem, sdt, name)
    # MX v1.0 Section 6.3: P_i = quantize(V_i / X), normals saturated; a NaN-scale block's
    # elements are don't-cares (its values decode as NaN), stored as zeros. The C++ kernel
    # divides block by block where it applies (elements.encode_scaled), else NumPy here.
    codes_b = elements.encode_scaled(xb, s, elem, rounding=rounding, saturate=True, rng=rng,
                                     name=name)
    if codes_b is None:
        t = np.where(np.isnan(s)[..., None], 0.0, xb / s[..., None])
        codes_b = elements.encode(t, elem, rounding=rounding, saturate=True, rng=rng, name=name)
    codes = from_blocks(codes_b)
    return QuantizedTensor(f, np.ascontiguousarray(codes), s.astype(np.float32), gran, sdt,
                           x64.shape, rounding)


def dequantize(q: QuantizedTensor, dtype: type[np.floating] = np.float32,
               out: np.ndarray | None = None) -> np.ndarray:
    """The values ``q`` holds, of ``q.shape``: element x scale, rounded once to ``dtype``
    (float32; float64 gives them exactly). ``out`` (as NumPy's ufuncs take it): an array of
    ``q.shape`` and ``dtype`` to write them into and return, so a loop that dequantizes into
    one buffer does not fault in a new output's pages each time."""
    if out is not None:
        if (not isinstance(out, np.ndarray) or out.dtype != np.dtype(dtype)
                or out.shape != tuple(q.shape) or not out.flags.writeable):
            got = (f"{out.dtype} array of shape {out.shape}"
                   + ("" if out.flags.writeable else ", read-only")
                   if isinstance(out, np.ndarray) else type(out).__name__)
            raise ValueError(f"dequantize: out must be a writeable {np.dtype(dtype)} array of "
                             f"shape {tuple(q.shape)}, got {got}")
        # the kernel reads codes it has checked against its table while writing out: an out
        # over q's own arrays gets the values through a new array instead
        overlaps = any(np.may_share_memory(out, a) for a in (q.codes, q.scales)
                       if a is not None)
        if (np.dtype(dtype) == np.float32 and out.flags.c_contiguous and not overlaps
                and _dequantize_fused(q, out) is not None):
            return out
        np.copyto(out, dequantize(q, dtype))
        return out
    if np.dtype(dtype) == np.float32:
        fused = _dequantize_fused(q)
        if fused is not None:
            return fused
    vals = elements.decode(q.codes, q.element)
    if q.scales is None or q.granularity is None:
        return np.asarray(vals, dtype=dtype).reshape(q.shape)
    to_blocks, from_blocks, _ = gr.layout(q.shape, q.granularity, "q")
    if np.dtype(dtype) == np.float32:
        # Elements decode to float32 numbers and scales are stored as float32: their product
        # is exact in float64 and rounded once to float32 below; a float32 multiply of the
        # same two numbers rounds that exact product once too (IEEE 754), with no float64
        # temporaries.
        out = to_blocks(vals) * q.scales.astype(np.float32)[..., None]
        return np.ascontiguousarray(from_blocks(out))
    out = to_blocks(vals.astype(np.float64)) * q.scales.astype(np.float64)[..., None]
    return np.ascontiguousarray(from_blocks(out.astype(dtype)))


@lru_cache(maxsize=64)
def _decode_table(elem: IntFormat | FloatFormat | CodebookFormat, code_dtype: str) -> np.ndarray:
    """float32 value of every code of ``code_dtype`` (8 or 16 bits), indexed by its bits read
    as unsigned: ``elements.decode`` of each (a code book's and a narrow float's table stop at
    their last code; a code past it is NumPy's IndexError)."""
    dt = np.dtype(code_dtype)
    table: np.ndarray
    if isinstance(elem, CodebookFormat):
        table = np.asarray(elem.values, dtype=np.float32)
    elif isinstance(elem, FloatFormat):
        table = elements.decode(np.arange(1 << elem.encoding_bits, dtype=dt), elem)
    else:
        bits = np.arange(1 << (8 * dt.itemsize), dtype=f"u{dt.itemsize}")
        table = elements.decode(bits.view(dt), elem)
    table = np.ascontiguousarray(table, dtype=np.float32)
    table.flags.writeable = False
    return table


def _half_words(elem: IntFormat | FloatFormat | CodebookFormat, codes: np.ndarray) -> str:
    """'bf16' / 'fp16' where the codes are bfloat16 / binary16 words (IEEE specials, 16-bit
    codes), so dequantize converts them instead of looking them up; '' otherwise."""
    if not isinstance(elem, FloatFormat) or codes.dtype.itemsize != 2 or elem.specials != "ieee":
        return ""
    return {(8, 7): "bf16", (5, 10): "fp16"}.get((elem.ebits, elem.mbits), "")


def _dequantize_fused(q: QuantizedTensor, out: np.ndarray | None = None) -> np.ndarray | None:
    """dequantize to float32 in one C++ pass (``_core.dequantize_fused``: the code's value from
    a table times its block's scale, a float32 product as NumPy's, written straight into the
    output: ``out``, C-contiguous float32 of ``q.shape``, if given), or None where it does not
    apply (fewer than ``elements.NATIVE_MIN`` codes, codes wider than 16 bits, a code past the
    table, a block layout that is not the array's own order while ``out`` is given): the
    NumPy path then runs."""
    from pysim import _core

    codes = q.codes
    if (codes.size < elements.NATIVE_MIN or codes.dtype.kind not in "iu"
            or codes.dtype.itemsize > 2 or codes.shape != q.shape):
        return None
    elem = q.element
    if isinstance(elem, FloatFormat) and elem.encoding_bits > 16:
        return None
    table = _decode_table(elem, codes.dtype.str)
    flat = None if out is None else out.reshape(-1)  # a view: out is C-contiguous
    if q.scales is None or q.granularity is None:
        got = _core.dequantize_fused(codes, table=table, half=_half_words(elem, codes),
                                     out=flat)
        return None if got is None else got.reshape(q.shape)
    to_blocks, from_blocks, grid = gr.layout(q.shape, q.granularity, "q")
    blocks = to_blocks(codes)
    if flat is not None and not (blocks.flags.c_contiguous and np.shares_memory(blocks, codes)):
        return None  # blocks not in the array's own order: their values are not out's
    cb = np.ascontiguousarray(blocks)
    scales = np.ascontiguousarray(q.scales, dtype=np.float32).reshape(-1)
    if scales.size != grid[0] * grid[1]:
        return None
    got = _core.dequantize_fused(cb, table=table, scales=scales, block=cb.shape[2], out=flat)
    if got is None:
        return None
    return np.ascontiguousarray(from_blocks(got.reshape(cb.shape)))


def _k_scales(q: QuantizedTensor, k_axis: int, k: int) -> tuple[np.ndarray, int] | None:
    """Scales of a 2-D integer operand as (outer index, K chunk) -> scale with the chunk
    length, or None if a scale varies within the outer rows in a way that does not factor
    out of the K sum (per-channel along K)."""
    g = q.granularity
    if q.scales is None or g is None:
        return None if q.scales is not None else (np.ones((1, 1)), k)
    outer = q.shape[1 - k_axis]
    if g.kind == "tensor":
        return np.full((outer, 1), float(q.scales.reshape(-1)[0])), k
    if g.axis % 2 != k_axis and g.kind == "channel":
        return q.scales.astype(np.float64).reshape(outer, 1), k
    if g.axis % 2 == k_axis and g.kind in ("group", "block"):
        return q.scales.astype(np.float64).reshape(outer, k // g.size), g.size
    return None


def gemm(a: QuantizedTensor, b: QuantizedTensor) -> np.ndarray:
    """a @ b for a (m x k) and b (k x n) in their formats.

    Two integer operands: exact int64 products, summed per K chunk over which both scales are
    constant (per tensor, per row of a / column of b, per group along K) and scaled there in
    float64 -> float32; unscaled integers give the exact int64 product. Anything else (a float,
    code-book or MX operand, or an integer scaled per channel along K) dequantizes to float32
    and multiplies in float32. Raises ValueError on non-2-D operands or mismatched K.
    """
    if len(a.shape) != 2 or len(b.shape) != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"gemm needs a (m x k) and b (k x n); got a {a.shape}, b {b.shape}")
    k = a.shape[1]
    if isinstance(a.element, IntFormat) and isinstance(b.element, IntFormat):
        ca = a.codes.astype(np.int64)
        cb = b.codes.astype(np.int64)
        if a.scales is None and b.scales is None and not (a.element.frac_bits
                                                          or b.element.frac_bits):
            return ca @ cb
        sa, sb = _k_scales(a, 1, k), _k_scales(b, 0, k)
        if sa is not None and sb is not None:
            chunk = math.gcd(sa[1], sb[1]) or 1
            out = np.zeros((a.shape[0], b.shape[1]))
            frac = 2.0 ** -(a.element.frac_bits + b.element.frac_bits)
            for c in range(k // chunk if k else 0):
                lo, hi = c * chunk, (c + 1) * chunk
                part = (ca[:, lo:hi] @ cb[lo:hi, :]).astype(np.float64)  # exact
                out += (sa[0][:, lo // sa[1]][:, None] * sb[0][:, lo // sb[1]][None, :]) * part
            return (out * frac).astype(np.float32)
    return dequantize(a) @ dequantize(b)
