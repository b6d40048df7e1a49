"""Large-neighbourhood search over windows of steps for a fixed-order plan (issue 13).

Starting from a valid addressed plan, `improve` repeatedly frees a window of consecutive steps
[a, b] and re-solves it exactly with a MILP (`scipy.optimize.milp`, HiGHS) while everything
outside stays put — the destroy-and-repair scheme of large-neighbourhood search (Shaw, CP 1998;
Pisinger & Ropke, "Large Neighborhood Search", 2010), here with an exact repair.

The plan is held in the addressed ILP's variables (`optimal.addressed`): an offset per (tensor,
required step) and a keep/drop choice per gap between consecutive required steps. In a window:

- every gap touching [a, b] (an end inside, or spanning it) gets a drop binary;
- every current piece alive in [a, b] gets a free offset over its whole life (continuous,
  within the budget; equal across its kept gaps), so a tensor spanning the window can move;
- everything else is fixed: a fixed rectangle that a drop binary switches on (a dropped gap
  between two fixed ends with one offset) must clear the fixed rest, and the pairwise big-M
  disjunctions (one order binary per time-overlapping pair with a free offset, as in 2-D strip
  packing) cover the free pieces against each other and against fixed ones.

Any solution is therefore a valid plan once combined with the fixed rest; it is still replayed
(`plan.replay`), and only a strict decrease of the replayed traffic is accepted. Windows over
the plan's paid gaps go first: those the aggregate relaxation's optimum keeps (`target`), where
the plan pays above the lower bound, then the others, each group largest tensor first; then
windows slide across the timeline up to the last paid gap. The search stops when a full pass
gains nothing, when the plan meets the lower bound, or at the deadline. Each window's MILP is
capped by a node limit, so the result does not depend on the machine's speed unless the time
limit cuts the search short.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pysim.memplan.graph import Timeline
from pysim.memplan.plan import Piece, PlanInvalid, replay, time_overlaps

Offsets = dict[str, list[int]]  # tensor -> offset at each required step
Keeps = dict[str, list[bool]]  # tensor -> kept flag of each gap


@dataclass(frozen=True)
class Outcome:
    """What `improve` did: the best pieces, their replayed traffic, windows solved and
    improving windows accepted."""

    pieces: list[Piece]
    bytes: int
    windows: int
    accepted: int


# -- the plan as addressed-ILP variables --------------------------------------------------------
def normalise(tl: Timeline, pieces: Sequence[Piece]) -> tuple[Offsets, Keeps]:
    """Offsets per required step and kept gaps of a valid plan. A piece that ends between
    two uses is cut back to its last use: it frees room and keeps the same traffic."""
    off: Offsets = {t: [0] * len(r) for t, r in tl.required.items()}
    keep: Keeps = {t: [False] * (len(r) - 1) for t, r in tl.required.items()}
    pos = {t: {k: j for j, k in enumerate(r)} for t, r in tl.required.items()}
    for p in pieces:
        js = [j for k, j in pos[p.tensor].items() if p.start <= k <= p.end]
        for j in js:
            off[p.tensor][j] = p.offset
        for j in js[:-1]:
            keep[p.tensor][j] = True
    return off, keep


def pieces_of(tl: Timeline, off: Offsets, keep: Keeps) -> list[Piece]:
    """Pieces of an (offsets, kept gaps) plan: runs of kept gaps join required steps."""
    out = []
    for t, req in tl.required.items():
        j0 = 0
        for j in range(len(req)):
            if j == len(req) - 1 or not keep[t][j]:
                out.append(Piece(t, req[j0], req[j], off[t][j0]))
                j0 = j + 1
    return out


def _cost(tl: Timeline, keep: Keeps) -> int:
    """Non-compulsory bytes of kept-gap choices (reloads, one write-back per dirty tensor)."""
    g = tl.graph
    total = 0
    for t, ks in keep.items():
        drops = ks.count(False)
        total += (drops + (1 if drops and g.tensors[t].dirty else 0)) * g.tensors[t].bytes
    return total


# -- one window ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Item:
    """A rectangle: tensor, index j (of a required step, or of a gap), steps s..e, whether it
    is a gap, whether its keep/drop is decided here (`dec`), and its offset: the variable of
    required step `var` of its tensor, or the constant `fixed` when `var` is None."""

    tensor: str
    j: int
    s: int
    e: int
    gap: bool
    dec: bool
    var: int | None
    fixed: int


def _neighbourhood(tl: Timeline, a: int, b: int, off: Offsets, keep: Keeps
                   ) -> tuple[list[_Item], list[tuple[str, int]], set[tuple[str, int]]]:
    """The rectangles of window [a, b] and of everything fixed that they may meet, the gaps
    decided here (those touching [a, b]) and the required steps whose offset is free (every
    step of a current piece alive in [a, b])."""
    items: list[_Item] = []
    dgaps: list[tuple[str, int]] = []
    free: set[tuple[str, int]] = set()
    span = [a, b]  # steps every rectangle that may move lies in
    for t, req in tl.required.items():
        if req[-1] < a or req[0] > b:
            continue
        j0 = 0
        for j in range(len(req) - 1):  # a gap decided here: its ends bound the hull
            if req[j + 1] >= a and req[j] <= b:
                span[0], span[1] = min(span[0], req[j]), max(span[1], req[j + 1])
        for j in range(len(req)):  # runs of kept gaps are the current pieces
            if j == len(req) - 1 or not keep[t][j]:
                if req[j0] <= b and req[j] >= a:
                    free.update((t, m) for m in range(j0, j + 1))
                j0 = j + 1
    lo = min([span[0], *(tl.required[t][j] for t, j in free)])
    hi = max([span[1], *(tl.required[t][j] for t, j in free)])
    for t, req in tl.required.items():
        if req[-1] < lo or req[0] > hi:
            continue
        for j, k in enumerate(req):
            mine = (t, j) in free
            if lo <= k <= hi:
                items.append(_Item(t, j, k, k, False, False, j if mine else None, off[t][j]))
            if j + 1 == len(req):
                continue
            k2 = req[j + 1]
            dec = k2 >= a and k <= b
            if dec:
                dgaps.append((t, j))
            elif not keep[t][j] or k2 < lo or k > hi:
                continue
            if k2 == k + 1:
                continue  # no step in between: no rectangle of its own
            nxt = (t, j + 1) in free
            var = j if mine else (j + 1 if nxt else None)
            items.append(_Item(t, j, k + 1, k2 - 1, True, dec, var, off[t][j]))
    return items, dgaps, free


def _overlapping(items: list[_Item]) -> list[tuple[int, int]]:
    """Pairs of items of different tensors that overlap in time, one of them movable (a free
    offset or a keep/drop decided here): a sweep by start."""
    movable = [it.var is not None or it.dec for it in items]
    return [(j, i) for j, i in time_overlaps([(it.tensor, it.s, it.e) for it in items])
            if movable[i] or movable[j]]


def window_pairs(tl: Timeline, a: int, b: int, off: Offsets, keep: Keeps) -> int:
    """Order binaries the window [a, b] needs: time-overlapping pairs with a free offset."""
    items, _, _ = _neighbourhood(tl, a, b, off, keep)
    return sum(1 for i, j in _overlapping(items)
               if items[i].var is not None or items[j].var is not None)


def solve_window(tl: Timeline, a: int, b: int, off: Offsets, keep: Keeps, budget: int,
                 node_limit: int, time_limit_s: float) -> tuple[Offsets, Keeps] | None:
    """Best re-plan of window [a, b] with the rest fixed (module docstring), or None when the
    MILP finds nothing cheaper than the current plan within its limits."""
    g, big = tl.graph, float(budget)
    items, gaps, free = _neighbourhood(tl, a, b, off, keep)
    size = {t: g.tensors[t].bytes for t in tl.required}
    dcol = {gp: i for i, gp in enumerate(gaps)}
    paid = {t for t, ks in keep.items() if g.tensors[t].dirty and any(
        not k and (t, j) not in dcol for j, k in enumerate(ks))}
    dirty = sorted({t for t, _ in gaps if g.tensors[t].dirty and t not in paid})
    col = len(gaps)
    wcol = {t: col + i for i, t in enumerate(dirty)}
    col += len(dirty)
    ocol: dict[tuple[str, int], int] = {}
    for key in sorted(free):
        ocol[key] = col
        col += 1
    pairs = [(i, j) for i, j in _overlapping(items)
             if size[items[i].tensor] and size[items[j].tensor]]
    zpairs = [(i, j) for i, j in pairs if items[i].var is not None or items[j].var is not None]
    zcol = col
    n = col + len(zpairs)
    cost = np.zeros(n)
    for (t, _), c in dcol.items():
        cost[c] = size[t]
    for t, c in wcol.items():
        cost[c] = size[t]
    lo, hi, integ = np.zeros(n), np.ones(n), np.ones(n)
    for (t, _), c in ocol.items():
        hi[c], integ[c] = budget - size[t], 0
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    ub: list[float] = []

    def row(entries: list[tuple[int, float]], bound: float) -> None:
        for c, v in entries:
            rows.append(len(ub))
            cols.append(c)
            vals.append(v)
        ub.append(bound)

    def expr(t: str, j: int) -> tuple[list[tuple[int, float]], float]:
        """Offset of tensor t at required step j: (variable terms, constant)."""
        c = ocol.get((t, j))
        return ([(c, 1.0)], 0.0) if c is not None else ([], float(off[t][j]))

    def neg(terms: list[tuple[int, float]]) -> list[tuple[int, float]]:
        return [(c, -v) for c, v in terms]

    for t, req in tl.required.items():  # kept gaps: one offset at both ends
        for j in range(len(req) - 1):
            d = dcol.get((t, j))
            if d is None and not (keep[t][j] and (t, j) in free):
                continue
            if d is not None and t in wcol:
                row([(d, 1.0), (wcol[t], -1.0)], 0.0)
            (xa, ca), (xb, cb) = expr(t, j), expr(t, j + 1)
            if not xa and not xb:
                if ca != cb and d is not None:
                    lo[d] = 1  # two fixed, different offsets: the gap cannot be kept
                continue
            rel = [] if d is None else [(d, -big)]
            row([*xb, *neg(xa), *rel], ca - cb)
            row([*xa, *neg(xb), *rel], cb - ca)

    def place(it: _Item) -> tuple[list[tuple[int, float]], float, list[tuple[int, float]]]:
        """(offset terms, offset constant, release terms): the item's offset, and the drop
        binary that switches its rectangle off (gaps decided here)."""
        terms, const = expr(it.tensor, it.var) if it.var is not None else ([], float(it.fixed))
        rel = [(dcol[(it.tensor, it.j)], -big)] if it.dec else []
        return terms, const, rel

    for i, j in pairs:  # two fixed rectangles: only one decided here may be switched on
        if items[i].var is not None or items[j].var is not None:
            continue
        (_, ca, _), (_, cb, _) = place(items[i]), place(items[j])
        sa, sb = size[items[i].tensor], size[items[j].tensor]
        if not (ca < cb + sb and cb < ca + sa):
            continue
        ds = [dcol[(it.tensor, it.j)] for it in (items[i], items[j]) if it.dec]
        if len(ds) == 1:
            lo[ds[0]] = 1
        elif ds:
            row([(ds[0], -1.0), (ds[1], -1.0)], -1.0)  # at least one dropped
    for p, (i, j) in enumerate(zpairs):
        (xa, ca, ra), (xb, cb, rb) = place(items[i]), place(items[j])
        sa, sb = size[items[i].tensor], size[items[j].tensor]
        z = zcol + p
        row([*xa, *neg(xb), (z, big), *ra, *rb], big - sa - ca + cb)  # z=1: a below b
        row([*xb, *neg(xa), (z, -big), *ra, *rb], -sb - cb + ca)  # z=0: b below a
    # only a strictly cheaper window is of use: cut off the rest (prunes the search)
    now = sum(size[t] for t, j in gaps if not keep[t][j]) + sum(
        size[t] for t in wcol if not all(keep[t]))
    if now == 0:
        return None
    row([(c, v) for c, v in enumerate(cost) if v], now - 1.0)
    from scipy.optimize import Bounds, LinearConstraint  # lazy: scipy
    from scipy.sparse import coo_matrix

    from pysim.milp import milp

    a_mat = coo_matrix((vals, (rows, cols)), shape=(len(ub), n)).tocsr()
    res = milp(cost, integrality=integ, bounds=Bounds(lo, hi),
               constraints=LinearConstraint(a_mat, -np.inf, np.array(ub)),
               options={"time_limit": max(0.05, time_limit_s), "node_limit": node_limit,
                        "mip_rel_gap": 0.0})
    if res.x is None:
        return None
    x = res.x
    new_keep = {t: list(ks) for t, ks in keep.items()}
    new_off = {t: list(os) for t, os in off.items()}
    for (t, j), c in dcol.items():
        new_keep[t][j] = x[c] < 0.5
    for (t, j), c in ocol.items():
        new_off[t][j] = int(round(x[c]))
    if _cost(tl, new_keep) >= _cost(tl, keep):
        return None
    return new_off, new_keep


# -- the search ---------------------------------------------------------------------------------
def _fit(tl: Timeline, lo: int, hi: int, max_pairs: int,
         pairs_of: Callable[[int, int], int], grow: str = "both") -> tuple[int, int]:
    """The widest window around [lo, hi] (growing on both sides, to the right or to the left)
    that needs at most `max_pairs` order binaries (`pairs_of(a, b)`), by bisection on its
    width (the count only grows)."""
    n = tl.steps

    def span(r: int) -> tuple[int, int]:
        return (max(0, lo - r) if grow != "right" else lo,
                min(n - 1, hi + r) if grow != "left" else hi)

    good, bad = 0, n
    while bad - good > 1:
        mid = (good + bad) // 2
        if pairs_of(*span(mid)) <= max_pairs:
            good = mid
        else:
            bad = mid
    return span(good)


def _windows(tl: Timeline, keep: Keeps, off: Offsets, max_pairs: int,
             memo: dict[tuple[int, int], int],
             target: Mapping[tuple[str, int], bool] | None = None) -> Iterator[tuple[int, int]]:
    """One pass, lazily: windows around the paid gaps first (`_anchors`), then windows sliding
    left to right, each overlapping the previous by half, up to the last paid gap (a window
    past it cannot gain). `memo` caches `window_pairs` of this plan by window."""

    def pairs_of(a: int, b: int) -> int:
        if (a, b) not in memo:
            memo[(a, b)] = window_pairs(tl, a, b, off, keep)
        return memo[(a, b)]

    for c, grow in _anchors(tl, keep, target):
        yield _fit(tl, c, c, max_pairs, pairs_of, grow)
    last = max((tl.required[t][j + 1] for t, ks in keep.items()
                for j, k in enumerate(ks) if not k), default=-1)
    a = 0
    while a <= last:
        a, b = _fit(tl, a, a, max_pairs, pairs_of, grow="right")
        yield a, b
        if b >= tl.steps - 1:
            break
        a = max(a + 1, (a + b + 1) // 2)


def _anchors(tl: Timeline, keep: Keeps, target: Mapping[tuple[str, int], bool] | None = None
             ) -> list[tuple[int, str]]:
    """Where the windows over the paid gaps grow from (step, "both" / "right" / "left"): the
    middle of each dropped gap, largest tensor first. With `target` (a keep/drop choice that
    meets the lower bound: the relaxation's), the gaps the plan drops but the target keeps come
    first — there the plan pays above the bound —, then those gaps again from their ends
    outwards (what stops one being kept may lie well before or after it), then the rest."""
    g = tl.graph
    above: list[tuple[int, int, int]] = []
    rest: list[tuple[int, int, int]] = []
    for t, ks in keep.items():
        req = tl.required[t]
        for j, k in enumerate(ks):
            if not k:
                key = (-g.tensors[t].bytes, req[j], req[j + 1])
                (above if target is not None and target.get((t, j), False) else rest).append(key)
    above.sort()
    rest.sort()
    where = [((s + e) // 2, "both") for _, s, e in above]
    where += [w for _, s, e in above for w in ((s, "right"), (e, "left"))]
    where += [((s + e) // 2, "both") for _, s, e in rest]
    return list(dict.fromkeys(where))


def _pays(tl: Timeline, keep: Keeps, a: int, b: int) -> bool:
    """Whether a dropped gap touches [a, b] (else the window cannot gain)."""
    for t, ks in keep.items():
        req = tl.required[t]
        if req[-1] < a or req[0] > b:
            continue
        if any(not k and req[j + 1] >= a and req[j] <= b for j, k in enumerate(ks)):
            return True
    return False


def improve(tl: Timeline, pieces: Sequence[Piece], budget: int, bound: int, deadline: float,
            max_pairs: int = 1000, node_limit: int = 2000, min_pairs: int = 64,
            target: Mapping[tuple[str, int], bool] | None = None) -> Outcome:
    """Large-neighbourhood search from the valid plan `pieces` (module docstring) until the
    plan meets `bound`, a pass with the largest windows (`max_pairs` order binaries) gains
    nothing, or `deadline` (time.perf_counter()). Windows start small (fast MILPs) and double
    after a pass without gain. `target` (keep per (tensor, gap index), e.g. the aggregate
    relaxation's optimum) orders the windows: gaps the plan drops and it keeps go first."""
    best = list(pieces)
    best_bytes = replay(tl, best, budget).non_compulsory_bytes
    off, keep = normalise(tl, best)
    windows = accepted = 0
    pairs = min(min_pairs, max_pairs)
    memo: dict[tuple[int, int], int] = {}  # window -> order binaries, for this plan
    tried: list[tuple[int, int]] = []  # since the last change: a window inside one of
    while best_bytes > bound and time.perf_counter() < deadline:  # these is a smaller
        gained = False  # neighbourhood of the same plan
        for a, b in _windows(tl, keep, off, pairs, memo, target):
            if time.perf_counter() >= deadline or best_bytes <= bound:
                break
            if any(x <= a and b <= y for x, y in tried) or not _pays(tl, keep, a, b):
                continue
            tried.append((a, b))
            windows += 1
            got = solve_window(tl, a, b, off, keep, budget, node_limit,
                               deadline - time.perf_counter())
            if got is None:
                continue
            cand = pieces_of(tl, *got)
            try:
                nc = replay(tl, cand, budget).non_compulsory_bytes
            except PlanInvalid:
                continue  # rounding of a continuous offset; never accepted unchecked
            if nc < best_bytes:
                best, best_bytes, (off, keep) = cand, nc, got
                accepted += 1
                gained = True
                tried.clear()
        if gained:
            memo = {}  # the next pass fits its windows to the new plan
        elif pairs >= max_pairs:
            break
        else:
            pairs = min(2 * pairs, max_pairs)
    return Outcome(best, best_bytes, windows, accepted)
