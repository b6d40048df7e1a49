"""Fused scaled-dot-product attention, the FlashAttention way.

``attention`` computes softmax(Q K^T / sqrt(d)) V for every (batch, head) in one op, so the
q_len x kv_len score matrix never leaves the chip (Dao et al., "FlashAttention", NeurIPS 2022).
Inputs are the projections laid out (batch, len, heads x head_dim): Q with ``heads`` heads, K and
V with ``kv_heads`` (grouped-query attention when fewer; each K/V head serves
heads / kv_heads query heads). ``causal`` masks keys after the query's position, with the
queries aligned to the end of the keys (decode appends ``q_len`` tokens to ``kv_len - q_len``
cached ones). The naive form of the same computation is three ops: matmul (Q K^T), softmax,
matmul (P V).

Counts, per (batch, head), with ``pairs`` the visible (query, key) pairs:
MACs = 2 x pairs x head_dim (Q K^T and P V); vector work = 5 per score (scale, running max,
subtract, exp, running sum) + head_dim per query (the final 1 / l scaling). The mapper adds the
online-softmax rescaling of each output block, which depends on its tiling.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pysim.workload.ops import GemmView, Op, OpFieldError, StrictBool
from pysim.workload.tensors import PosInt

SCORE_OPS = 5  # per score element: scale, max, subtract, exp, sum


class GemmFormat(BaseModel):
    """The number format of one GEMM inside an attention op, where it differs from the op's
    (SageAttention2, Zhang et al., ICML 2025: Q K^T in int4 with a scale per block of
    ``scale_rows`` rows of Q and of K, P V in fp8 with fp32 accumulation). ``acc`` is the
    accumulator: "fp32" / "fp16" for floats, "int32" for integers (default)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dtype: Literal["int", "float"]
    bits: int = Field(ge=1, le=32)
    acc: Literal["fp32", "fp16", "int32"] | None = None
    scale_rows: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _acc_fits(self) -> GemmFormat:
        if self.acc is not None and (self.acc == "int32") != (self.dtype == "int"):
            raise ValueError(f"acc {self.acc!r} does not fit {self.dtype} operands "
                             f"(int: int32; float: fp32 or fp16)")
        return self

    @property
    def accumulator(self) -> str:
        return self.acc or ("int32" if self.dtype == "int" else "fp32")


class Attention(Op):
    """Fused attention of Q (batch, q_len, heads*head_dim) with K, V
    (batch, kv_len, kv_heads*head_dim) -> output (batch, q_len, heads*head_dim)."""

    runs_on = "mac"
    shape_doc = ("(batch, q_len, heads*head_dim)", "(batch, kv_len, kv_heads*head_dim)",
                 "(batch, kv_len, kv_heads*head_dim)")

    type: Literal["attention"] = "attention"
    batch: PosInt = 1
    heads: PosInt
    kv_heads: PosInt | None = None
    q_len: PosInt
    kv_len: PosInt
    head_dim: PosInt
    causal: StrictBool = False
    # the two GEMMs' formats where they differ from the op's dtype / act_bits (GemmFormat);
    # GPU kernels honour them (pysim/gpu/attention.py)
    qk_format: GemmFormat | None = None
    pv_format: GemmFormat | None = None

    @model_validator(mode="after")
    def _check_heads(self) -> Attention:
        if self.heads % self.groups_kv_heads:
            raise OpFieldError("kv_heads", f"must divide heads ({self.heads}), "
                                           f"got {self.groups_kv_heads}")
        if self.causal and self.q_len > self.kv_len:
            raise OpFieldError("q_len", f"a causal attention needs q_len <= kv_len "
                                        f"({self.kv_len}), got {self.q_len}")
        return self

    @property
    def groups_kv_heads(self) -> int:
        return self.heads if self.kv_heads is None else self.kv_heads

    def arity(self) -> int:
        return 3

    def input_shapes(self) -> tuple[tuple[int, ...], ...]:
        kv = (self.batch, self.kv_len, self.groups_kv_heads * self.head_dim)
        return ((self.batch, self.q_len, self.heads * self.head_dim), kv, kv)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return (self.batch, self.q_len, self.heads * self.head_dim)

    def visible(self, query: int) -> int:
        """Keys query ``query`` (0-based) attends to."""
        if not self.causal:
            return self.kv_len
        return self.kv_len - self.q_len + query + 1

    @property
    def pairs(self) -> int:
        """Visible (query, key) pairs of one (batch, head)."""
        if not self.causal:
            return self.q_len * self.kv_len
        first = self.kv_len - self.q_len + 1  # arithmetic series first .. kv_len
        return (first + self.kv_len) * self.q_len // 2

    @property
    def macs(self) -> int:
        return 2 * self.batch * self.heads * self.pairs * self.head_dim

    def gemm_view(self) -> GemmView | None:
        return None  # fused: mapped by pysim.mapping.attention, not as one GEMM

    def vector_work(self) -> int:
        per_head = SCORE_OPS * self.pairs + self.q_len * self.head_dim
        return self.batch * self.heads * per_head
