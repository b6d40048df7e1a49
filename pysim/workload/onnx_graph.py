"""The state of an ONNX import: what each ONNX tensor is in pysim, and the ops built so far.

Every ONNX tensor maps to a `Val`: a *constant* (an initializer, a Constant, a shape
computation: no pysim tensor, no traffic) or a pysim tensor (a graph input or an op's output,
possibly through free views such as Reshape or Transpose, which share their source's pysim
tensor). `Importer` holds those, the pysim ops, the layout of each pysim tensor, and the
graph inputs and constant operands to declare. The per-op mappings are in
`pysim.workload.onnx_ops`; the driver is `pysim.workload.onnx_import`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

from onnx import NodeProto, TensorProto, helper

from pysim.workload.ops import Op
from pysim.workload.tensors import Tensor
from pysim.workload.vector_ops import Elementwise

# ONNX element type -> (bits, dtype). 64-bit types count as 32 bits (pysim's widest); bool as 8.
_T = TensorProto
ELEM_BITS: dict[int, tuple[int, str]] = {
    _T.FLOAT: (32, "float"), _T.DOUBLE: (32, "float"), _T.FLOAT16: (16, "float"),
    _T.BFLOAT16: (16, "float"), _T.UINT8: (8, "int"), _T.INT8: (8, "int"),
    _T.UINT16: (16, "int"), _T.INT16: (16, "int"), _T.INT32: (32, "int"),
    _T.UINT32: (32, "int"), _T.INT64: (32, "int"), _T.UINT64: (32, "int"), _T.BOOL: (8, "int"),
}
for _name, _bits, _kind in (("FLOAT8E4M3FN", 8, "float"), ("FLOAT8E4M3FNUZ", 8, "float"),
                            ("FLOAT8E5M2", 8, "float"), ("FLOAT8E5M2FNUZ", 8, "float"),
                            ("UINT4", 4, "int"), ("INT4", 4, "int"), ("FLOAT4E2M1", 4, "float")):
    if hasattr(_T, _name):  # newer onnx releases only
        ELEM_BITS[getattr(_T, _name)] = (_bits, _kind)


class Unsupported(Exception):
    """A node pysim cannot map; the message says why."""


class UnsupportedNode(NamedTuple):
    """A skipped ONNX node: its op type (``domain.type`` outside the default domain), its name
    and why it could not be mapped."""

    op_type: str
    name: str
    reason: str


@dataclass(frozen=True)
class Val:
    """What an ONNX tensor is in pysim: its ONNX `shape` (None if unknown), `bits` and `dtype`,
    and the pysim `tensor` holding it (None for a constant)."""

    shape: tuple[int, ...] | None
    bits: int
    dtype: str
    tensor: str | None = None

    @property
    def const(self) -> bool:
        """True for a constant (initializer, Constant, shape computation)."""
        return self.tensor is None

    @property
    def elements(self) -> int | None:
        """Number of elements, None if the shape is unknown."""
        return None if self.shape is None else math.prod(self.shape)


def canonical(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The pysim layout of an ONNX shape: images (rank 4, NCHW) channels-last, scalars (1,)."""
    if len(shape) == 4:
        n, c, h, w = shape
        return (n, h, w, c)
    return shape or (1,)


def attrs(node: NodeProto) -> dict[str, Any]:
    """The node's attributes by name (values decoded)."""
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


