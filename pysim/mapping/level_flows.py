"""Compulsory and non-compulsory bytes per memory level (issue 11).

A level's *transfers* are the bytes written into it from another memory and read out of it
into another (``pysim.mapping.counts.transfer``): DMA fills from DRAM or from the level behind
it, re-reads an outer level serves, partial sums spilled to an outer level and brought back,
finished sub-tiles drained to the level that holds the tile, op outputs moved to the input
scratchpad for their readers, write-backs to DRAM. The unit's own operand reads and
partial-sum updates are accesses, not transfers.

Their *compulsory* part is what no capacity could save, COSMA's split (Li et al., arXiv
2311.18246) applied per level, with the same first touches as DRAM's compulsory bytes:

- each graph input and weight, once at the size its first reader reads (a slice its part, a
  strided convolution the rows it touches, sparse weights compressed), written into its
  operand's level and passed through every level behind it;
- each graph output, once, out of the level it is produced in and through every level behind
  it to DRAM;
- each op output that a later op reads, once out of the level it is produced in where that
  is not the input scratchpad (at its stored size, which is what crosses DRAM if it is
  dropped; a kept copy moves more), and once into the input scratchpad for its first reader,
  if that reads it as A, at the size that reader reads (as for a graph input).

Everything else (tile re-fetches, partial-sum spills, outputs dropped to DRAM and read back)
is non-compulsory: a large enough level would not move it. DRAM's compulsory bytes are the
graph-level ones (``Result.compulsory_dram_bytes``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def chains(hw: Any) -> dict[str, tuple[str, ...]]:
    """Each operand's chain of level names, innermost first (``Hardware.chain``)."""
    return {role: tuple(s.name for s in hw.chain(role)) for role in ("input", "weight",
                                                                      "output")}


def behind(chain_of: Mapping[str, tuple[str, ...]], role: str, level: str) -> tuple[str, ...]:
    """The levels of ``role``'s chain behind ``level`` (outward, towards DRAM)."""
    names = chain_of[role]
    return names[names.index(level) + 1:]


def add_compulsory(m: dict, chain_of: Mapping[str, tuple[str, ...]],
                   level_of: Mapping[str, str], fills: Mapping[str, int],
                   reads: Mapping[str, int], graph_out_bits: int, moved_out_bits: int,
                   moved_in_bits: int) -> None:
    """Record the op's compulsory transfers (module docstring) in ``m["flows"]`` (level ->
    [in, out, compulsory in, compulsory out], bits): ``reads`` its compulsory DRAM reads by
    operand (bytes; an operand the op does not fill apart goes with A, "input"),
    ``graph_out_bits`` its output if a graph output, ``moved_out_bits`` its output if a later
    op reads it from another level, ``moved_in_bits`` what its A, an op output first read
    here, brings into the input scratchpad from the level its producer left it in."""
    flows = m.setdefault("flows", {})

    def must(level: str, into: int = 0, out: int = 0) -> None:
        row = flows.setdefault(level, [0, 0, 0, 0])
        row[2] += into
        row[3] += out

    for role, nbytes in reads.items():
        if nbytes <= 0:
            continue
        role = role if role in fills else "input"
        must(level_of[role], into=8 * nbytes)
        for level in behind(chain_of, role, level_of[role]):
            must(level, into=8 * nbytes, out=8 * nbytes)
    if moved_in_bits:
        must(level_of["input"], into=moved_in_bits)
    out_level = level_of["output"]
    must(out_level, out=max(graph_out_bits, moved_out_bits))
    for level in behind(chain_of, "output", out_level) if graph_out_bits else ():
        must(level, into=graph_out_bits, out=graph_out_bits)
