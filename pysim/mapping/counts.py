"""Scratchpad access counts of a mapped op, in bits per scratchpad (priced by pysim/energy),
and the transfers between memory levels among them (``transfer``; their compulsory part:
pysim/mapping/level_flows.py)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def add_bits(counts: dict[str, int], scratchpad: str, bits: float) -> None:
    counts[scratchpad] = counts.get(scratchpad, 0) + int(bits)


def flow(m: dict, level: str, into: float = 0, out: float = 0) -> None:
    """Record ``into`` bits written into ``level`` by a transfer from another memory and
    ``out`` bits read out of it by one into another (``m["flows"]``: level -> [in, out,
    compulsory in, compulsory out], pysim/mapping/level_flows.py)."""
    flows = m.get("flows")
    if flows is None:
        flows = m["flows"] = {}
    row = flows.get(level)
    if row is None:
        row = flows[level] = [0, 0, 0, 0]
    row[0] += int(into)
    row[1] += int(out)


def transfer(m: dict, src: str | None, dst: str | None, bits: float) -> None:
    """``bits`` moved from scratchpad ``src`` to scratchpad ``dst`` (None: DRAM): read at the
    one, written at the other, and recorded as a transfer out of and into them."""
    if src is not None:
        add_bits(m["sram_read_bits"], src, bits)
        flow(m, src, out=bits)
    if dst is not None:
        add_bits(m["sram_write_bits"], dst, bits)
        flow(m, dst, into=bits)


def add_tile_traffic(m: dict, spads: dict, cost: Any, times: Any, a_bits: int, b_bits: int,
                     psum_bits: int, b_role: str = "weight", b_ratio: float = 1.0,
                     a_ratio: float = 1.0) -> None:
    """``times`` tiles of ``cost`` (a TileCost, or TileArrays with ``times`` per shape): A read
    from the input scratchpad (scaled by ``a_ratio`` when its format's block scales ride
    with it), B from ``b_role``'s (scaled by ``b_ratio`` for compressed weights or block
    scales), partial sums written to and read back from the output scratchpad."""
    def total(elements: Any) -> int:
        return int(np.sum(np.asarray(times, dtype=np.int64) * np.asarray(elements)))

    a = getattr(cost, "input_reads", None)
    if a is None:  # TileArrays
        a, b, cw, cr = cost.a_reads, cost.b_reads, cost.c_writes, cost.c_reads
    else:
        b, cw, cr = cost.weight_reads, cost.output_writes, cost.output_reads
    reads, writes = m["sram_read_bits"], m["sram_write_bits"]
    add_bits(reads, spads["input"].name, math.ceil(a_ratio * total(a) * a_bits))
    add_bits(reads, spads[b_role].name, math.ceil(b_ratio * total(b) * b_bits))
    add_bits(writes, spads["output"].name, total(cw) * psum_bits)
    add_bits(reads, spads["output"].name, total(cr) * psum_bits)
