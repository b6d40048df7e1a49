"""A small helper that builds a Workload op by op, tracking tensor shapes, for the zoo models.

Each method appends one op named `name` whose output tensor is also called `name`, infers the
op's input dimensions from the shape of the tensor it reads, and returns the output's name.
"""

from __future__ import annotations

import math
from typing import Any

from pysim.errors import WorkloadError
from pysim.workload import (
    Conv2d,
    Elementwise,
    Gemm,
    LayerNorm,
    Matmul,
    Op,
    Pool,
    Quant,
    Softmax,
    Tensor,
    Workload,
)


class GraphBuilder:
    """Builds the ops of workload `name`, all with `weight_bits` / `act_bits` wide data of
    number format `dtype` ("int" or "float"); `batchnorm`: CNN builders keep each batch norm
    as an op (the training form) instead of folding it into its convolution."""

    def __init__(self, name: str, weight_bits: int = 8, act_bits: int = 8,
                 dtype: str = "int", batchnorm: bool = False) -> None:
        self.name = name
        self.batchnorm = batchnorm
        self.bits: dict[str, Any] = {"weight_bits": weight_bits, "act_bits": act_bits,
                                     "dtype": dtype}
        self.inputs: list[Tensor] = []
        self.ops: list[Op] = []
        self.shapes: dict[str, tuple[int, ...]] = {}

    def _add(self, op: Op) -> str:
        self.ops.append(op)
        self.shapes[op.output] = op.output_shape
        return op.output

    def input(self, name: str, shape: tuple[int, ...]) -> str:
        """Declare a graph input of `shape` (act_bits wide)."""
        self.inputs.append(Tensor(name=name, shape=shape, bits=self.bits["act_bits"],
                                  dtype=self.bits["dtype"]))
        self.shapes[name] = shape
        return name

    def weight(self, name: str, shape: tuple[int, ...]) -> str:
        """Declare a weight tensor of `shape` (weight_bits wide) that ops read as an operand,
        e.g. a matrix shared by the steps of a decode."""
        self.inputs.append(Tensor(name=name, shape=shape, bits=self.bits["weight_bits"],
                                  dtype=self.bits["dtype"],
                                  role="weight"))
        self.shapes[name] = shape
        return name

    def conv(self, x: str, name: str, out_c: int, kernel: int, stride: int = 1,
             groups: int = 1, bias: bool = True, padding: int | None = None) -> str:
        """Conv2d over NHWC `x`, 'same'-style padding kernel // 2 unless `padding` is given."""
        batch, in_h, in_w, in_c = self.shapes[x]
        pad = kernel // 2 if padding is None else padding
        return self._add(Conv2d(
            name=name, inputs=(x,), batch=batch, in_h=in_h, in_w=in_w, in_c=in_c, out_c=out_c,
            kernel=(kernel, kernel), stride=(stride, stride), padding=(pad, pad),
            groups=groups, bias=bias, **self.bits,
        ))

    def elementwise(self, op: str, xs: tuple[str, ...], name: str) -> str:
        """Elementwise `op` over tensors `xs` of equal shape."""
        return self._add(Elementwise(name=name, op=op, inputs=xs, shape=self.shapes[xs[0]],
                                     **self.bits))

    def pool(self, x: str, name: str, mode: str, kernel: int | None = None,
             stride: int | None = None, padding: int = 0) -> str:
        """Max/avg pool over NHWC `x`; no kernel means a global pool."""
        batch, in_h, in_w, channels = self.shapes[x]
        window = {} if kernel is None else {"kernel": kernel, "stride": stride or kernel,
                                            "padding": padding}
        return self._add(Pool(
            name=name, inputs=(x,), mode=mode, batch=batch, in_h=in_h, in_w=in_w,
            channels=channels, global_pool=kernel is None, **window, **self.bits,
        ))

    def gemm(self, x: str, name: str, n: int, k: int | None = None, bias: bool = True,
             weight_bits: int | None = None, quant: Quant | None = None) -> str:
        """Fully connected layer over `x` viewed as (elements / k, k); k defaults to the last
        dimension of `x`. ``weight_bits`` / ``quant``: weights narrower than the builder's
        (weight-only quantization, W4A16) with their scale groups."""
        k = k or self.shapes[x][-1]
        m = math.prod(self.shapes[x]) // k
        bits = self.bits if weight_bits is None else {**self.bits, "weight_bits": weight_bits}
        return self._add(Gemm(name=name, inputs=(x,), m=m, n=n, k=k, bias=bias, quant=quant,
                              **bits))

    def matmul(self, a: str, b: str, name: str, batch: tuple[int, ...], m: int, n: int,
               k: int) -> str:
        """Batched (m x k) @ (k x n) of two activations."""
        return self._add(Matmul(name=name, inputs=(a, b), batch=batch, m=m, n=n, k=k,
                                **self.bits))

    def attention(self, q: str, k: str, v: str, name: str, batch: int, heads: int,
                  q_len: int, kv_len: int, head_dim: int, kv_heads: int | None = None,
                  causal: bool = False) -> str:
        """Fused (Flash-style) attention of Q, K, V projections (pysim/workload/attention.py)."""
        from pysim.workload.attention import Attention

        return self._add(Attention(name=name, inputs=(q, k, v), batch=batch, heads=heads,
                                   kv_heads=kv_heads, q_len=q_len, kv_len=kv_len,
                                   head_dim=head_dim, causal=causal, **self.bits))

    def softmax(self, x: str, name: str, rows: int, cols: int) -> str:
        """Softmax over `rows` rows of `cols`."""
        return self._add(Softmax(name=name, inputs=(x,), rows=rows, cols=cols, **self.bits))

    def layernorm(self, x: str, name: str, rows: int, cols: int, rms: bool = False) -> str:
        """LayerNorm with gamma and beta over `rows` rows of `cols` (an RMS norm with gamma
        only when `rms`)."""
        return self._add(LayerNorm(name=name, inputs=(x,), rows=rows, cols=cols, rms=rms,
                                   **self.bits))

    def build(self) -> Workload:
        """The validated Workload."""
        return Workload(name=self.name, ops=tuple(self.ops), inputs=tuple(self.inputs))


ATTENTION_FORMS = ("naive", "flash")


def check_attention(model: str, attention: str) -> None:
    """Raise WorkloadError unless ``attention`` is "naive" (matmul, softmax, matmul) or
    "flash" (one fused attention op)."""
    if attention not in ATTENTION_FORMS:
        raise WorkloadError(f"zoo model {model!r}: attention must be one of "
                            f"{ATTENTION_FORMS}, got {attention!r}")
