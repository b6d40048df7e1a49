"""Ops a training graph needs beyond the inference op set.

- `VectorWork`: a vector-unit op reading tensors of any shapes and writing ``out_shape``,
  with ``ops_per_element`` elementary vector ops per output element plus ``ops_per_input``
  per input element (softmax / layernorm / activation backward, loss, optimizer update, casts,
  Hadamard transforms, col2im). Priced like every vector op: its vector work and its bytes.
- `WeightGrad`: the weight-gradient GEMM dW = X^T dY of a layer as ``count`` GEMMs of
  (m x k) @ (k x n); it reads X and dY at their own shapes (a convolution's patch matrix is
  gathered from X on the fly, as an implicit-GEMM weight-gradient kernel does), so it is a
  `matmul` whose operands are viewed as matrices.
- `AttentionBackward`: FlashAttention's backward (Dao, "FlashAttention-2", 2023, Alg. 2):
  per (batch, head) it recomputes S = Q K^T and P from the saved log-sum-exp, then
  dV = P^T dO, dP = dO V^T, dS = P * (dP - D), dQ = dS K, dK = dS^T Q: five GEMMs of the
  forward's (pairs x head_dim) against the forward's two. It is priced as a fused attention
  kernel whose head dimension is 5/2 the forward's (so its MACs are exactly 5 x pairs x
  head_dim) and writes dQ, dK and dV side by side.

Each has a YAML `type` of its own (`vector_work`, `weight_grad`, `attention_backward`;
pysim.workload.registry), so a training graph written by `Workload.to_yaml` loads back as the
same graph; `weight_grad` and `attention_backward` ops keep their base class's `type`
(``matmul``, ``attention``) in memory, as the mapper reads them so.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import ClassVar, Literal

from pydantic import Field, StrictBool, model_validator

from pysim.workload.attention import Attention
from pysim.workload.ops import GemmView, Matmul, Op
from pysim.workload.tensors import PosInt, Shape


class VectorWork(Op):
    """Vector work over tensors of ``shapes`` writing ``out_shape``: ``ops_per_element`` x
    output elements + ``ops_per_input`` x input elements + ``ops_per_row`` x ``rows`` +
    ``ops_extra``."""

    input_match: ClassVar[Literal["shape", "elements"]] = "elements"

    type: Literal["vector_work"] = "vector_work"
    shapes: tuple[Shape, ...]
    out_shape: Shape
    ops_per_element: int = Field(default=1, ge=0)
    ops_per_input: int = Field(default=0, ge=0)
    ops_per_row: int = Field(default=0, ge=0)
    rows: int = Field(default=0, ge=0)
    ops_extra: int = Field(default=0, ge=0)  # beyond those (an update's weight-copy casts)
    # The output overwrites the inputs in memory (an optimizer update writing back the weights
    # and states it read): it moves its bytes but needs no memory of its own.
    in_place: bool = False
    # Bits of each input where they differ (an op reading tensors of several widths, as
    # autocast's type promotion does: an fp32 residual plus a bf16 GEMM output); () means
    # ``act_bits`` for every input.
    in_bits: tuple[PosInt, ...] = ()
    what: str = ""  # the backward rule or step it models, for reports
    # The PyTorch op it stands for where a GPU without fusion runs it as several eager kernels
    # (pysim/gpu/kernels.py ``eager_kernels``): "cross_entropy" (log_softmax, nll_loss and
    # their backward over logits in the last dimension); "" for one kernel.
    torch_op: Literal["", "cross_entropy"] = ""
    # The share of each input it reads: an optimizer update on the 1 / N partition of the
    # gradients, master weights and states a ZeRO stage leaves each of N devices
    # (pysim/training/data_parallel.py); 1: all of them.
    read_share: float = Field(default=1.0, gt=0.0, le=1.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_width_per_input(self) -> VectorWork:
        if self.in_bits and len(self.in_bits) != len(self.shapes):
            raise ValueError(f"in_bits has {len(self.in_bits)} entries for "
                             f"{len(self.shapes)} inputs")
        return self

    def arity(self) -> int:
        return len(self.shapes)

    def input_bits(self) -> tuple[int, ...]:
        return self.in_bits or super().input_bits()

    def read_fraction(self) -> float:
        return self.read_share

    def input_shapes(self) -> tuple[tuple[int, ...], ...]:
        return self.shapes

    @property
    def output_shape(self) -> tuple[int, ...]:
        return self.out_shape

    @property
    def output_memory_bytes(self) -> int:
        return 0 if self.in_place else self.output_bytes

    def vector_work(self) -> int:
        return self._work

    @cached_property
    def _work(self) -> int:  # asked for by every run that maps the op (CachedFigures)
        inputs = sum(math.prod(s) for s in self.shapes)
        return (self.ops_per_element * math.prod(self.out_shape) + self.ops_per_input * inputs
                + self.ops_per_row * self.rows + self.ops_extra)


class WeightGrad(Matmul):
    """dW = X^T dY as ``count`` GEMMs (m = K, n = N, k = M of the forward's GEMM view),
    reading X (``x_shape``) and dY (``dy_shape``) as they are laid out.

    ``bias``: the layer's bias gradient (the column sums of dY, n values per GEMM) is computed
    alongside from the dY the GEMM streams and written after dW, as the output's last
    ``count`` rows: on an accelerator's vector unit beside the array (as it dequantizes
    accumulators), on a GPU in the GEMM's epilogue (cuBLASLt's ``CUBLASLT_EPILOGUE_BGRADB``,
    which TransformerEngine's and Apex's fused linear layers use), or under ``fusion: none``
    as eager PyTorch runs it, a reduction kernel of its own (pysim/gpu/kernels.py)."""

    yaml_type: ClassVar[str | None] = "weight_grad"

    x_shape: Shape
    dy_shape: Shape
    count: PosInt = 1
    bias: StrictBool = False

    def input_shapes(self) -> tuple[tuple[int, ...], ...]:
        return (self.x_shape, self.dy_shape)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return (self.count * (self.m + self.bias), self.n)

    def bias_grad_work(self) -> int:
        return self.count * self.k * self.n if self.bias else 0  # one add per dY element

    def bias_grad_bytes(self) -> int:
        return -(-self.count * self.n * self.output_bits // 8) if self.bias else 0

    def gemm_view(self) -> GemmView:
        return GemmView(count=self.count, m=self.m, n=self.n, k=self.k)


BACKWARD_GEMMS = 5  # GEMMs of FlashAttention's backward per forward's 2


class AttentionBackward(Attention):
    """FlashAttention backward of ``forward`` (an Attention op): reads Q, K, V (and dO, O and
    the saved statistics, counted in ``extra_bytes`` of the step's memory), writes dQ|dK|dV."""

    yaml_type: ClassVar[str | None] = "attention_backward"

    fwd_head_dim: PosInt

    def input_shapes(self) -> tuple[tuple[int, ...], ...]:
        kv = (self.batch, self.kv_len, self.groups_kv_heads * self.fwd_head_dim)
        return ((self.batch, self.q_len, self.heads * self.fwd_head_dim), kv, kv)

    @property
    def output_shape(self) -> tuple[int, ...]:
        q = self.q_len * self.heads * self.fwd_head_dim
        kv = 2 * self.kv_len * self.groups_kv_heads * self.fwd_head_dim
        return (self.batch, q + kv)

    @classmethod
    def of(cls, fwd: Attention, name: str, inputs: tuple[str, ...], bits: int,
           dtype: str, out_bits: int) -> AttentionBackward:
        head_dim = fwd.head_dim * BACKWARD_GEMMS // 2
        if head_dim * 2 != fwd.head_dim * BACKWARD_GEMMS:
            head_dim += 1  # odd head_dim: one MAC column more per GEMM
        return cls(name=name, output=name, inputs=inputs, batch=fwd.batch,
                   heads=fwd.heads,
                   kv_heads=fwd.kv_heads, q_len=fwd.q_len, kv_len=fwd.kv_len,
                   head_dim=head_dim, causal=fwd.causal, fwd_head_dim=fwd.head_dim,
                   act_bits=bits, weight_bits=bits, out_bits=out_bits, dtype=dtype)  # type: ignore[arg-type]
