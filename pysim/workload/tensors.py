"""Tensors of a workload graph and the validated field types shared by tensors and ops.

A tensor is a named, shaped array of `bits`-wide integers or floats. Its size in memory is
``ceil(elements * bits / 8)`` bytes: sub-byte tensors are packed densely.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Annotated, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    model_validator,
)

from pysim.memo import CachedFigures
from pysim.workload.number_formats import (
    FormatName,
    check_blocks,
    element_format,
    storage_bits,
)

MAX_DIM = 2**31 - 1
"""Largest dimension, stride or padding accepted (products of them are Python ints)."""

PosInt = Annotated[int, Strict(), Field(ge=1, le=MAX_DIM)]
"""An int from 1 to MAX_DIM (dimensions, strides, counts); bools and floats are refused."""

NonNegInt = Annotated[int, Strict(), Field(ge=0, le=MAX_DIM)]
"""An int from 0 to MAX_DIM (padding)."""

Bits = Annotated[int, Strict(), Field(ge=1, le=32)]
"""A bit width, 1 to 32."""

Name = Annotated[str, Strict(), StringConstraints(min_length=1)]
"""A non-empty tensor or op name."""

DType = Literal["int", "float"]
Role = Literal["input", "weight", "activation"]


def _pair(value: object) -> object:
    """Accept an int as shorthand for a square (h, w) pair."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    return value


PosPair = Annotated[tuple[PosInt, PosInt], BeforeValidator(_pair)]
"""An (h, w) pair of ints >= 1; a single int n means (n, n)."""

NonNegPair = Annotated[tuple[NonNegInt, NonNegInt], BeforeValidator(_pair)]
"""An (h, w) pair of ints >= 0; a single int n means (n, n)."""

Shape = Annotated[tuple[PosInt, ...], Field(min_length=1)]
"""A tensor shape: one or more ints >= 1."""


def packed_bytes(elements: int, bits: int) -> int:
    """Bytes taken by `elements` values of `bits` bits each, packed: ceil(elements*bits/8)."""
    return (elements * bits + 7) // 8


def format_fields(data: object, fmt_key: str, bits_key: str, dtype_key: str | None,
                  where: str) -> object:
    """``data`` (a model's raw fields) with ``bits_key`` (and ``dtype_key``) filled from the
    number format named by ``fmt_key``; a ValueError if either was given and disagrees."""
    if not isinstance(data, dict) or data.get(fmt_key) is None:
        return data
    name = data[fmt_key]
    if not isinstance(name, str):
        return data  # the field's own validation names the type
    f = element_format(name)
    out = dict(data)
    for key, value in ((bits_key, f.bits), (dtype_key, f.dtype)):
        if key is None:
            continue
        if out.get(key) is not None and out[key] != value:
            raise ValueError(f"{where}{fmt_key} {name!r} stores {f.bits}-bit {f.dtype} "
                             f"elements, but {key} is {out[key]!r}; leave {key} out or set it "
                             f"to {value!r}")
        out[key] = value
    return out


class Tensor(CachedFigures):
    """A named tensor: `shape` (ints >= 1), `bits` per element (1 to 32), `dtype` ("int" or
    "float") and `role` ("input" for graph inputs, "weight" for parameters, "activation" for
    what an op produces). `format` (optional) names its number format (pysim.formats:
    ``fp8_e4m3``, ``mxfp4``, ``nf4``, ...): it sets `bits` and `dtype`, and its scales count in
    `bytes` (pysim/workload/number_formats.py)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Name
    shape: Shape
    bits: Bits = 8
    dtype: DType = "int"
    role: Role = "input"
    format: FormatName | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_format(cls, data: object) -> object:
        return format_fields(data, "format", "bits", "dtype", "")

    @model_validator(mode="after")
    def _whole_blocks(self) -> Tensor:
        if self.format is not None and self.shape:
            check_blocks(self.format, self.shape[-1],
                         f"tensor {self.name!r} of format {self.format}: its last axis")
        return self

    @property
    def elements(self) -> int:
        """Number of elements (product of the shape)."""
        return math.prod(self.shape)

    @cached_property
    def bytes(self) -> int:
        """Size in bytes, packed: ceil(elements * bits / 8), plus a format's scales."""
        if self.format is not None:
            return -(-storage_bits(self.shape, self.format) // 8)
        return packed_bytes(self.elements, self.bits)
