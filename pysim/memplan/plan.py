"""A scratchpad plan as residency pieces, the independent checker that replays it, and the
typed result every planner returns.

A plan is a set of `Piece`s: tensor t sits at `offset` from step `start` to step `end`
(inclusive). Its first piece is allocated where the tensor appears (an activation at its
producer's step; a graph input or weight is loaded before its first use, compulsory); each later
piece is a reload before one of its uses, and the end of a piece that is not the tensor's last
use is a spill: a dirty tensor (an activation) pays one write-back the first time, a clean one
(input, weight) none. `replay` checks capacity, no overlap at any step, residency at every use and
reload only after a write-back, and recomputes the traffic from the pieces alone; planners never
report their solver's objective as the traffic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pysim.memplan.graph import LifetimeGraph, MemPlanError, Timeline


@dataclass(frozen=True, order=True)
class Piece:
    """Tensor `tensor` resident at bytes [offset, offset + size) during steps start..end."""

    tensor: str
    start: int
    end: int
    offset: int


class PlanInvalid(MemPlanError):
    """A plan broke a rule of the scratchpad (the message names the tensor, step and rule)."""


@dataclass(frozen=True)
class Traffic:
    """Off-chip traffic of a plan, recomputed from its pieces by `replay` (bytes)."""

    compulsory_bytes: int
    reload_bytes: int
    writeback_bytes: int
    per_tensor: Mapping[str, int]
    per_op: Mapping[str, int]
    peak_bytes: int

    @property
    def non_compulsory_bytes(self) -> int:
        """Reloads plus write-backs of spilled activations."""
        return self.reload_bytes + self.writeback_bytes


def replay(timeline: Timeline, pieces: Iterable[Piece], budget_bytes: int) -> Traffic:
    """Check `pieces` against the rules of a scratchpad of `budget_bytes` under `timeline`
    and return their traffic. Raises PlanInvalid naming the first rule broken."""
    g = timeline.graph
    by_tensor: dict[str, list[Piece]] = {}
    for p in pieces:
        if p.tensor not in timeline.required:
            raise PlanInvalid(f"piece of unknown tensor {p.tensor!r}")
        by_tensor.setdefault(p.tensor, []).append(p)
    compulsory = reload = writeback = 0
    per_tensor: dict[str, int] = {}
    per_op: dict[str, int] = {g.ops[i].name: 0 for i in timeline.order}
    names = [g.ops[i].name for i in timeline.order]
    active: list[list[Piece]] = [[] for _ in range(timeline.steps)]
    for t, req in timeline.required.items():
        node = g.tensors[t]
        ps = sorted(by_tensor.get(t, []), key=lambda p: p.start)
        if not ps:
            raise PlanInvalid(f"tensor {t!r} has no piece but is needed at step {req[0]}")
        in_dram = not node.dirty
        covered: set[int] = set()
        for j, p in enumerate(ps):
            if p.start not in req:
                raise PlanInvalid(f"tensor {t!r}: a piece starts at step {p.start}, which "
                                  f"does not use it (uses: {list(req)})")
            if p.end < p.start or p.end > req[-1]:
                raise PlanInvalid(f"tensor {t!r}: piece {p.start}..{p.end} outside its uses "
                                  f"{req[0]}..{req[-1]}")
            if p.offset < 0 or p.offset + node.bytes > budget_bytes:
                raise PlanInvalid(f"tensor {t!r} at offset {p.offset} + {node.bytes} bytes "
                                  f"exceeds the budget of {budget_bytes} bytes")
            if j and p.start <= ps[j - 1].end:
                raise PlanInvalid(f"tensor {t!r}: pieces overlap in time at step {p.start}")
            if j == 0:
                if p.start != req[0]:
                    raise PlanInvalid(f"tensor {t!r} must be resident at its first use, step "
                                      f"{req[0]}")
                if not node.dirty:
                    compulsory += node.bytes  # first load of a graph input or weight
            else:
                if not in_dram:  # a dirty tensor can only come back once written back
                    raise PlanInvalid(f"tensor {t!r} reloaded at step {p.start} with no "
                                      f"write-back")
                reload += node.bytes
                per_tensor[t] = per_tensor.get(t, 0) + node.bytes
                per_op[names[p.start]] += node.bytes
            if p.end < req[-1] and not in_dram:  # spill: write back once (COSMA sec. 4)
                writeback += node.bytes
                per_tensor[t] = per_tensor.get(t, 0) + node.bytes
                per_op[names[p.end]] += node.bytes
                in_dram = True
            covered.update(k for k in req if p.start <= k <= p.end)
            for k in range(p.start, p.end + 1):
                active[k].append(p)
        missing = [k for k in req if k not in covered]
        if missing:
            raise PlanInvalid(f"tensor {t!r} is not resident at step {missing[0]} "
                              f"(op {names[missing[0]]!r}) that uses it")
        if node.is_output:
            compulsory += node.bytes  # the graph's result is stored once
    peak = 0
    for k, ps in enumerate(active):
        ps.sort(key=lambda p: p.offset)
        sized = [p for p in ps if g.tensors[p.tensor].bytes > 0]  # 0 B occupies nothing
        for a, b in zip(sized, sized[1:], strict=False):
            if a.offset + g.tensors[a.tensor].bytes > b.offset:
                raise PlanInvalid(f"step {k} (op {names[k]!r}): tensors {a.tensor!r} and "
                                  f"{b.tensor!r} overlap at offset {b.offset}")
        if ps:
            peak = max(peak, max(p.offset + g.tensors[p.tensor].bytes for p in ps))
    return Traffic(compulsory, reload, writeback, per_tensor, per_op, peak)


@dataclass(frozen=True)
class Plan:
    """A checked scratchpad plan. Traffic figures are recomputed from `pieces` by `replay`.

    `lower_bound_bytes` bounds the non-compulsory traffic of any plan at this budget (None for
    heuristics that give none): for this `order` when `bound_scope` is "order", for every
    order of the graph when it is "all orders" (`order="joint"`); `proven_optimal` is True
    when the plan meets it; `gap` is (plan - bound) / plan (0 when both are 0). `method` says
    how the plan was found; `solve_time_s` is wall time."""

    graph: LifetimeGraph = field(repr=False)
    planner: str
    budget_bytes: int
    order: tuple[str, ...]
    pieces: tuple[Piece, ...] = field(repr=False)
    traffic: Traffic = field(repr=False)
    lower_bound_bytes: int | None
    method: str
    solve_time_s: float
    bound_scope: str = "order"

    @property
    def non_compulsory_bytes(self) -> int:
        return self.traffic.non_compulsory_bytes

    @property
    def compulsory_bytes(self) -> int:
        return self.traffic.compulsory_bytes

    @property
    def proven_optimal(self) -> bool:
        return self.lower_bound_bytes is not None and \
            self.lower_bound_bytes >= self.non_compulsory_bytes

    @property
    def gap(self) -> float | None:
        if self.lower_bound_bytes is None:
            return None
        nc = self.non_compulsory_bytes
        return 0.0 if nc == 0 else max(0.0, (nc - self.lower_bound_bytes) / nc)

    @property
    def events(self) -> Any:
        """pandas DataFrame, one row per event: step, op, tensor, action (alloc / load /
        reload / spill / evict / store / free), offset, bytes (tensor size), traffic_bytes."""
        import pandas as pd

        rows = []
        g = self.graph
        steps = {name: k for k, name in enumerate(self.order)}
        uses: dict[str, list[int]] = {}
        for name in self.order:
            op = g.ops[g.op_index(name)]
            for t in op.tensors:
                uses.setdefault(t, []).append(steps[name])
        by_tensor: dict[str, list[Piece]] = {}
        for p in sorted(self.pieces, key=lambda p: (p.start, p.tensor)):
            by_tensor.setdefault(p.tensor, []).append(p)
        for t, ps in by_tensor.items():
            node, last, written = g.tensors[t], max(uses[t]), not g.tensors[t].dirty
            for j, p in enumerate(ps):
                first = "alloc" if node.dirty else "load"
                action = first if j == 0 else "reload"
                cost = node.bytes if (j or not node.dirty) else 0
                rows.append((p.start, 0, t, action, p.offset, node.bytes, cost))
                if p.end < last:
                    rows.append((p.end, 1, t, "evict" if written else "spill", p.offset,
                                 node.bytes, 0 if written else node.bytes))
                    written = True
                else:
                    if node.is_output:
                        rows.append((p.end, 1, t, "store", p.offset, node.bytes, node.bytes))
                    rows.append((p.end, 2, t, "free", p.offset, node.bytes, 0))
        rows.sort(key=lambda r: (r[0], r[1], r[2]))
        frame = pd.DataFrame(rows, columns=["step", "phase", "tensor", "action", "offset",
                                            "bytes", "traffic_bytes"])
        frame.insert(1, "op", [self.order[k] for k in frame["step"]])
        return frame.drop(columns="phase")

    def summary(self) -> str:
        """One line: planner, budget, traffic, bound, gap, time."""
        lb = "-" if self.lower_bound_bytes is None else f"{self.lower_bound_bytes}"
        gap = "-" if self.gap is None else f"{100 * self.gap:.1f}%"
        return (f"{self.graph.name} {self.planner} budget={self.budget_bytes} B: "
                f"non-compulsory {self.non_compulsory_bytes} B (lower bound {lb} over "
                f"{'this order' if self.bound_scope == 'order' else self.bound_scope}, gap {gap}, "
                f"optimal {self.proven_optimal}), compulsory {self.compulsory_bytes} B, "
                f"{self.method}, {self.solve_time_s:.3f} s")


def time_overlaps(spans: Sequence[tuple[str, int, int]]) -> list[tuple[int, int]]:
    """Index pairs (j, i) of ``spans`` (tensor, first step, last step) of different tensors
    that overlap in time, j starting no later than i: a sweep by start. The addressed ILP
    and LNS's windows each need one order binary per such pair (with a movable piece)."""
    order = sorted(range(len(spans)), key=lambda i: (spans[i][1], i))
    pairs: list[tuple[int, int]] = []
    open_: list[int] = []
    for i in order:
        open_ = [j for j in open_ if spans[j][2] >= spans[i][1]]
        pairs += [(j, i) for j in open_ if spans[j][0] != spans[i][0]]
        open_.append(i)
    return pairs


def pieces_from_keep(timeline: Timeline, keep: Mapping[tuple[str, int], bool]) -> list[
        tuple[str, int, int]]:
    """Residency intervals (tensor, start, end) of a keep/drop choice per (tensor, gap index):
    runs of kept gaps join consecutive required steps into one interval."""
    out: list[tuple[str, int, int]] = []
    for t, req in timeline.required.items():
        start = req[0]
        for j in range(len(req) - 1):
            if not keep[(t, j)]:
                out.append((t, start, req[j]))
                start = req[j + 1]
        out.append((t, start, req[-1]))
    return out
