"""The optimal planner for a fixed op order: keep/drop per (tensor, gap), then addresses.

COSMA (Li et al., arXiv 2311.18246) solves a time-indexed ILP with one variable per tensor and
step, which its re-implementers could not solve for DenseNet-121. This module uses an exact
reformulation for a fixed order instead:

1. *Aggregate-capacity relaxation* (`relax`): one drop binary d per (tensor, gap between two
   consecutive required steps) and one write-back binary w per activation (w >= d, one
   write-back per dirty tensor). Each step's resident bytes (the op's own tensors plus the kept
   gaps spanning it) must fit in the budget; minimise sum(size * d) + sum(size * w). It ignores
   addresses, so its optimum is a lower bound on any addressed plan. Its constraint matrix is an
   interval matrix in d, so HiGHS solves it in milliseconds.
2. *Placement* (`place`) of its residency intervals in one contiguous scratchpad by best-fit
   heuristics (greedy by size, Pisarchyk & Lee, "Efficient Memory Management for Deep Neural
   Net Inference", 2020; by start; by length). If one fits, the plan meets the bound: optimal.
3. Otherwise the *addressed ILP* (`addressed`): an offset per (tensor, required step), equal
   across kept gaps, and one order binary per pair of time-overlapping pieces (big-M
   disjunctions as in 2-D strip packing), for graphs small enough; and a *repair* search that
   re-solves the relaxation at smaller budgets until its intervals place in the real one.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pysim.memplan.graph import Timeline
from pysim.memplan.lns import improve
from pysim.memplan.plan import Piece, pieces_from_keep, replay, time_overlaps

Interval = tuple[str, int, int]  # tensor, first step, last step (inclusive)


@dataclass(frozen=True)
class Relaxation:
    """Result of the aggregate-capacity ILP: `keep[(tensor, gap index)]`, its objective
    (`bytes`) and `bound_bytes`, the proven lower bound (equal when `optimal`)."""

    keep: dict[tuple[str, int], bool]
    bytes: int
    bound_bytes: int
    optimal: bool


def _step_needs(tl: Timeline) -> np.ndarray:
    g = tl.graph
    return np.array([g.op_bytes(g.ops[i]) for i in tl.order], dtype=np.int64)


def relax(tl: Timeline, budget_bytes: int, time_limit_s: float = 10.0) -> Relaxation:
    """Solve the aggregate-capacity relaxation (module docstring, step 1) at `budget_bytes`.
    Gaps with no step in between are always kept (dropping them frees nothing)."""
    g = tl.graph
    keep = {(gp.tensor, gp.index): True for gp in tl.gaps}
    free = [gp for gp in tl.gaps if gp.interior]
    need = _step_needs(tl)
    load = need.copy()
    for gp in free:
        load[gp.start + 1:gp.end] += g.tensors[gp.tensor].bytes
    over = np.flatnonzero(load > budget_bytes)
    # only gaps spanning an over-full step can matter
    free = [gp for gp in free if np.any((over > gp.start) & (over < gp.end))]
    if not len(over) or not free:
        return Relaxation(keep, 0, 0, True)
    dirty = sorted({gp.tensor for gp in free if g.tensors[gp.tensor].dirty})
    wcol = {t: len(free) + i for i, t in enumerate(dirty)}
    size = np.array([g.tensors[gp.tensor].bytes for gp in free], dtype=float)
    cost = np.concatenate([size, [g.tensors[t].bytes for t in dirty]])
    rows, cols, vals, ub = [], [], [], []
    row_of = {int(k): r for r, k in enumerate(over)}
    for j, gp in enumerate(free):  # capacity: load(k) - sum size*d <= budget
        for k in over[(over > gp.start) & (over < gp.end)]:
            rows.append(row_of[int(k)])
            cols.append(j)
            vals.append(-size[j])
    ub = [float(budget_bytes - load[k]) for k in over]
    r = len(over)
    for j, gp in enumerate(free):  # one write-back per dirty tensor: d - w <= 0
        if gp.tensor in wcol:
            rows += [r, r]
            cols += [j, wcol[gp.tensor]]
            vals += [1.0, -1.0]
            ub.append(0.0)
            r += 1
    from scipy.optimize import Bounds, LinearConstraint  # lazy: scipy
    from scipy.sparse import coo_matrix

    from pysim.milp import milp

    a = coo_matrix((vals, (rows, cols)), shape=(r, len(cost))).tocsr()
    res = milp(cost, integrality=np.ones(len(cost)), bounds=Bounds(0, 1),
               constraints=LinearConstraint(a, -np.inf, np.array(ub)),
               options={"time_limit": max(0.05, time_limit_s), "mip_rel_gap": 0.0})
    if res.x is None:
        raise RuntimeError(f"aggregate relaxation found no solution: {res.message}")
    x = np.round(res.x).astype(int)
    for j, gp in enumerate(free):
        keep[(gp.tensor, gp.index)] = not x[j]
    found = int(round(float(cost @ x)))
    bound = getattr(res, "mip_dual_bound", None)
    bound_bytes = found if res.status == 0 or bound is None else int(np.ceil(bound - 1e-6))
    return Relaxation(keep, found, min(found, bound_bytes), res.status == 0)


# -- placement ----------------------------------------------------------------------------------
def _orders(tl: Timeline, iv: Sequence[Interval]) -> list[list[int]]:
    from pysim.mapping.kept_area import PLACEMENT_ORDERS  # the simulator's kept area's too

    size = [tl.graph.tensors[t].bytes for t, _, _ in iv]
    n = range(len(iv))
    def keyed(order: Callable[[int, int, int, Any], tuple]) -> Callable[[int], tuple]:
        return lambda i: order(size[i], iv[i][1], iv[i][2], iv[i][0])

    return [sorted(n, key=keyed(order)) for order in PLACEMENT_ORDERS]


def _hole(placed: list[tuple[int, int, int, int]], s: int, e: int, size: int,
          budget: int, from_top: bool = False) -> int | None:
    """Offset for `size` bytes over steps s..e among `placed` (start, end, offset, size)
    pieces: the smallest hole that fits (best fit), else above them all, else None. With
    `from_top`, the highest place that fits instead (the other end of the scratchpad)."""
    blocks = sorted((o, o + z) for ps, pe, o, z in placed if ps <= e and pe >= s)
    if from_top:
        floor = budget  # blocks by falling end: [end, lowest start above) is free
        for a, b in sorted(blocks, key=lambda ab: -ab[1]):
            if floor - b >= size:
                return floor - size
            floor = min(floor, a)
        return floor - size if floor >= size else None
    cand, cand_room, top = None, None, 0
    for a, b in blocks:
        room = a - top
        if room >= size and (cand_room is None or room < cand_room):
            cand, cand_room = top, room
        top = max(top, b)
    if cand is None and top + size <= budget:
        cand = top
    return cand


def place(tl: Timeline, intervals: Sequence[Interval], budget_bytes: int,
          split: bool = False) -> list[Piece] | None:
    """Offsets for `intervals` within `budget_bytes` by best-fit over several orders, or None
    if none of the orders fits. With `split`, an interval that finds no hole is cut at its
    required steps into the longest pieces that do (spilling in between), and the cheapest
    of the orders is returned. Deterministic."""
    iv = list(intervals)
    if not iv:
        return []
    size = {t: tl.graph.tensors[t].bytes for t, _, _ in iv}
    best: list[Piece] | None = None
    best_cost = None
    for order, two_ended in itertools.product(_orders(tl, iv), (False, True)):
        placed: list[tuple[int, int, int, int]] = []
        pieces: list[Piece] = []
        for i in order:
            t, s, e = iv[i]
            # two-ended: long-lived pieces from the top, single steps from the bottom, so
            # residents do not cut the room the ops need in two
            up = two_ended and e > s
            off = _hole(placed, s, e, size[t], budget_bytes, up)
            if off is not None:
                placed.append((s, e, off, size[t]))
                pieces.append(Piece(t, s, e, off))
                continue
            if not split:
                break
            steps = [k for k in tl.required[t] if s <= k <= e]
            j = 0
            while j < len(steps):
                last, off = None, None
                for m in range(j, len(steps)):  # longest run from steps[j] that has a hole
                    o = _hole(placed, steps[j], steps[m], size[t], budget_bytes,
                              two_ended and steps[m] > steps[j])
                    if o is None:
                        break
                    last, off = m, o
                if last is None or off is None:
                    break
                placed.append((steps[j], steps[last], off, size[t]))
                pieces.append(Piece(t, steps[j], steps[last], off))
                j = last + 1
            if j < len(steps):
                break
        else:
            if not split:
                return pieces
            cost = traffic_of(tl, [(p.tensor, p.start, p.end) for p in pieces])
            if best_cost is None or cost < best_cost:
                best, best_cost = pieces, cost
    return best


# -- addressed ILP ------------------------------------------------------------------------------
def addressed_pairs(tl: Timeline) -> int:
    """Number of order binaries the addressed ILP would need (its size)."""
    return len(_pairs(_items(tl)))


def _items(tl: Timeline) -> list[tuple[str, int, int, int, bool]]:
    """(tensor, required-step index, first step, last step, is gap) of every piece item."""
    out = []
    for t, req in tl.required.items():
        for j, k in enumerate(req):
            out.append((t, j, k, k, False))
            if j + 1 < len(req) and req[j + 1] > k + 1:
                out.append((t, j, k + 1, req[j + 1] - 1, True))
    return out


def _pairs(items: list[tuple[str, int, int, int, bool]]) -> list[tuple[int, int]]:
    return time_overlaps([(t, s, e) for t, _, s, e, _ in items])


def addressed(tl: Timeline, budget_bytes: int, time_limit_s: float
              ) -> tuple[list[Piece] | None, int | None]:
    """The full addressed ILP (module docstring, step 3): returns the pieces of the best plan
    it found (None if none) and its proven lower bound on the non-compulsory bytes."""
    g, big = tl.graph, float(budget_bytes)
    items = _items(tl)
    pairs = _pairs(items)
    gaps = list(tl.gaps)
    gcol = {(gp.tensor, gp.index): i for i, gp in enumerate(gaps)}
    dirty = sorted({gp.tensor for gp in gaps if g.tensors[gp.tensor].dirty})
    col = len(gaps)
    wcol = {t: col + i for i, t in enumerate(dirty)}
    col += len(dirty)
    ocol = {}
    for t, req in tl.required.items():
        for j in range(len(req)):
            ocol[(t, j)] = col
            col += 1
    zcol = col
    n = col + len(pairs)
    cost = np.zeros(n)
    for i, gp in enumerate(gaps):
        cost[i] = g.tensors[gp.tensor].bytes
    for t, c in wcol.items():
        cost[c] = g.tensors[t].bytes
    lo, hi = np.zeros(n), np.ones(n)
    integ = np.ones(n)
    for (t, _), c in ocol.items():
        hi[c], integ[c] = budget_bytes - g.tensors[t].bytes, 0
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    ub: list[float] = []

    def row(entries: list[tuple[int, float]], bound: float) -> None:
        r = len(ub)
        for c, v in entries:
            rows.append(r)
            cols.append(c)
            vals.append(v)
        ub.append(bound)

    for i, gp in enumerate(gaps):
        if gp.tensor in wcol:
            row([(i, 1.0), (wcol[gp.tensor], -1.0)], 0.0)
        a, b = ocol[(gp.tensor, gp.index)], ocol[(gp.tensor, gp.index + 1)]
        row([(b, 1.0), (a, -1.0), (i, -big)], 0.0)  # kept: same offset
        row([(a, 1.0), (b, -1.0), (i, -big)], 0.0)
    for p, (a, b) in enumerate(pairs):
        ta, ja, _, _, ga = items[a]
        tb, jb, _, _, gb = items[b]
        oa, ob, z = ocol[(ta, ja)], ocol[(tb, jb)], zcol + p
        act = [(gcol[(ta, ja)], -big)] if ga else []
        act += [(gcol[(tb, jb)], -big)] if gb else []
        sa, sb = g.tensors[ta].bytes, g.tensors[tb].bytes
        row([(oa, 1.0), (ob, -1.0), (z, big), *act], big - sa)  # z=1: a below b
        row([(ob, 1.0), (oa, -1.0), (z, -big), *act], -sb)  # z=0: b below a
    from scipy.optimize import Bounds, LinearConstraint  # lazy: scipy
    from scipy.sparse import coo_matrix

    from pysim.milp import milp

    a_mat = coo_matrix((vals, (rows, cols)), shape=(len(ub), n)).tocsr()
    res = milp(cost, integrality=integ, bounds=Bounds(lo, hi),
               constraints=LinearConstraint(a_mat, -np.inf, np.array(ub)),
               options={"time_limit": max(0.05, time_limit_s), "mip_rel_gap": 0.0})
    bound = getattr(res, "mip_dual_bound", None)
    lb = None if bound is None or not np.isfinite(bound) else int(np.ceil(bound - 1e-6))
    if res.status == 0:
        lb = int(round(res.fun))
    if res.x is None:
        return None, lb
    keep = {(gp.tensor, gp.index): res.x[i] < 0.5 for i, gp in enumerate(gaps)}
    ivs = pieces_from_keep(tl, keep)
    raw = {(t, s): res.x[ocol[(t, tl.required[t].index(s))]] for t, s, _ in ivs}
    return _settle(tl, ivs, raw), lb


def _settle(tl: Timeline, ivs: list[Interval], raw: dict[tuple[str, int], float]
            ) -> list[Piece]:
    """Integer offsets from the ILP's real ones: in order of raw offset, each piece rests on
    the highest conflicting piece below it (a longest path; never above its raw offset)."""
    size = {t: tl.graph.tensors[t].bytes for t, _, _ in ivs}
    order = sorted(range(len(ivs)), key=lambda i: (raw[(ivs[i][0], ivs[i][1])], i))
    placed: list[Piece] = []
    for i in order:
        t, s, e = ivs[i]
        top = 0
        for p in placed:
            if p.start <= e and p.end >= s:
                top = max(top, p.offset + size[p.tensor])
        placed.append(Piece(t, s, e, top))
    return placed


# -- driver -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Solved:
    """Pieces of the best plan found, the proven lower bound and how it was found."""

    pieces: list[Piece]
    bound_bytes: int
    method: str


def traffic_of(tl: Timeline, ivs: Sequence[Interval]) -> int:
    """Non-compulsory bytes of residency intervals (reloads, one write-back per spilled
    activation), for choosing among candidates; plans are still checked by `replay`."""
    g = tl.graph
    count: dict[str, int] = {}
    for t, _, _ in ivs:
        count[t] = count.get(t, 0) + 1
    return sum((c - 1 + (1 if g.tensors[t].dirty else 0)) * g.tensors[t].bytes
               for t, c in count.items() if c > 1)


def solve(tl: Timeline, budget_bytes: int, time_limit_s: float, max_pairs: int = 3000,
          incumbents: Callable[[], Mapping[str, Sequence[Piece]]] | None = None) -> Solved:
    """The pipeline of the module docstring, within about `time_limit_s` seconds.
    `incumbents` gives other valid plans (the baselines') by name, asked for only when the
    relaxation's intervals do not place."""
    deadline = time.perf_counter() + time_limit_s

    def left() -> float:
        return deadline - time.perf_counter()

    rel = relax(tl, budget_bytes, time_limit_s / 2)
    bound = rel.bound_bytes
    ivs = pieces_from_keep(tl, rel.keep)
    pieces = place(tl, ivs, budget_bytes)
    if pieces is not None:
        return Solved(pieces, bound, "relaxation + best-fit placement")
    # Repair: split what does not place; relax at smaller budgets until it places.
    all_drop = pieces_from_keep(tl, {(gp.tensor, gp.index): False for gp in tl.gaps})
    placed = place(tl, all_drop, budget_bytes)
    assert placed is not None, "single-step pieces always place at or above M_R"
    best: list[Piece] = placed
    best_cost, method = traffic_of(tl, all_drop), "drop every gap"

    def consider(cand: list[Piece] | None, how: str) -> None:
        nonlocal best, best_cost, method
        if cand is None:
            return
        cost = traffic_of(tl, [(p.tensor, p.start, p.end) for p in cand])
        if cost < best_cost:
            best, best_cost, method = cand, cost, how

    consider(place(tl, ivs, budget_bytes, split=True), "relaxation + split-on-fail placement")
    lo, hi = int(_step_needs(tl).max()), budget_bytes
    while hi - lo > max(tl.graph.alignment, budget_bytes // 256) and left() > time_limit_s * 3 / 4:
        mid = (lo + hi) // 2
        cand = pieces_from_keep(tl, relax(tl, mid, left() / 4).keep)
        whole = place(tl, cand, budget_bytes)
        consider(whole, f"relaxation at {mid} B + best-fit placement")
        consider(place(tl, cand, budget_bytes, split=True),
                 f"relaxation at {mid} B + split-on-fail placement")
        if whole is None:
            hi = mid
        else:
            lo = mid
    for name, alt in (incumbents() if incumbents and best_cost > bound else {}).items():
        cost = replay(tl, alt, budget_bytes).non_compulsory_bytes
        if cost < best_cost:
            best, best_cost, method = list(alt), cost, f"{name} incumbent"
    small = addressed_pairs(tl) <= max_pairs
    if best_cost > bound and left() > 0.05:  # LNS, leaving the exact ILP a share if small
        out = improve(tl, best, budget_bytes, bound,
                      deadline - (left() / 4 if small else 0.0), target=rel.keep)
        if out.bytes < best_cost:
            best, best_cost = out.pieces, out.bytes
            method = f"{method} + LNS ({out.accepted} of {out.windows} windows improved)"
    if best_cost > bound and left() > 0.05 and small:
        exact, lb = addressed(tl, budget_bytes, left())
        if lb is not None:
            bound = max(bound, lb)
        consider(exact, "addressed ILP")
    return Solved(best, min(bound, best_cost), method)
