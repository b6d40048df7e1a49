"""Scratchpad access counts of a mapped op, in bits per scratchpad (priced by pysim/energy)."""

from __future__ import annotations

import math
from typing import Any


def add_bits(counts: dict[str, int], scratchpad: str, bits: float) -> None:
    counts[scratchpad] = counts.get(scratchpad, 0) + int(bits)


def add_tile_traffic(m: dict, spads: dict, cost: Any, times: int, a_bits: int, b_bits: int,
                     psum_bits: int, b_role: str = "weight", b_ratio: float = 1.0) -> None:
    """``times`` tiles of ``cost`` (a TileCost): A read from the input scratchpad, B from
    ``b_role``'s (scaled by ``b_ratio`` for compressed weights), partial sums written to and
    read back from the output scratchpad."""
    reads, writes = m["sram_read_bits"], m["sram_write_bits"]
    add_bits(reads, spads["input"].name, times * cost.input_reads * a_bits)
    add_bits(reads, spads[b_role].name, math.ceil(b_ratio * times * cost.weight_reads * b_bits))
    add_bits(writes, spads["output"].name, times * cost.output_writes * psum_bits)
    add_bits(reads, spads["output"].name, times * cost.output_reads * psum_bits)
