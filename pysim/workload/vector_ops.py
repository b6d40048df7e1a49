"""Ops that run on a vector unit: elementwise, softmax, row_divide, layernorm and pooling.

Their `vector_work()` counts elementary vector operations (one add, multiply, compare, exp,
divide ... on one element); each op's docstring and docs/workloads.md list the count per
element. They have no MACs.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal, NamedTuple

from pydantic import field_validator, model_validator

from pysim.workload.ops import Op, OpFieldError, StrictBool, conv_out
from pysim.workload.tensors import Bits, NonNegPair, PosInt, PosPair, Shape, Tensor


class ElementwiseKind(NamedTuple):
    """An elementwise function: how many tensors it reads and vector ops per output element."""

    arity: int
    ops_per_element: int
    counted_as: str


ELEMENTWISE_OPS: dict[str, ElementwiseKind] = {
    "add": ElementwiseKind(2, 1, "add"),
    "sub": ElementwiseKind(2, 1, "subtract"),
    "mul": ElementwiseKind(2, 1, "multiply"),
    "max": ElementwiseKind(2, 1, "compare-select"),
    "min": ElementwiseKind(2, 1, "compare-select"),
    "relu": ElementwiseKind(1, 1, "max(x, 0)"),
    "relu6": ElementwiseKind(1, 2, "max(x, 0), min(., 6)"),
    "exp": ElementwiseKind(1, 1, "exp"),
    "tanh": ElementwiseKind(1, 1, "tanh"),
    "sigmoid": ElementwiseKind(1, 3, "exp(-x), +1, reciprocal"),
    "silu": ElementwiseKind(1, 4, "sigmoid (3), * x"),
    "gelu": ElementwiseKind(
        1, 9, "tanh form 0.5x(1+tanh(c(x+0.044715x^3))): x*x, *x, *0.044715, +x, *c, tanh, +1, "
        "*x, *0.5"
    ),
    "quantize": ElementwiseKind(1, 3, "* scale, round, clamp"),
    "sign": ElementwiseKind(1, 1, "compare with 0: a binary (+-1) code, as a hash's sign"),
    "dequantize": ElementwiseKind(1, 2, "- zero point, * scale"),
    # For imported (ONNX) graphs and the LLM zoo models: docs/workloads.md, "ONNX import".
    "div": ElementwiseKind(2, 1, "divide"),
    "add_const": ElementwiseKind(1, 1, "add or subtract a constant (scalar or broadcast)"),
    "mul_const": ElementwiseKind(1, 1, "multiply or divide by a constant (scalar or broadcast)"),
    "max_const": ElementwiseKind(1, 1, "max or min with a constant"),
    "pow": ElementwiseKind(1, 1, "x ** c (a square is one multiply)"),
    "sqrt": ElementwiseKind(1, 1, "square root"),
    "reciprocal": ElementwiseKind(1, 1, "c / x"),
    "log": ElementwiseKind(1, 1, "log"),
    "erf": ElementwiseKind(1, 1, "erf"),
    "abs": ElementwiseKind(1, 1, "abs"),
    "clip": ElementwiseKind(1, 2, "max(x, lo), min(., hi)"),
    "leaky_relu": ElementwiseKind(1, 2, "alpha * x, max"),
    "hard_sigmoid": ElementwiseKind(1, 4, "alpha * x, + beta, max(., 0), min(., 1)"),
    "hard_swish": ElementwiseKind(1, 5, "hard_sigmoid (4), * x"),
    "batchnorm": ElementwiseKind(1, 2, "* scale, + shift (inference, per channel)"),
    "rope": ElementwiseKind(1, 3, "rotary embedding x*cos + rotate_half(x)*sin: 2 multiplies, "
                            "1 add (cos/sin tables on chip)"),
}
"""Known elementwise functions (the `op` field of an `elementwise` op)."""


class Elementwise(Op):
    """An elementwise function `op` (see ELEMENTWISE_OPS) over tensors of `shape`; binary ops
    read two tensors of that shape. vector_work = ops_per_element(op) * elements."""

    input_match: ClassVar[Literal["shape", "elements"]] = "shape"
    shape_doc: ClassVar[tuple[str, ...]] = ("shape", "shape")

    type: Literal["elementwise"] = "elementwise"
    op: str
    shape: Shape

    @field_validator("op")
    @classmethod
    def _known_op(cls, value: str) -> str:
        if value not in ELEMENTWISE_OPS:
            known = ", ".join(ELEMENTWISE_OPS)
            raise ValueError(f"unknown elementwise op {value!r}; known: {known}")
        return value

    def arity(self) -> int:
        return ELEMENTWISE_OPS[self.op].arity

    def input_shapes(self) -> tuple[tuple[int, ...], ...]:
        return (self.shape,) * self.arity()

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.shape

    def vector_work(self) -> int:
        return ELEMENTWISE_OPS[self.op].ops_per_element * math.prod(self.shape)


class Softmax(Op):
    """Softmax over each of `rows` rows of `cols` values: 5 vector ops per element (running
    max, subtract max, exp, sum, divide)."""

    shape_doc: ClassVar[tuple[str, ...]] = ("(rows, cols)",)
    OPS_PER_ELEMENT: ClassVar[int] = 5

    type: Literal["softmax"] = "softmax"
    rows: PosInt
    cols: PosInt

    def input_shapes(self) -> tuple[tuple[int, ...], ...]:
        return ((self.rows, self.cols),)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return (self.rows, self.cols)

    def vector_work(self) -> int:
        return self.OPS_PER_ELEMENT * self.rows * self.cols


class RowDivide(Op):
    """Linear attention's normalisation (Katharopoulos et al., ICML 2020; EcoFormer, Liu et al.,
    NeurIPS 2022): X (groups, rows, cols + 1) holds per row a numerator of ``cols`` values and
    its denominator in the last column; the output (groups, rows, cols) is numerator /
    denominator. With ``bias`` a second input (groups, cols) at ``bias_bits`` is added to
    every numerator row of its group and a constant to each denominator first (EcoFormer's
    offset kernel: the offset x the sum of V's rows, and x the key count).

    vector_work per row: 1 reciprocal and ``cols`` multiplies; with ``bias`` ``cols`` + 1
    adds more."""

    shape_doc: ClassVar[tuple[str, ...]] = ("(groups, rows, cols + 1)", "(groups, cols)")

    type: Literal["row_divide"] = "row_divide"
    groups: PosInt = 1
    rows: PosInt
    cols: PosInt
    bias: StrictBool = False
    bias_bits: Bits = 32

    def arity(self) -> int:
        return 1 + self.bias

    def input_shapes(self) -> tuple[tuple[int, ...], ...]:
        x = (self.groups, self.rows, self.cols + 1)
        return (x, (self.groups, self.cols)) if self.bias else (x,)

    def input_bits(self) -> tuple[int, ...]:
        return (self.act_bits, self.bias_bits) if self.bias else (self.act_bits,)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return (self.groups, self.rows, self.cols)

    def vector_work(self) -> int:
        per_row = 1 + self.cols + (self.cols + 1 if self.bias else 0)
        return self.groups * self.rows * per_row


class LayerNorm(Op):
    """Layer normalisation of `rows` rows of `cols` values, with gamma and beta (a (2, cols)
    weight tensor) when `affine`. vector_work = 7 per element (sum for the mean, subtract mean,
    square, sum for the variance, multiply by 1/sigma, multiply by gamma, add beta; 5 without
    affine) + 3 per row (divide the sum, divide the sum of squares, reciprocal square root).

    `rms: true` is an RMS norm (Zhang & Sennrich, NeurIPS 2019; LLaMA's, ONNX's
    RMSNormalization): no mean and no beta, gamma a (1, cols) tensor; 4 per element (square,
    sum, multiply by 1/rms, multiply by gamma; 3 without affine) + 2 per row (divide the sum,
    reciprocal square root)."""

    shape_doc: ClassVar[tuple[str, ...]] = ("(rows, cols)",)

    type: Literal["layernorm"] = "layernorm"
    rows: PosInt
    cols: PosInt
    affine: StrictBool = True
    rms: StrictBool = False

    def input_shapes(self) -> tuple[tuple[int, ...], ...]:
        return ((self.rows, self.cols),)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return (self.rows, self.cols)

    @property
    def weight_rows(self) -> int:
        """Rows of the weight tensor: gamma (an RMS norm), or gamma and beta."""
        return 1 if self.rms else 2

    def weight_tensors(self) -> tuple[Tensor, ...]:
        if not self.affine:
            return ()
        return (self._weight("weight", (self.weight_rows, self.cols), self.weight_bits),)

    def vector_work(self) -> int:
        if self.rms:
            return (4 if self.affine else 3) * self.rows * self.cols + 2 * self.rows
        per_element = 7 if self.affine else 5
        return per_element * self.rows * self.cols + 3 * self.rows


class Pool(Op):
    """Max or average pooling over NHWC input (batch, in_h, in_w, channels). `kernel` and
    `stride` (default: the kernel) and `padding` as for conv2d; `global_pool: true` pools the
    whole plane to 1x1 (leave kernel, stride and padding out). vector_work = kernel area per
    output element (kh*kw - 1 compares or adds and one final select or scale)."""

    input_match: ClassVar[Literal["shape", "elements"]] = "shape"
    shape_doc: ClassVar[tuple[str, ...]] = ("(batch, in_h, in_w, channels)",)

    type: Literal["pool"] = "pool"
    mode: Literal["max", "avg"]
    batch: PosInt = 1
    in_h: PosInt
    in_w: PosInt
    channels: PosInt
    kernel: PosPair | None = None
    stride: PosPair | None = None
    padding: NonNegPair = (0, 0)
    global_pool: StrictBool = False

    @model_validator(mode="after")
    def _check_pool(self) -> Pool:
        if self.global_pool:
            for field in ("kernel", "stride"):
                if getattr(self, field) is not None:
                    raise OpFieldError(field, f"a global pool takes no {field}")
            if self.padding != (0, 0):
                raise OpFieldError("padding", "a global pool takes no padding")
            return self
        if self.kernel is None:
            raise OpFieldError("kernel", "a pool needs a kernel unless global_pool is true")
        for i, axis in enumerate(("height", "width")):
            if self.out_hw[i] < 1:
                raise OpFieldError(
                    "kernel", f"kernel {axis} {self.kernel[i]} exceeds the padded input {axis} "
                    f"{(self.in_h, self.in_w)[i] + 2 * self.padding[i]}"
                )
        return self

    @property
    def window(self) -> tuple[int, int]:
        """Effective (kh, kw): the kernel, or (in_h, in_w) for a global pool."""
        return (self.in_h, self.in_w) if self.kernel is None else self.kernel

    @property
    def out_hw(self) -> tuple[int, int]:
        """Output (height, width)."""
        if self.global_pool:
            return (1, 1)
        window = self.window
        stride = self.stride or window
        return (
            conv_out(self.in_h, window[0], stride[0], self.padding[0]),
            conv_out(self.in_w, window[1], stride[1], self.padding[1]),
        )

    def input_shapes(self) -> tuple[tuple[int, ...], ...]:
        return ((self.batch, self.in_h, self.in_w, self.channels),)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return (self.batch, *self.out_hw, self.channels)

    def vector_work(self) -> int:
        oh, ow = self.out_hw
        kh, kw = self.window
        return self.batch * oh * ow * self.channels * kh * kw
