"""Scale granularity: which elements share a scale, and how a scale is computed and stored.

Every granularity views a tensor as (rows R, groups G, elements per group S) with one scale per
(row, group): per tensor (1, 1, N); per channel along ``axis`` (C, 1, N / C); per group / block
of ``size`` contiguous elements along ``axis`` (N / K, K / size, size). "block" is the MX name
for a group (MX v1.0 Section 5: k elements share a scale X).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from pysim.formats import elements
from pysim.formats.registry import (
    SCALE_DTYPES,
    CodebookFormat,
    FloatFormat,
    IntFormat,
    get,
)

__all__ = ["Granularity", "parse", "per_block", "per_channel", "per_group", "per_tensor"]

KINDS = ("tensor", "channel", "group", "block")


@dataclass(frozen=True)
class Granularity:
    """One scale per tensor, per index along ``axis`` ("channel"), or per ``size`` contiguous
    elements along ``axis`` ("group", "block")."""

    kind: Literal["tensor", "channel", "group", "block"]
    size: int = 0
    axis: int = -1

    def __str__(self) -> str:
        if self.kind == "tensor":
            return "tensor"
        if self.kind == "channel":
            return f"channel(axis={self.axis})"
        return f"{self.kind}({self.size}, axis={self.axis})"


def per_tensor() -> Granularity:
    return Granularity("tensor")


def per_channel(axis: int = 0) -> Granularity:
    """One scale per index along ``axis`` (0: the output channels of an (N, K) weight)."""
    return Granularity("channel", axis=axis)


def per_group(size: int, axis: int = -1) -> Granularity:
    """One scale per ``size`` contiguous elements along ``axis`` (-1: the reduction axis K of
    an (N, K) weight)."""
    return Granularity("group", size, axis)


def per_block(size: int = 32, axis: int = -1) -> Granularity:
    """MX blocks: one E8M0 scale per ``size`` (MX v1.0: 32) contiguous elements along ``axis``."""
    return Granularity("block", size, axis)


def parse(g: object) -> Granularity | None:
    """A Granularity, None / "none" (no scale), "tensor", "channel", "group:N" or "block[:N]".
    Raises ValueError naming the allowed forms."""
    if g is None or isinstance(g, Granularity):
        return g
    if isinstance(g, str):
        kind, _, size = g.partition(":")
        if kind == "none" and not size:
            return None
        if kind in ("tensor", "channel") and not size:
            return per_tensor() if kind == "tensor" else per_channel()
        if kind in ("group", "block") and (size.isdigit() or (kind == "block" and not size)):
            return Granularity(kind, int(size or 32))  # type: ignore[arg-type]
    raise ValueError(f"granularity must be a Granularity or one of 'none', 'tensor', 'channel', "
                     f"'group:N', 'block[:N]'; got {g!r}")


def layout(shape: tuple[int, ...], g: Granularity, name: str) -> tuple[
        Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray], tuple[int, int]]:
    """(to_blocks, from_blocks, (R, G)): views of an array of ``shape`` as (R, G, S) and back.
    Raises ValueError on an axis out of range or a size that does not divide the axis."""
    n = math.prod(shape)
    if g.kind == "tensor":
        return (lambda x: x.reshape(1, 1, n)), (lambda y: y.reshape(shape)), (1, 1)
    if not -len(shape) <= g.axis < len(shape):
        raise ValueError(f"{name}: {g.kind} axis {g.axis} is out of range for shape "
                         f"{shape}; allowed: {-len(shape)}..{len(shape) - 1}")
    ax = g.axis % len(shape)
    others = [i for i in range(len(shape)) if i != ax]
    length = shape[ax]
    if g.kind == "channel":
        perm = [ax, *others]
        grid = (length, 1)
    else:
        if g.size < 1 or length % g.size:
            raise ValueError(f"{name}: {g.kind} size {g.size} does not divide axis {g.axis} of "
                             f"length {length} (shape {shape}); allowed: a size dividing "
                             f"{length}")
        perm = [*others, ax]
        grid = (n // length if length else 0, length // g.size)
    tshape = tuple(shape[i] for i in perm)
    inv = list(np.argsort(perm))
    s = n // max(grid[0] * grid[1], 1)
    return ((lambda x: np.transpose(x, perm).reshape(grid[0], grid[1], s)),
            (lambda y: np.transpose(y.reshape(tshape), inv)), grid)


def _where(name: str, i: tuple[int, ...]) -> str:
    return f"{name} scale[{i[0]}, {i[1]}]"


def scales(amax: np.ndarray, elem: IntFormat | FloatFormat | CodebookFormat, scale_dtype: str,
           name: str) -> np.ndarray:
    """Scale per (row, group) from the groups' largest magnitudes ``amax`` (float64), as
    float64 values exactly representable in ``scale_dtype``.

    "e8m0": X = 2^(floor(log2 amax) - emax_elem) (MX v1.0 Section 6.3); an all-zero group and
    one below 2^-127 take 2^-127, the smallest E8M0 value (as the MX reference code clamps); a
    group holding NaN or inf has a NaN scale (E8M0 code 0xFF, Section 5.4.1). Float dtypes:
    amax / max_abs of the element format, rounded to nearest even in that dtype (1 for an
    all-zero group). Raises ValueError naming the group if the scale is out of the dtype's range.
    """
    if scale_dtype not in SCALE_DTYPES:
        raise ValueError(f"{name}: scale_dtype must be one of {', '.join(SCALE_DTYPES)}; "
                         f"got {scale_dtype!r}")
    if scale_dtype == "e8m0":
        bad = ~np.isfinite(amax)
        exp = np.frexp(np.where(bad, 1.0, amax))[1] - 1 - elem.emax
        exp = np.where(amax == 0, -127, np.maximum(exp, -127))
        if (exp > 127).any():
            i = np.unravel_index(int(np.argmax(exp)), exp.shape)
            raise ValueError(f"{_where(name, i)} = 2^{int(exp[i])} (max |x| {amax[i]:.6g}) "
                             "cannot be represented in scale dtype e8m0 (2^-127..2^127); allowed "
                             f"scale dtypes: {', '.join(SCALE_DTYPES)}")
        return np.where(bad, np.nan, np.ldexp(1.0, exp))
    if not np.isfinite(amax).all():
        i = np.unravel_index(int(np.argmax(~np.isfinite(amax))), amax.shape)
        raise ValueError(f"{_where(name, i)}: the group holds {amax[i]}; a {scale_dtype} scale "
                         "needs finite values (allowed: finite values)")
    raw = np.where(amax == 0, 1.0, amax / elem.max_abs)
    sfmt = get(scale_dtype)
    assert isinstance(sfmt, FloatFormat)
    s = elements.decode_float(elements.encode_float(raw, sfmt, rounding="nearest_even",
                                                    saturate=False, rng=None, name=name), sfmt)
    s = s.astype(np.float64)
    bad = ~np.isfinite(s) | (s == 0)
    if bad.any():
        i = np.unravel_index(int(np.argmax(bad)), bad.shape)
        raise ValueError(f"{_where(name, i)} = {raw[i]:.6g} (max |x| {amax[i]:.6g} / "
                         f"{elem.max_abs:g}) cannot be represented in scale dtype {scale_dtype} "
                         f"({sfmt.max_abs:.6g} max, {2.0 ** (sfmt.emin - sfmt.mbits):.3g} min); "
                         f"allowed scale dtypes: {', '.join(SCALE_DTYPES)}")
    return s
