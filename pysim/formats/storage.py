"""Storage of a tensor in a format: values, scales and metadata at their real widths.

``storage_bits(shape, fmt, granularity, scale_dtype)`` is what the simulator's byte counts
(DRAM, SRAM, the GPU path) need: values packed at the format's width (4-bit codes two to a
byte, 6-bit codes four to three bytes, ternary in 2 bits), one scale per (row, group) at the
scale dtype's width, and any per-tensor metadata. Defaults match ``quantize``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pysim.formats import granularity as gr
from pysim.formats.quantize import _defaults
from pysim.formats.registry import SCALE_BITS, Format, get

__all__ = ["StorageBits", "storage_bits"]


@dataclass(frozen=True)
class StorageBits:
    """Bits of one tensor of ``elements`` values: ``values_bits`` (packed), ``scales_bits``
    (one per scale at the scale dtype's width), ``metadata_bits`` (anything else stored)."""

    elements: int
    values_bits: int
    scales_bits: int
    metadata_bits: int = 0

    @property
    def total_bits(self) -> int:
        return self.values_bits + self.scales_bits + self.metadata_bits

    @property
    def total_bytes(self) -> int:
        """Whole bytes the tensor occupies (packed, rounded up once)."""
        return -(-self.total_bits // 8)

    @property
    def bits_per_element(self) -> float:
        """Average bits per element, scales and metadata included (MXFP4: 4.25)."""
        return self.total_bits / self.elements if self.elements else 0.0


def storage_bits(shape: tuple[int, ...] | list[int], fmt: str | Format,
                 granularity: object = None, scale_dtype: str | None = None) -> StorageBits:
    """Storage of a tensor of ``shape`` in ``fmt`` with ``granularity`` / ``scale_dtype`` as
    ``quantize`` takes them (same defaults). Raises ValueError as ``quantize`` does for a bad
    format, granularity or scale dtype, and for a negative dimension."""
    dims = tuple(shape)
    if any(not isinstance(d, int) or d < 0 for d in dims):
        raise ValueError(f"shape must be non-negative integers; got {list(dims)}")
    f = get(fmt)
    gran, sdt = _defaults(f, granularity, scale_dtype, "shape")
    n = math.prod(dims)
    if gran is None or sdt is None:
        return StorageBits(n, n * f.bits, 0)
    _, _, (rows, groups) = gr.layout(dims, gran, "shape")
    return StorageBits(n, n * f.bits, rows * groups * SCALE_BITS[sdt])
