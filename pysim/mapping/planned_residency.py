"""Inter-layer reuse chosen by the scratchpad planner (pysim.memplan, issue 13) instead of the
first-in first-out rule of pysim/mapping/residency.py (``mapper.residency: planned``).

The kept area is the same quarter of the input scratchpad. Its lifetime graph holds the op
outputs that fit it; an output larger than the area streams through DRAM (written by its
producer, read by each consumer) and takes no room, as with the FIFO rule. The optimal planner
(pysim/memplan/optimal.py) then decides, at the workload's order, which outputs stay in the area
between their uses and which are written back and read again. Its plan becomes the mapper's
``Residency``: an input is found on chip when a piece of its tensor runs from an earlier step
through this op's; an output is written to DRAM unless the piece its producer starts covers
every reader (a graph output always is); the bytes held during an op are its pieces that
started before it. Where an op's kept tensors do not fit the area together, the op reads its
largest inputs from DRAM (and, last, streams its output): the planner holds an op's tensors
while it runs, the mapper only streams them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pysim.mapping.residency import Residency


@dataclass(frozen=True)
class PlannedResidency:
    """The Residency, and what the planner reports about it (``None`` plan: none was made, and
    ``note`` says why the FIFO rule ran instead)."""

    residency: Residency | None
    note: str


def reuse_traffic(wl: Any, res: Residency) -> int:
    """DRAM bytes a residency leaves between ops: each read of an op output not found on chip,
    and each op output written that is not a graph output (the mapper's own accounting)."""
    outputs = set(wl.outputs)
    reads = sum(wl.tensors[t].bytes for i, op in enumerate(wl.ops) for t in set(op.inputs)
                if t in wl.producers and t not in res.resident_inputs[i])
    writes = sum(wl.tensors[op.output].bytes for i, op in enumerate(wl.ops)
                 if res.writes_output[i] and op.output not in outputs)
    return reads + writes


def plan_residency_optimal(wl: Any, budget_bytes: int, time_limit_s: float) -> PlannedResidency:
    """Plan the kept area of ``budget_bytes`` for ``wl`` in its own order (see the module
    docstring). When the planner cannot (an op whose kept tensors exceed the area, a budget of
    0), the result has no residency and its note says why."""
    from pysim.memplan.api import plan
    from pysim.memplan.graph import LifetimeGraph, MemPlanError

    produced = set(wl.producers)
    size = {t: wl.tensors[t].bytes for t in produced}
    small = {t for t in produced if 0 < size[t] <= budget_bytes}
    edges, sizes = [], {}
    for op in wl.ops:
        # The planner holds an op's tensors in the area while it runs; the mapper streams
        # them. Where they do not fit together, the op reads its largest inputs from DRAM
        # (the plan does not see those uses) and, last, streams its own output.
        reads = sorted((t for t in dict.fromkeys(op.inputs) if t in small), key=size.get)
        out_bytes = size[op.output] if op.output in small else 0
        while reads and sum(size[t] for t in reads) + out_bytes > budget_bytes:
            reads.pop()
        out = op.output if op.output in small and out_bytes + sum(
            size[t] for t in reads) <= budget_bytes else f"{op.name}#streamed"
        edges.append((op.name, tuple(reads), out))
        sizes[out] = size[op.output] if out == op.output else 0
        for t in reads:
            sizes[t] = size[t]
    if budget_bytes <= 0:
        return PlannedResidency(None, "fifo: the kept area is empty")
    try:
        graph = LifetimeGraph.from_edges(wl.name, edges, sizes, include_weights=False)
        p = plan(graph, budget_bytes, order="given", planner="optimal",
                 time_limit_s=time_limit_s)
    except MemPlanError as exc:
        return PlannedResidency(None, f"fifo: the planner cannot plan this kept area ({exc})")
    pieces: dict[str, list[tuple[int, int]]] = {}
    for piece in p.pieces:
        pieces.setdefault(piece.tensor, []).append((piece.start, piece.end))
    step = {op.name: i for i, op in enumerate(wl.ops)}
    made = {op.output: i for i, op in enumerate(wl.ops)}
    outputs = set(wl.outputs)
    resident_inputs, writes, held, kept = [], [], [], set()
    for i, op in enumerate(wl.ops):
        resident_inputs.append(frozenset(
            t for t in op.inputs if any(s < i <= e for s, e in pieces.get(t, ()))))
        held.append(sum(wl.tensors[t].bytes for t, spans in pieces.items()
                        if any(s < i <= e for s, e in spans)))
        out = op.output
        spans = pieces.get(out, ())
        if any(s == i and e > i for s, e in spans):
            kept.add(out)
        # Written to DRAM unless the producer's own piece covers every reader.
        first = next(((s, e) for s, e in spans if s == made[out]), None)
        readers = [step[name] for name in wl.consumers.get(out, ())]
        covered = first is not None and all(first[0] < r <= first[1] for r in readers)
        writes.append(out in outputs or not covered)
    bound = p.lower_bound_bytes
    how = "proven optimal" if bound is not None and p.non_compulsory_bytes <= bound else (
        f"lower bound {bound:,} B" if bound is not None else "no bound")
    note = (f"planned ({p.method}, {how}): {p.non_compulsory_bytes:,} B spilled and reloaded "
            f"through a {budget_bytes:,} B kept area")
    return PlannedResidency(Residency(tuple(resident_inputs), tuple(writes), tuple(held),
                                      frozenset(kept)), note)
