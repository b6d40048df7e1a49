"""Vector ops of vector-wise int8 quantization with an outlier split, as LLM.int8() runs a
linear layer (Dettmers et al., NeurIPS 2022, "LLM.int8(): 8-bit Matrix Multiplication for
Transformers at Scale", Sec. 3: vector-wise quantization and mixed-precision decomposition;
``pysim.formats.llm_int8.decompose`` builds the graph):

- `row_quantize`: the inlier columns of X to int8 with one absmax scale per row;
- `dequant_add`: the int8 product's int32 accumulators scaled back by the outer product of the
  row and column scales, plus the 16-bit product of the outlier columns.

Both read tensors of several widths (``input_bits``). No MACs; `vector_work()` counts
elementary vector operations, as for the other vector ops (docs/workloads.md).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from pysim.workload.ops import Op, OpFieldError, StrictBool
from pysim.workload.tensors import Bits, NonNegInt, PosInt, Tensor


class RowQuantize(Op):
    """Vector-wise quantization of a (rows, cols) activation X (LLM.int8() Sec. 3.1): reads X
    at ``act_bits`` and its per-row absmax (rows,) at ``scale_bits`` (a `reduce` op's
    ``absmax``, taken over the inlier columns), writes the ``cols - outlier_cols`` inlier
    columns as round(x * 127 / absmax) at ``out_bits`` (int8). The ``outlier_cols`` columns
    holding a value of magnitude >= ``threshold`` are left out (they run in 16 bits).

    vector_work = rows x cols compares with the threshold, 3 per written element (scale,
    round, clamp), and one reciprocal per row."""

    shape_doc: ClassVar[tuple[str, ...]] = ("(rows, cols)", "(rows,)")

    type: Literal["row_quantize"] = "row_quantize"
    rows: PosInt
    cols: PosInt
    outlier_cols: NonNegInt = 0
    threshold: float = Field(default=6.0, gt=0, allow_inf_nan=False)
    scale_bits: Bits = 32

    @model_validator(mode="after")
    def _check_split(self) -> RowQuantize:
        if self.outlier_cols >= self.cols:
            raise OpFieldError("outlier_cols", f"outlier_cols must leave at least one of the "
                               f"{self.cols} columns in int8, got {self.outlier_cols}")
        return self

    def arity(self) -> int:
        return 2

    def input_shapes(self) -> tuple[tuple[int, ...], ...]:
        return ((self.rows, self.cols), (self.rows,))

    def input_bits(self) -> tuple[int, ...]:
        return (self.act_bits, self.scale_bits)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return (self.rows, self.cols - self.outlier_cols)

    def output_tensor(self) -> Tensor:
        return Tensor(name=self.output, shape=self.output_shape, bits=self.output_bits,
                      dtype="int", role="activation")

    def vector_work(self) -> int:
        return self.rows * self.cols + 3 * self.rows * (self.cols - self.outlier_cols) + self.rows


class DequantAdd(Op):
    """The output of a decomposed (m, k) x (k, n) product (LLM.int8() Eq. 3 and Sec. 3.2):
    y = s_col / 127 * (s_row / 127 * C_int32 + C_16) [+ bias], where C_int32 is the int8
    product's accumulators, s_row the rows' absmax of X, C_16 the 16-bit product of X's
    outlier columns with the int8-stored outlier rows of W, and s_col W's column absmax.
    Inputs, in order: C_int32 (m, n) at ``acc_bits`` and s_row (m,) at ``scale_bits`` if
    ``int8_part``; C_16 (m, n) at ``act_bits`` if ``fp16_part``; s_col (n,) at
    ``scale_bits``. A ``bias`` (n,) of ``bias_bits`` is the op's own weight.

    vector_work per output element: 2 (convert, x s_row) for the int8 part, 1 add when both
    parts are there, 1 multiply by s_col, 1 for the bias."""

    shape_doc: ClassVar[tuple[str, ...]] = ("(m, n) or (m,) or (n,), see the docstring",)

    type: Literal["dequant_add"] = "dequant_add"
    m: PosInt
    n: PosInt
    int8_part: StrictBool = True
    fp16_part: StrictBool = True
    acc_bits: Bits = 32
    scale_bits: Bits = 32
    bias: StrictBool = False
    bias_bits: Bits = 16

    @model_validator(mode="after")
    def _check_parts(self) -> DequantAdd:
        if not (self.int8_part or self.fp16_part):
            raise OpFieldError("int8_part", "at least one of int8_part and fp16_part must be "
                               "true")
        return self

    def arity(self) -> int:
        return 2 * self.int8_part + self.fp16_part + 1

    def input_shapes(self) -> tuple[tuple[int, ...], ...]:
        int8 = ((self.m, self.n), (self.m,)) if self.int8_part else ()
        fp16 = ((self.m, self.n),) if self.fp16_part else ()
        return (*int8, *fp16, (self.n,))

    def input_bits(self) -> tuple[int, ...]:
        int8 = (self.acc_bits, self.scale_bits) if self.int8_part else ()
        fp16 = (self.act_bits,) if self.fp16_part else ()
        return (*int8, *fp16, self.scale_bits)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return (self.m, self.n)

    def weight_tensors(self) -> tuple[Tensor, ...]:
        return (self._weight("bias", (self.n,), self.bias_bits),) if self.bias else ()

    def vector_work(self) -> int:
        per = 2 * self.int8_part + (self.int8_part and self.fp16_part) + 1 + self.bias
        return per * self.m * self.n