class Importer:
    """Builds the pysim ops of one ONNX graph.

    `types` maps every ONNX tensor name to (element type, static shape or None);
    `quantize_bits` makes float tensors integers of that width (None keeps them floats of the
    file's width); `opset` is the default domain's opset version."""

    def __init__(self, types: dict[str, tuple[int, tuple[int, ...] | None]],
                 quantize_bits: int | None, opset: int) -> None:
        self.types = types
        self.qdq_bits: dict[str, int] = {}  # float tensor -> width a QuantizeLinear gives it
        self.quantize_bits = quantize_bits
        self.opset = opset
        self.vals: dict[str, Val] = {}
        self.ops: list[Op] = []
        self.layouts: dict[str, tuple[int, ...]] = {}   # pysim tensor -> its shape
        self.graph_inputs: dict[str, Val] = {}          # pysim graph input -> its Val
        self.weights: dict[str, Tensor] = {}            # constants declared as weight operands
        self.op_names: set[str] = set()
        self.tensor_names: set[str] = set(types)
        self.fused_bias: dict[str, str] = {}            # MAC node output -> bias tensor
        self.unsupported: list[UnsupportedNode] = []
        self.conversions: dict[tuple[str, int], str] = {}

    # -- names, types and values -------------------------------------------------------------
    def unique(self, name: str, taken: set[str]) -> str:
        """`name`, or `name.1`, `name.2` ... if taken; recorded as taken."""
        out, i = name, 0
        while out in taken:
            i += 1
            out = f"{name}.{i}"
        taken.add(out)
        return out

    def bits(self, name: str) -> tuple[int, str]:
        """(bits, dtype) of ONNX tensor `name`: a QuantizeLinear's width if one quantizes it,
        else by element type (float tensors as `quantize_bits`-wide ints when given)."""
        if name in self.qdq_bits:
            return self.qdq_bits[name], "int"
        elem = self.types.get(name, (0, None))[0]
        bits, dtype = ELEM_BITS.get(elem, (32, "float"))
        if dtype == "float" and self.quantize_bits is not None:
            return self.quantize_bits, "int"
        return bits, dtype

    def shape(self, name: str) -> tuple[int, ...] | None:
        """Static ONNX shape of tensor `name`, None if unknown."""
        return self.types.get(name, (0, None))[1]

    def need_shape(self, name: str) -> tuple[int, ...]:
        """Static ONNX shape of `name`. Raises Unsupported if shape inference left it unknown."""
        shape = self.shape(name)
        if shape is None:
            raise Unsupported(f"the shape of tensor {name!r} is unknown after shape inference")
        return shape

    def value(self, name: str) -> Val:
        """The Val of ONNX tensor `name`."""
        if name not in self.vals:
            raise Unsupported(f"tensor {name!r} is not produced by any node of the main graph")
        return self.vals[name]

    def constant(self, name: str) -> None:
        """Record ONNX tensor `name` as a constant."""
        self.vals[name] = Val(self.shape(name), *self.bits(name))

    def alias(self, name: str, source: Val) -> None:
        """ONNX tensor `name` is a free view of `source` (same pysim tensor and width)."""
        self.vals[name] = Val(self.shape(name) or source.shape, source.bits, source.dtype,
                              source.tensor)

    def graph_input(self, name: str) -> Val:
        """Make ONNX tensor `name` a pysim graph input (laid out when first read)."""
        shape = self.need_shape(name)
        if shape and min(shape) < 1:
            raise Unsupported(f"tensor {name!r} has an empty dimension: {shape}")
        val = Val(shape, *self.bits(name), tensor=name)
        self.vals[name] = self.graph_inputs[name] = val
        return val

    # -- layouts and reads -------------------------------------------------------------------
    def layout(self, val: Val, want: tuple[int, ...] | None = None) -> tuple[int, ...]:
        """The pysim shape of `val`'s tensor; a graph input not yet laid out takes `want` (or
        its canonical layout). Raises Unsupported if it is laid out otherwise than `want`."""
        assert val.tensor is not None
        tensor = val.tensor
        if tensor not in self.layouts:
            src = self.graph_inputs[tensor]
            assert src.shape is not None
            shape = want if want is not None and math.prod(want) == src.elements \
                else canonical(src.shape)
            self.layouts[tensor] = shape
        shape = self.layouts[tensor]
        if want is not None and shape != want:
            raise Unsupported(f"tensor {tensor!r} is laid out {shape} in pysim but is read as "
                              f"{want} (a Reshape or Transpose feeding an op that needs an "
                              f"exact shape)")
        return shape

    def read(self, val: Val, bits: int, want: tuple[int, ...] | None = None) -> str:
        """The pysim tensor holding `val` at `bits` bits, laid out `want` if given; a width
        change adds an elementwise quantize (narrower) or dequantize (wider) op."""
        if val.tensor is None:
            raise Unsupported("a constant where pysim needs an activation")
        if want is not None:
            self.layout(val, want)
        if val.bits == bits:
            return val.tensor
        key = (val.tensor, bits)
        if key not in self.conversions:
            shape = self.layout(val, want)
            out = self.unique(f"{val.tensor}.{bits}b", self.tensor_names)
            self.emit(Elementwise(
                name=self.unique(out, self.op_names), output=out, inputs=(val.tensor,),
                op="quantize" if bits < val.bits else "dequantize", shape=shape,
                act_bits=val.bits, out_bits=bits, dtype=val.dtype,
            ))
            self.conversions[key] = out
        return self.conversions[key]

    def declare_weight(self, name: str, val: Val) -> str:
        """Declare constant `name` as a weight tensor (an operand of a matmul); its name."""
        if name not in self.weights:
            shape = canonical(val.shape or (1,))
            self.weights[name] = Tensor(name=name, shape=shape, bits=val.bits,
                                        dtype=val.dtype, role="weight")
        return name

    def emit(self, op: Op, onnx_output: str | None = None) -> str:
        """Append `op`; if `onnx_output` is given, that ONNX tensor becomes the op's output."""
        self.ops.append(op)
        self.layouts[op.output] = op.output_shape
        if onnx_output is not None:
            self.vals[onnx_output] = Val(self.shape(onnx_output) or op.output_shape,
                                         op.output_bits, op.dtype, op.output)
        return op.output

    def bias_bits(self, name: str | None) -> int:
        """Width of bias tensor `name`: its own, but 32 (the accumulators') for a float bias
        imported as integers; 32 when there is none."""
        if name is None:
            return 32
        bits, dtype = ELEM_BITS.get(self.types.get(name, (0, None))[0], (32, "float"))
        return 32 if dtype == "float" and self.quantize_bits is not None else bits

    def out_fields(self, node: NodeProto, name: str, act_bits: int,
                   operands: tuple[Val, ...] = ()) -> dict[str, Any]:
        """The fields every op built from `node` shares: name, output, widths, dtype. A MAC
        op passes its `operands`: its dtype is "int" when they all are (a dequantized int8
        matmul computes on integers even if its output is float)."""
        bits, dtype = self.bits(node.output[0])
        if operands:
            dtype = "int" if all(v.dtype == "int" for v in operands) else "float"
        return {"name": name, "output": node.output[0], "act_bits": act_bits, "out_bits": bits,
                "dtype": dtype}
