"""Operators of a workload graph: the common `Op` interface and the ops that run on a MAC array.

Every op names its activation `inputs` and its `output` tensor; its own parameters fix the
shapes it expects to read and the shape it writes, so a graph can check that ops chain. Weight
(and bias) tensors belong to the op that uses them and are named ``<op>.weight`` and
``<op>.bias``. Bit widths: `weight_bits` for weights, `act_bits` for the activations read,
`out_bits` for the activation written (defaults to `act_bits`); biases are `bias_bits` wide
(32 by default: an int8 layer accumulates in int32). Layout is NHWC for images.

MAC ops (`conv2d`, `gemm`, `matmul`) count `macs` exactly and lower to a GEMM for a MAC array
through `gemm_view()`; their `vector_work()` is 0 (bias adds happen in the accumulators).
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Annotated, Any, ClassVar, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Strict, model_validator

from pysim.memo import CachedFigures
from pysim.workload.number_formats import FormatName, check_blocks, element_format, storage_bits
from pysim.workload.sparsity import Sparsity
from pysim.workload.tensors import (
    Bits,
    DType,
    Name,
    NonNegPair,
    PosInt,
    PosPair,
    Tensor,
    format_fields,
    packed_bytes,
)

StrictBool = Annotated[bool, Strict()]


class OpFieldError(ValueError):
    """A cross-field check of an op failed; `field` is the field to blame in the message."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class GemmView(NamedTuple):
    """An op lowered to `count` independent GEMMs of (m x k) @ (k x n)."""

    count: int  # type: ignore[assignment]  # the field shadows tuple.count, read as view.count
    m: int
    n: int
    k: int

    @property
    def macs(self) -> int:
        """count * m * n * k."""
        return self.count * self.m * self.n * self.k


class Quant(BaseModel):
    """Quantization granularity of an op's weights: one scale per tensor, per output channel,
    or per group of ``group_size`` weights along the reduction (K) of each output channel, each
    ``scale_bits`` wide (plus a zero point of the same width when ``zero_point``). The scales are
    stored with the weights (``<op>.scales``: they count in weight bytes and DRAM traffic), and
    dequantizing the accumulators costs vector-unit work (``Op.dequant_work``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    granularity: Literal["tensor", "channel", "group"] = "tensor"
    group_size: PosInt = 128
    scale_bits: Bits = 16
    zero_point: StrictBool = False

    def scale_shape(self, k: int, n: int) -> tuple[int, ...]:
        """Shape of the scale tensor of a K x N weight."""
        if self.granularity == "tensor":
            return (1,)
        if self.granularity == "channel":
            return (n,)
        return (math.ceil(k / self.group_size), n)

    def dequant_ops(self, outputs: int, k: int) -> int:
        """Vector operations to dequantize ``outputs`` accumulators of a K-long reduction: one
        scale multiply per output (per group partial sum for group-wise), plus one zero-point
        correction each when ``zero_point``."""
        per = math.ceil(k / self.group_size) if self.granularity == "group" else 1
        return outputs * per * (2 if self.zero_point else 1)


class Op(CachedFigures):
    """Base of all ops. Subclasses set `type` (a Literal), the class variables below, and
    implement `input_shapes()` and `output_shape`.

    Class variables: `runs_on` is "mac" (a MAC array, see `gemm_view()`) or "vector" (a vector
    unit, see `vector_work()`); `input_match` is "shape" when each input tensor must have exactly
    the shape the op expects, or "elements" when only the element count must agree (the op views
    its operands as matrices, and reshapes or transposes feeding it are free views); `shape_doc`
