"""Which tensor each op's DRAM bytes belong to: reads split over the tensors the op fetches,
writes to the tensor it produces, and the compulsory part of each (the first touch of a graph
input or weight, the last write of a graph output). ``Result.tensors`` sums them per tensor,
so an architect sees which tensor spills, is re-read or is compulsory traffic (COSMA's split,
arXiv 2311.18246: compulsory vs non-compulsory off-chip traffic)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any


def split(total: int, shares: Sequence[tuple[str, int]]) -> dict[str, int]:
    """``total`` bytes over named ``shares`` in proportion to their sizes, largest remainder
    first, so the parts are whole bytes that sum to ``total`` (evenly when all sizes are 0)."""
    out: dict[str, int] = {}
    if total <= 0 or not shares:
        return {name: 0 for name, _ in shares}
    if len(shares) == 1:  # (most calls: one tensor fetched)
        return {shares[0][0]: total}
    weights = [max(0, size) for _, size in shares]
    if not any(weights):
        weights = [1] * len(shares)
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    parts = [int(x) for x in exact]
    order = sorted(range(len(shares)), key=lambda j: (parts[j] - exact[j], j))
    for j in order[:total - sum(parts)]:
        parts[j] += 1
    for (name, _), part in zip(shares, parts, strict=True):
        out[name] = out.get(name, 0) + part
    return out


def attribute(op: Any, tensors: Mapping[str, Any], read_bytes: int, write_bytes: int,
              fills: Mapping[str, int] | None, on_chip: frozenset[str] | set[str],
              compulsory_read: int, compulsory_write: int, first_touch: Sequence[str],
              weight_ratio: float = 1.0) -> tuple[tuple[str, int, int, int], ...]:
    """``(tensor, DRAM bytes read, written, compulsory)`` of one op. ``fills``: a MAC op's
    reads by operand ("input": A, "weight": B, "output": partial sums read back), else the
    reads go to its weights (each up to its size) and the rest to the inputs it fetches (not
    on chip) by size.
    ``first_touch``: the graph inputs this op reads first; the compulsory reads are the
    weights' bytes (``weight_ratio`` of them where a sparse unit reads them compressed), the
    rest those inputs' (by size)."""
    weights = list(op.weight_sizes)
    reads: dict[str, int] = {}

    def add(into: dict[str, int], parts: Mapping[str, int]) -> None:
        for name, n in parts.items():
            into[name] = into.get(name, 0) + n

    if fills is not None and op.inputs and sum(fills.values()) == read_bytes:
        add(reads, {op.inputs[0]: fills.get("input", 0)})
        b = fills.get("weight", 0)
        if len(op.inputs) > 1:  # a matmul: B is an activation
            add(reads, {op.inputs[1]: b})
        else:
            add(reads, split(b, weights))
        add(reads, {op.output: fills.get("output", 0)})
    else:  # weights once each first (every pass of the op needs them), the rest by size
        fetched = [(t, tensors[t].bytes) for t in dict.fromkeys(op.inputs) if t not in on_chip]
        left = read_bytes
        for name, size in weights:
            reads[name] = min(size, left)
            left -= reads[name]
        add(reads, split(left, fetched or weights))
    compulsory = ({name: size for name, size in weights} if weight_ratio >= 1.0 else
                  split(math.ceil(weight_ratio * sum(size for _, size in weights)), weights))
    firsts = [(t, tensors[t].bytes) for t in dict.fromkeys(first_touch)]
    add(compulsory, split(max(0, compulsory_read - sum(compulsory.values())), firsts))
    add(compulsory, {op.output: compulsory_write})
    names = dict.fromkeys([*reads, op.output, *compulsory])
    return tuple((t, reads.get(t, 0), write_bytes if t == op.output else 0,
                  compulsory.get(t, 0)) for t in names)
