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
    rng = np.random.default_rng(seed) if rounding == "stochastic" else None
    xa = np.asarray(x)
    if not (np.issubdtype(xa.dtype, np.floating) or np.issubdtype(xa.dtype, np.integer)
            or xa.dtype.name in ("bfloat16", "float16")):
        raise ValueError(f"{name}: expected a real array, got dtype {xa.dtype}")
    x64 = xa.astype(np.float64)
    gran, sdt = _defaults(f, granularity, scale_dtype, name)
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


def dequantize(q: QuantizedTensor, dtype: type[np.floating] = np.float32) -> np.ndarray:
    """The values ``q`` holds, of ``q.shape``: element x scale, rounded once to ``dtype``
    (float32; float64 gives them exactly)."""
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