names the parameters that set each input's shape, for error messages.

    `unit` (optional, default none) pins an op that runs on a MAC unit to the hardware unit of
    that name, overriding the hardware's `dispatch` policy; mapping raises WorkloadError if that
    unit does not support the op's precision (docs/low_precision_units.md, "Integration"). Ops
    that run on the vector unit cannot be pinned.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    runs_on: ClassVar[Literal["mac", "vector"]] = "vector"
    input_match: ClassVar[Literal["shape", "elements"]] = "elements"
    shape_doc: ClassVar[tuple[str, ...]] = ()
    # The YAML `type` where it differs from `type` (an op that behaves as its base class's
    # type everywhere but in the registry: a training graph's weight-gradient matmul)
    yaml_type: ClassVar[str | None] = None

    name: Name
    type: str
    inputs: tuple[Name, ...]
    output: Name
    weight_bits: Bits = 8
    act_bits: Bits = 8
    out_bits: Bits | None = None
    dtype: DType = "int"
    quant: Quant | None = None  # weight quantization granularity (scales, dequantization)
    weight_sparsity: Sparsity | None = None  # zeros of the weights (pysim/workload/sparsity.py)
    act_sparsity: Sparsity | None = None  # zeros of the activations read
    out_sparsity: Sparsity | None = None  # zeros of the output written (a fused ReLU's)
    # Pin a MAC op to the hardware unit of this name instead of the hardware's `dispatch`
    # policy; the mapper raises WorkloadError if that unit cannot run the op's precision.
    unit: Name | None = None
    # Number formats (pysim.formats names, pysim/workload/number_formats.py): they set the
    # widths and dtype; block / group scales count in the tensors' bytes (weights: as
    # `<op>.scales`, with their dequantization). `out_format` defaults to `act_format` unless
    # `out_bits` is set.
    weight_format: FormatName | None = None
    act_format: FormatName | None = None
    out_format: FormatName | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_output(cls, data: Any) -> Any:
        if isinstance(data, dict) and "output" not in data and "name" in data:
            return {**data, "output": data["name"]}
        return data

    @model_validator(mode="before")
    @classmethod
    def _from_formats(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        names = {k: data.get(k) for k in ("weight_format", "act_format", "out_format")}
        if not any(isinstance(v, str) for v in names.values()):
            return data
        data = format_fields(data, "weight_format", "weight_bits", None, "")
        data = format_fields(data, "act_format", "act_bits", None, "")
        data = format_fields(data, "out_format", "out_bits", None, "")
        kinds = {element_format(v).dtype for k, v in names.items()
                 if isinstance(v, str) and k != "out_format"}
        if kinds:
            dtype = "float" if "float" in kinds else "int"
            if data.get("dtype") not in (None, dtype):
                given = ", ".join(f"{k} {v!r}" for k, v in names.items() if v)
                raise ValueError(f"the op's formats ({given}) make it a {dtype} op, but dtype "
                                 f"is {data['dtype']!r}; leave dtype out or set it to {dtype!r}")
            data["dtype"] = dtype
        w = names["weight_format"]
        if isinstance(w, str) and element_format(w).group:
            f = element_format(w)
            scales = Quant(granularity="group", group_size=f.group, scale_bits=f.scale_bits)
            given = data.get("quant")
            if given is not None and Quant.model_validate(given) != scales:
                raise ValueError(f"weight_format {w!r} brings its own scales (one "
                                 f"{f.scale_bits}-bit scale per {f.group} weights along K); "
                                 f"leave quant out, got {given!r}")
            data["quant"] = scales
        return data

    @model_validator(mode="after")
    def _check_arity(self) -> Op:
        want = self.arity()
        if len(self.inputs) != want:
            raise OpFieldError(
                "inputs", f"a {self.type} op reads {want} tensor(s), got {len(self.inputs)}"
            )
        view = self.gemm_view() if self.runs_on == "mac" else None
        for key in ("weight_format", "act_format"):
            name = getattr(self, key)
            if view is not None and name is not None:
                try:
                    check_blocks(name, view.k, "the op's reduction length K")
                except ValueError as err:
                    raise OpFieldError(key, str(err)) from None
        if self.unit is not None and self.runs_on != "mac":
            raise OpFieldError(
                "unit", f"only ops that run on a MAC unit can be pinned to one; a {self.type} "
                f"op runs on the vector unit, got unit {self.unit!r}"
            )
        return self

    # -- shapes ------------------------------------------------------------------------------
    def arity(self) -> int:
        """Number of activation input tensors the op reads."""
        return 1

    def input_shapes(self) -> tuple[tuple[int, ...], ...]:
        """The shape the op expects for each of `inputs`, in order."""
        raise NotImplementedError

    def input_bits(self) -> tuple[int, ...]:
        """The bits per element the op expects for each of `inputs`, in order: `act_bits` for
        every one (an op reading tensors of several widths overrides it)."""
        return (self.act_bits,) * self.arity()

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Shape of the output tensor."""
        raise NotImplementedError

    # -- tensors and bytes -------------------------------------------------------------------
    @property
    def output_bits(self) -> int:
        """Bits per element of the output: `out_bits`, or `act_bits` if not set."""
        return self.act_bits if self.out_bits is None else self.out_bits

    @property
    def output_format(self) -> str | None:
        """The output's number format: `out_format`, else `act_format` unless `out_bits` is
        set."""
        if self.out_format is not None:
            return self.out_format
        return self.act_format if self.out_bits is None else None

    def output_tensor(self) -> Tensor:
        """The activation tensor this op writes (built once: the op is immutable)."""
        return self._output_tensor

    @cached_property
    def _output_tensor(self) -> Tensor:
        fmt = self.output_format
        if fmt is not None:
            return Tensor(name=self.output, shape=self.output_shape, format=fmt,
                          role="activation")
        return Tensor(
            name=self.output,
            shape=self.output_shape,
            bits=self.output_bits,
            dtype=self.dtype,
            role="activation",
        )

    def weight_tensors(self) -> tuple[Tensor, ...]:
        """Parameters of the op (weights, biases); empty for ops without any."""
        return ()

    def _scales(self, k: int, n: int) -> tuple[Tensor, ...]:
        """The quantization scales (and zero points) of a K x N weight, if ``quant`` is set."""
        if self.quant is None:
            return ()
        shape = self.quant.scale_shape(k, n)
        if self.quant.zero_point:
            shape = (2, *shape)
        return (self._weight("scales", shape, self.quant.scale_bits),)

    def dequant_work(self) -> int:
        """Vector operations that dequantize the op's outputs (0 without ``quant``)."""
        view = self.gemm_view()
        if self.quant is None or view is None:
            return 0
        return view.count * self.quant.dequant_ops(view.m * view.n, view.k)

    def bias_grad_work(self) -> int:
        """Vector adds of a bias gradient the op computes beside its GEMM
        (pysim.training.ops.WeightGrad); 0 for every other op."""
        return 0

    def bias_grad_bytes(self) -> int:
        """Bytes of that bias gradient, written after the GEMM's output (0 without one)."""
        return 0

    @cached_property
    def weight_bytes(self) -> int:
        """Bytes of all weight tensors of the op (computed once: the op is immutable)."""
        return sum(size for _, size in self.weight_sizes)

    @cached_property
    def weight_sizes(self) -> tuple[tuple[str, int], ...]:
        """(name, bytes) of each weight tensor, computed once (building the tensors validates
        them; the mapper asks for every op of every run)."""
        return tuple((t.name, t.bytes) for t in self.weight_tensors())

    def read_fraction(self) -> float:
        """Share of each input tensor the op reads (1; less for a slice, see data_ops.Copy)."""
        return 1.0

    @cached_property
    def input_bytes(self) -> int:
        """Bytes of the activation inputs, each ceil(elements * act_bits / 8) (with
        `act_format`: its values and scales)."""
        if self.act_format is not None:
            return sum(-(-storage_bits(s, self.act_format) // 8) for s in self.input_shapes())
        return self.input_value_bytes

    @cached_property
    def input_value_bytes(self) -> int:
        """``input_bytes`` without a format's scales: the values packed at ``act_bits`` (each
        input at its ``input_bits``)."""
        return sum(packed_bytes(math.prod(s), b)
                   for s, b in zip(self.input_shapes(), self.input_bits(), strict=True))

    @cached_property
    def output_value_bytes(self) -> int:
        """``output_bytes`` without a format's scales: the values packed at ``output_bits``."""
        return packed_bytes(math.prod(self.output_shape), self.output_bits)

    @cached_property
    def output_bytes(self) -> int:
        """Bytes of the output: ceil(elements * output_bits / 8) (with a format: values and
        scales)."""
        if self.output_format is not None:
            return -(-storage_bits(self.output_shape, self.output_format) // 8)
        return self.output_value_bytes

    @property
    def output_memory_bytes(self) -> int:
        """Memory the output needs of its own while the op runs: its bytes, or none for an op
        that writes over its inputs (pysim.training's optimizer update)."""
        return self.output_bytes

    # -- work --------------------------------------------------------------------------------
    @property
    def macs(self) -> int:
        """Multiply-accumulates; 0 for ops that do not run on a MAC array."""
        view = self.gemm_view()
        return 0 if view is None else view.macs

    def gemm_view(self) -> GemmView | None:
        """The op as `count` GEMMs (m, n, k) for a MAC array, or None for vector ops."""
        return None

    def vector_work(self) -> int:
        """Elementary vector-unit operations (see docs/workloads.md); 0 for MAC ops."""
        return 0

    def _weight(self, suffix: str, shape: tuple[int, ...], bits: int) -> Tensor:
        return Tensor(
            name=f"{self.name}.{suffix}", shape=shape, bits=bits, dtype=self.dtype, role="weight"
        )


def conv_out(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """Output size along one axis: floor((in + 2p - d(k-1) - 1) / s) + 1 (may be < 1)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


class Conv2d(Op):
    """2-D convolution, NHWC input (batch, in_h, in_w, in_c), weight (out_c, kh, kw, in_c /
    groups), output (batch, out_h, out_w, out_c). `groups` divides in_c and out_c (depthwise:
    groups == in_c == out_c). Lowered by im2col to `groups` GEMMs with M = batch*out_h*out_w,
    N = out_c/groups, K = kh*kw*in_c/groups."""

    runs_on: ClassVar[Literal["mac", "vector"]] = "mac"
    input_match: ClassVar[Literal["shape", "elements"]] = "shape"
    shape_doc: ClassVar[tuple[str, ...]] = ("(batch, in_h, in_w, in_c)",)

    type: Literal["conv2d"] = "conv2d"
    batch: PosInt = 1
    in_h: PosInt
    in_w: PosInt
    in_c: PosInt
    out_c: PosInt
    kernel: PosPair
    stride: PosPair = (1, 1)
    padding: NonNegPair = (0, 0)
    dilation: PosPair = (1, 1)
    groups: PosInt = 1
    bias: StrictBool = False
    bias_bits: Bits = 32

    @model_validator(mode="after")
    def _check_conv(self) -> Conv2d:
        if self.in_c % self.groups or self.out_c % self.groups:
            raise OpFieldError(
                "groups",
                f"groups must divide in_c={self.in_c} and out_c={self.out_c}, got {self.groups}",
            )
        for i, (axis, size) in enumerate((("height", self.in_h), ("width", self.in_w))):
            k, p, d = self.kernel[i], self.padding[i], self.dilation[i]
            if conv_out(size, k, self.stride[i], p, d) < 1:
                raise OpFieldError(
                    "kernel",
                    f"dilated kernel {axis} {d * (k - 1) + 1} exceeds the padded input {axis} "
                    f"{size + 2 * p}",
                )
        return self

    @property
    def out_h(self) -> int:
        """Output height."""
        return conv_out(self.in_h, self.kernel[0], self.stride[0], self.padding[0],
                        self.dilation[0])

    @property
    def out_w(self) -> int:
        """Output width."""
        return conv_out(self.in_w, self.kernel[1], self.stride[1], self.padding[1],
                        self.dilation[1])

    def input_shapes(self) -> tuple[tuple[int, ...], ...]:
        return ((self.batch, self.in_h, self.in_w, self.in_c),)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return (self.batch, self.out_h, self.out_w, self.out_c)

    def weight_tensors(self) -> tuple[Tensor, ...]:
        kh, kw = self.kernel
        w = self._weight("weight", (self.out_c, kh, kw, self.in_c // self.groups),
                         self.weight_bits)
        scales = self._scales(kh * kw * self.in_c // self.groups, self.out_c)
        bias = (self._weight("bias", (self.out_c,), self.bias_bits),) if self.bias else ()
        return (w, *bias, *scales)

    def gemm_view(self) -> GemmView:
        kh, kw = self.kernel
        return GemmView(
            count=self.groups,
            m=self.batch * self.out_h * self.out_w,
            n=self.out_c // self.groups,
            k=kh * kw * self.in_c // self.groups,
        )


class Gemm(Op):
    """Fully connected layer (YAML type `gemm` or its alias `linear`): input (m, k) @ weight
    (k, n) [+ bias (n,)] -> output (m, n)."""

    runs_on: ClassVar[Literal["mac", "vector"]] = "mac"
    shape_doc: ClassVar[tuple[str, ...]] = ("(m, k)",)

    type: Literal["gemm"] = "gemm"
    m: PosInt
    n: PosInt
    k: PosInt
    bias: StrictBool = False
    bias_bits: Bits = 32

    def input_shapes(self) -> tuple[tuple[int, ...], ...]:
        return ((self.m, self.k),)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return (self.m, self.n)

    def weight_tensors(self) -> tuple[Tensor, ...]:
        w = self._weight("weight", (self.k, self.n), self.weight_bits)
        bias = (self._weight("bias", (self.n,), self.bias_bits),) if self.bias else ()
        return (w, *bias, *self._scales(self.k, self.n))

    def gemm_view(self) -> GemmView:
        return GemmView(count=1, m=self.m, n=self.n, k=self.k)


class Matmul(Op):
    """Batched product of two activations (attention's Q K^T and P V): inputs
    (*batch, m, k) and (*batch, k, n) -> output (*batch, m, n); no weights. `batch` holds the
    leading dimensions, e.g. (batch, heads). The operands may differ in width (`b_bits`)."""

    runs_on: ClassVar[Literal["mac", "vector"]] = "mac"
    shape_doc: ClassVar[tuple[str, ...]] = ("(*batch, m, k)", "(*batch, k, n)")

    type: Literal["matmul"] = "matmul"
    batch: tuple[PosInt, ...] = ()
    m: PosInt
    n: PosInt
    k: PosInt
    # Width of the second operand (B) when it differs from A's `act_bits`: a mixed-width
    # product, e.g. EcoFormer's 1-bit hash codes (act_bits 1) against 8-bit values (b_bits 8).
    b_bits: Bits | None = None

    def arity(self) -> int:
        return 2

    def input_shapes(self) -> tuple[tuple[int, ...], ...]:
        return ((*self.batch, self.m, self.k), (*self.batch, self.k, self.n))

    def input_bits(self) -> tuple[int, ...]:
        """A at `act_bits`, B at `b_bits` (default `act_bits`)."""
        return (self.act_bits, self.act_bits if self.b_bits is None else self.b_bits)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return (*self.batch, self.m, self.n)

    def gemm_view(self) -> GemmView:
        return GemmView(count=math.prod(self.batch), m=self.m, n=self.n, k=self.k)
