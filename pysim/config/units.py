"""Compute units of a hardware description: the ``units:`` list (one registry, keyed by
``kind``) and the vector unit.

To add a unit kind: write a model with ``kind: Literal["<kind>"]``, ``name``, a ``pes``
property and a ``build()`` method, and add it to ``UNIT_KINDS``. The ``Unit`` union, the YAML
loader and the "unknown kind" error all follow from that one dict.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from pysim import _core
from pysim.config.quantities import Int, lower
from pysim.units.base import TileCost
from pysim.units.systolic_array import MAX_DIM, SystolicArray

Dataflow = Annotated[Literal["os", "ws", "is"], BeforeValidator(lower)]
Timing = Annotated[Literal["scalesim", "pipelined"], BeforeValidator(lower)]
Bits = Annotated[Int, Field(ge=1, le=64)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SystolicArrayUnit(_Model):
    """An R x C systolic array of MAC PEs (``kind: systolic_array``).

    ``rows``, ``cols`` in 1..4096; ``dataflow`` os/ws/is; ``timing`` scalesim/pipelined
    (docs/systolic_timing.md); ``precisions`` the operand widths in bits the PEs support
    (default [8]); ``mac_bits`` the accumulator width in bits (default 32, >= every precision);
    ``sparsity`` how the PEs treat zero operands: none, gating (no toggling: energy only) or
    skipping (zeros skipped: cycles too; pysim/mapping/sparsity.py).
    """

    kind: Literal["systolic_array"]
    name: str = Field(min_length=1)
    rows: Int = Field(ge=1, le=MAX_DIM)
    cols: Int = Field(ge=1, le=MAX_DIM)
    dataflow: Dataflow
    timing: Timing = "pipelined"
    precisions: tuple[Bits, ...] = Field(default=(8,), min_length=1)
    mac_bits: Bits = 32
    sparsity: Literal["none", "gating", "skipping"] = "none"

    @field_validator("precisions")
    @classmethod
    def _unique_precisions(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if len(set(value)) != len(value):
            raise ValueError("must not repeat a width")
        return value

    @field_validator("mac_bits")
    @classmethod
    def _wide_enough(cls, value: int, info: Any) -> int:
        widest = max(info.data.get("precisions") or (0,))
        if value < widest:
            raise ValueError(f"must be >= the widest precision ({widest} bits)")
        return value

    @property
    def pes(self) -> int:
        """Processing elements (rows x cols)."""
        return self.rows * self.cols

    @property
    def peak_macs_per_cycle(self) -> int:
        return self.rows * self.cols

    def build(self) -> SystolicArray:
        """The unit model (``pysim.units.systolic_array.SystolicArray``) for this config."""
        return SystolicArray(rows=self.rows, cols=self.cols, dataflow=self.dataflow,
                             timing=self.timing)

    # -- the MAC-unit interface (pysim/units/base.py) ------------------------------------------

    def supports(self, op: Any) -> bool:
        """Integer operands up to the widest precision (narrower ones run sign-extended)."""
        return op.dtype == "int" and max(op.weight_bits, op.act_bits) <= max(self.precisions)

    def grains(self) -> tuple[int, int, int]:
        return self.rows, self.cols, 1

    def tile_cost(self, m: int, n: int, k: int, op: Any) -> TileCost:
        spec = _core.SystolicSpec(self.rows, self.cols, self.dataflow, self.timing)
        c = _core.systolic_cost(spec, _core.GemmShape(m, n, k))
        return TileCost(c.cycles, c.folds, c.macs, c.ifmap_reads, c.filter_reads,
                        c.ofmap_writes, c.ofmap_reads)

    def fetch_streams(self, m: int, n: int, k: int) -> tuple[tuple[str, int, int], ...]:
        """Per fold: OS streams A on the row edge and B on the column edge, K steps each; WS
        streams rows of A (M steps); IS streams columns of B (N steps)."""
        if self.dataflow == "os":
            return (("input", self.rows, k), ("weight", self.cols, k))
        if self.dataflow == "ws":
            return (("input", self.rows, m),)
        return (("weight", self.rows, n),)

    def mac_pj(self, table: Any, op: Any) -> float:
        return table.mac_pj(op.weight_bits, op.act_bits, acc_bits=self.mac_bits)


# The one registry of unit kinds: kind -> model. Later: "bit_serial", "xnor", "tensor_core".
UNIT_KINDS: dict[str, type[_Model]] = {
    "systolic_array": SystolicArrayUnit,
}

Unit = Annotated[Union[tuple(UNIT_KINDS.values())], Field(discriminator="kind")]  # noqa: UP007


class VectorUnit(_Model):
    """The vector unit for elementwise ops, softmax, layernorm and pooling: ``lanes`` lanes,
    each doing ``ops_per_lane_per_cycle`` operations of ``bits``-wide data per cycle."""

    name: str = Field(min_length=1)
    lanes: Int = Field(ge=1, le=1 << 20)
    ops_per_lane_per_cycle: Int = Field(default=1, ge=1, le=64)
    bits: Bits = 16

    @property
    def ops_per_cycle(self) -> int:
        return self.lanes * self.ops_per_lane_per_cycle
