"""Tensors of a workload graph and the validated field types shared by tensors and ops.

A tensor is a named, shaped array of `bits`-wide integers or floats. Its size in memory is
``ceil(elements * bits / 8)`` bytes: sub-byte tensors are packed densely.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, StringConstraints

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


class Tensor(BaseModel):
    """A named tensor: `shape` (ints >= 1), `bits` per element (1 to 32), `dtype` ("int" or
    "float") and `role` ("input" for graph inputs, "weight" for parameters, "activation" for
    what an op produces)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Name
    shape: Shape
    bits: Bits = 8
    dtype: DType = "int"
    role: Role = "input"

    @property
    def elements(self) -> int:
        """Number of elements (product of the shape)."""
        return math.prod(self.shape)

    @property
    def bytes(self) -> int:
        """Size in bytes, packed: ceil(elements * bits / 8)."""
        return packed_bytes(self.elements, self.bits)
