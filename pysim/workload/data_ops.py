"""Reductions and data movement on the vector unit: `reduce`, and `copy` (concat, slice, pad,
broadcast, resize, permute).

Like the other vector ops (pysim/workload/vector_ops.py) they have no MACs; `vector_work()`
counts elementary vector operations and the planner prices them on the hardware's vector unit.
Their cost depends only on element counts, never on which axes are reduced or joined, so they
take element counts (and the output's layout), not axes.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal, NamedTuple

from pydantic import field_validator, model_validator

from pysim.workload.ops import Op, OpFieldError
from pysim.workload.tensors import PosInt, Shape


class ReduceKind(NamedTuple):
    """Vector ops per reduced element and per output element of a reduction."""

    per_element: int
    per_output: int
    counted_as: str


REDUCE_OPS: dict[str, ReduceKind] = {
    "sum": ReduceKind(1, 0, "add"),
    "mean": ReduceKind(1, 1, "add; a multiply by 1/cols per output"),
    "max": ReduceKind(1, 0, "compare-select"),
    "min": ReduceKind(1, 0, "compare-select"),
    "prod": ReduceKind(1, 0, "multiply"),
    "sum_square": ReduceKind(2, 0, "multiply, add"),
    "l1": ReduceKind(2, 0, "abs, add"),
    "absmax": ReduceKind(2, 0, "abs, compare-select (a row's scale for vector-wise int8)"),
    "l2": ReduceKind(2, 1, "multiply, add; a square root per output"),
    "log_sum_exp": ReduceKind(2, 1, "exp, add; a log per output"),
}
"""Known reductions (the `mode` of a `reduce` op)."""


class Reduce(Op):
    """`rows` outputs, each reducing `cols` values (`mode`, see REDUCE_OPS), read as a
    (rows, cols) matrix whatever the input's layout (a reduction over any axes has that many
    elements in and out). `out_shape` lays out the output (default (rows,)).
    vector_work = per_element(mode) * rows * cols + per_output(mode) * rows."""

    shape_doc: ClassVar[tuple[str, ...]] = ("(rows, cols)",)

    type: Literal["reduce"] = "reduce"
    mode: str
    rows: PosInt
    cols: PosInt
    out_shape: Shape | None = None

    @field_validator("mode")
    @classmethod
    def _known_mode(cls, value: str) -> str:
        if value not in REDUCE_OPS:
            raise ValueError(f"unknown reduction {value!r}; known: {', '.join(REDUCE_OPS)}")
        return value

    @model_validator(mode="after")
    def _check_out_shape(self) -> Reduce:
        if self.out_shape is not None and math.prod(self.out_shape) != self.rows:
            raise OpFieldError("out_shape", f"{self.out_shape} has "
                               f"{math.prod(self.out_shape)} elements, but rows is {self.rows}")
        return self

    def input_shapes(self) -> tuple[tuple[int, ...], ...]:
        return ((self.rows, self.cols),)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.out_shape or (self.rows,)

    def vector_work(self) -> int:
        kind = REDUCE_OPS[self.mode]
        return kind.per_element * self.rows * self.cols + kind.per_output * self.rows


class Copy(Op):
    """Data movement through the vector unit, one move (or constant fill) per output element:

    - `concat`: the inputs (`shapes`, one per input) side by side in an output of `out_shape`;
      parts not read from an input (a constant joined to an activation) are filled;
    - `slice`: part of one input (out_shape has at most its elements); only that part is read;
    - `pad`: one input inside a larger output, the border filled;
    - `broadcast`: one input repeated to fill a larger output (ONNX Expand, Tile);
    - `resize`: one input resampled to `out_shape`, each output element from `taps` input
      elements (nearest 1, linear 2^d and cubic 4^d over d resized axes);
    - `permute`: one input's elements reordered into `out_shape` (as many elements): an axis
      permutation made contiguous, such as a Monarch matrix's P (pysim/training/monarch.py).

    vector_work = output elements, times 2 taps - 1 for a resize (taps multiplies and taps - 1
    adds; a nearest resize moves). A compiler that has producers write straight into the joined
    buffer, or consumers read a slice in place, makes the other modes free; pysim prices the
    explicit copy.
    """

    shape_doc: ClassVar[tuple[str, ...]] = ("shapes[i]",)

    type: Literal["copy"] = "copy"
    mode: Literal["concat", "slice", "pad", "broadcast", "resize", "permute"]
    shapes: tuple[Shape, ...]
    out_shape: Shape
    taps: PosInt = 1

    @model_validator(mode="after")
    def _check_sizes(self) -> Copy:
        total = sum(math.prod(s) for s in self.shapes)
        out = math.prod(self.out_shape)
        if not self.shapes:
            raise OpFieldError("shapes", "a copy reads at least one tensor")
        if self.mode != "concat" and len(self.shapes) != 1:
            raise OpFieldError("shapes", f"a {self.mode} reads one tensor, got "
                               f"{len(self.shapes)} shapes")
        if self.taps != 1 and self.mode != "resize":
            raise OpFieldError("taps", f"only a resize combines several inputs per output, "
                               f"got taps {self.taps} for a {self.mode}")
        limits = {"concat": ("at least", out >= total), "slice": ("at most", out <= total),
                  "pad": ("at least", out >= total), "broadcast": ("at least", out >= total),
                  "resize": ("any number of", True), "permute": ("exactly", out == total)}
        word, ok = limits[self.mode]
        if not ok:
            raise OpFieldError("out_shape", f"a {self.mode} writes {word} the {total} elements "
                               f"it reads, but out_shape {self.out_shape} has {out}")
        return self

    def arity(self) -> int:
        return len(self.shapes)

    def input_shapes(self) -> tuple[tuple[int, ...], ...]:
        return self.shapes

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.out_shape

    def read_fraction(self) -> float:
        """A slice reads only its part of the input, a downsampling resize only its taps."""
        total = sum(math.prod(s) for s in self.shapes)
        return min(1.0, math.prod(self.out_shape) * self.taps / total)

    def vector_work(self) -> int:
        return math.prod(self.out_shape) * (2 * self.taps - 1)
