"""Number formats on workload tensors and ops (``pysim.formats``' registry).

A tensor or op names a format (``fp8_e4m3``, ``mxfp4``, ``nf4``, ``int4``, ...) and pysim takes its
element width and kind from the registry, and for the scaled formats the storage of their scales:
OCP Microscaling v1.0 (Section 5, Table 1) stores one 8-bit E8M0 scale per 32 elements, QLoRA's
NF4 (Dettmers et al. 2023) one fp32 absmax per 64. Scales run along a tensor's last axis (the
reduction axis of the GEMM that reads an activation: K of an (M, K) input, C of an NHWC image);
an MX format needs that axis to be a whole number of its 32-element blocks (OCP MX v1.0
Sec. 5: a block is k = 32 elements; ``pysim.formats.quantize`` and the MMA instructions that take
MX operands refuse a partial one), while NF4 pads a row's partial last block of 64 (QLoRA's
bitsandbytes blocks the flattened tensor). A weight's scales run along K too and are stored
as its ``<op>.scales`` tensor (``Quant``), so they also cost their dequantization
(``Op.dequant_work``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Literal

from pydantic import AfterValidator


@dataclass(frozen=True)
class ElementFormat:
    """What the simulator needs of a format: ``bits`` per stored element, the MAC ``dtype``
    ("int" for integers, ternary, MXINT8 and power-of-two ``pow2``; "float" for floats, NF4
    and the MX float formats), and one ``scale_bits``-wide scale per ``group`` elements along
    the last axis (0: none); ``pow2_scales`` when those scales are powers of two (MX's E8M0:
    applying one is an exponent add, no multiply); ``fields``: (exponent bits, mantissa bits)
    of a binary float element (an MX float's element's), the multiplier's energy
    (``EnergyTable.float_mult_pj``); None for integers and code books (NF4)."""

    name: str
    bits: int
    dtype: Literal["int", "float"]
    group: int = 0
    scale_bits: int = 0
    pow2_scales: bool = False
    fields: tuple[int, int] | None = None


@cache
def element_format(name: str) -> ElementFormat:
    """The format ``name``; ValueError naming the known formats if there is none."""
    from pysim.formats.quantize import _defaults
    from pysim.formats.registry import SCALE_BITS, FloatFormat, IntFormat, MXFormat, get

    f = get(name)
    gran, scale_dtype = _defaults(f, None, None, name)
    is_int = isinstance(f, IntFormat) or (isinstance(f, MXFormat)
                                         and isinstance(f.element, IntFormat))
    # Power-of-two weights (``pow2``) multiply by a shift, an integer operation on fixed-point
    # activations (DeepShift, ShiftAddNet); beside float activations the op is still float.
    is_int = is_int or (isinstance(f, FloatFormat) and f.is_pow2)
    group = gran.size if gran is not None else 0
    element = f.element if isinstance(f, MXFormat) else f
    fields = ((element.ebits, element.mbits)
              if isinstance(element, FloatFormat) and not is_int else None)
    return ElementFormat(f.name, f.bits, "int" if is_int else "float", group or 0,
                         SCALE_BITS[scale_dtype] if scale_dtype else 0,
                         scale_dtype == "e8m0", fields)


def _known(name: str) -> str:
    return element_format(name).name


FormatName = Annotated[str, AfterValidator(_known)]
"""A ``pysim.formats`` name (case-insensitive), normalised to the registry's spelling."""


def check_blocks(name: str, length: int, what: str) -> None:
    """ValueError if ``name`` is an MX format (E8M0 scales per 32 elements) and ``length``, the
    axis its blocks run along, is not a whole number of blocks."""
    f = element_format(name)
    if f.pow2_scales and f.group and length % f.group:
        raise ValueError(f"{what} is {length}, but {f.name} scales blocks of {f.group} along it "
                         f"(OCP MX v1.0 Sec. 5: k = {f.group}); allowed: a multiple of {f.group}")


def storage_bits(shape: tuple[int, ...], name: str) -> int:
    """Bits of a ``shape`` tensor in format ``name``: its values packed at the element width,
    and its scales (rows x whole groups along the last axis) at the scale width."""
    f = element_format(name)
    elements = math.prod(shape)
    bits = elements * f.bits
    if f.group:
        last = shape[-1]
        bits += elements // last * -(-last // f.group) * f.scale_bits
    return bits


def storage_ratio(shape: tuple[int, ...], name: str | None) -> float:
    """Stored bytes over the values' packed bytes (1 without a format or scales; MXFP4 over
    a long row: 4.25 / 4)."""
    if name is None or not element_format(name).group:
        return 1.0
    f = element_format(name)
    values = math.prod(shape) * f.bits
    return storage_bits(shape, name) / values
