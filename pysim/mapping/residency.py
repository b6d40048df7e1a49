"""Inter-layer reuse: which op outputs stay in the scratchpad for their consumers.

Ops run in the workload's topological order. After an op, its output is kept on chip if it fits
in the residency budget (the part of the input scratchpad not needed for streaming tiles); older
kept tensors are evicted first-in first-out to make room. A consumer finds its input either
still resident (no DRAM read) or not (read from DRAM). A producer writes its output to DRAM
unless every consumer runs while it is still resident; graph outputs are always written.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from pysim.mapping.kept_area import KeptBlock


@dataclass(frozen=True)
class Residency:
    """Per op index: the input tensors found on chip, and whether its output goes to DRAM."""

    resident_inputs: tuple[frozenset[str], ...]
    writes_output: tuple[bool, ...]
    resident_bytes_during: tuple[int, ...]  # scratchpad bytes held by kept tensors
    kept_outputs: frozenset[str] = frozenset()  # op outputs placed in the kept area
    # their addresses (the planned residency's; FIFO's area is aggregate bytes, none)
    placement: tuple[KeptBlock, ...] = ()


def plan_residency(
    order: list[tuple[str, tuple[str, ...], int]],
    consumers: dict[str, list[int]],
    graph_outputs: set[str],
    budget_bytes: int,
) -> Residency:
    """``order``: per op (output tensor, input tensors, output bytes), in execution order.
    ``consumers``: tensor -> indices of the ops that read it."""
    resident: OrderedDict[str, int] = OrderedDict()
    evicted_at: dict[str, int] = {}
    resident_inputs: list[frozenset[str]] = []
    held: list[int] = []
    kept: set[str] = set()
    for i, (out, ins, out_bytes) in enumerate(order):
        resident_inputs.append(frozenset(t for t in ins if t in resident))
        held.append(sum(resident.values()))
        if 0 < out_bytes <= budget_bytes:
            while resident and sum(resident.values()) + out_bytes > budget_bytes:
                name, _ = resident.popitem(last=False)
                evicted_at[name] = i
            resident[out] = out_bytes
            kept.add(out)
        else:
            evicted_at[out] = i  # never kept
    writes = []
    for out, _, _ in order:
        later = consumers.get(out, [])
        gone = evicted_at.get(out)
        needed_after_eviction = gone is not None and any(c > gone for c in later)
        writes.append(out in graph_outputs or needed_after_eviction)
    return Residency(tuple(resident_inputs), tuple(writes), tuple(held), frozenset(kept))
