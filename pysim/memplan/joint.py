"""Operator order and residency chosen together (issue 13: "the joint ILP for small graphs").

`joint_relax` is the aggregate-capacity relaxation of `optimal.relax` with the order free: a
mixed-integer program over every topological order at once, whose optimum is a lower bound on
the non-compulsory bytes of any addressed plan in any order. COSMA's time-indexed ILP (Li et
al., arXiv 2311.18246) carries a variable per (tensor, step) *and* the schedule; this one keeps
the per-step part to what the aggregate model needs:

- x[i, k] = 1 when op i runs at step k (an assignment: each op one step, each step one op),
  only for k between op i's ancestors and its descendants' counts; precedence in cumulative
  form, sum_{k' <= k} x[b, k'] <= sum_{k' < k} x[a, k'] for every edge a -> b (the tighter of
  the two textbook forms, Dyer & Wolsey's time-indexed scheduling).
- r[t, k] = 1 when tensor t (used by two ops or more) is resident at step k: r >= the sum of
  its users' x at k; an activation is never resident before its producer has run.
- s[t, k] >= r[t, k] - r[t, k-1] counts residency segments (continuous: minimised, so 0/1):
  every segment after the first is a reload of size(t); w[t] >= s[t, k] - x[producer, k] is
  the single write-back of a dirty tensor that is reloaded at all (COSMA sec. 4).
- capacity: at every step, the resident multi-use tensors plus the single-use tensors of the
  op that runs there fit in the budget.

For a fixed order it is exactly `relax` (a dropped gap holds a step where r = 0, so a new
segment starts before the next use; any r is at least `relax`'s residency). Tensors used by a
single op need no variables. Sizes: n^2 order binaries at most, plus two per (multi-use tensor,
step within its users' possible steps).

`solve_joint` closes the gap to addresses by enumeration: it places the relaxation's order with
the fixed-order planner, and while that plan costs more than the relaxation's bound it excludes
that order (a no-good cut, sum_k x[order[k], k] <= n - 1) and re-solves. The joint bound is the
least of the relaxation's bound over the orders not yet excluded and the fixed-order bounds of
those that are; the plan is proven optimal over all orders when it meets it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pysim.memplan.baselines import BASELINES
from pysim.memplan.graph import LifetimeGraph, Timeline
from pysim.memplan.optimal import relax, solve
from pysim.memplan.plan import Piece, replay

JOINT_MAX_OPS = 30  # the exact joint program's size limit (issue 13: "about 30 operators")
WINDOW_OPS = 12  # ops reordered at once by the window search on larger graphs


@dataclass(frozen=True)
class JointRelaxation:
    """Result of `joint_relax`: the best order found (None when none was found in time, or no
    order is left after the exclusions: `exhausted`), its aggregate traffic (`bytes`) and the
    proven lower bound over every allowed order (equal to `bytes` when `optimal`)."""

    order: tuple[int, ...] | None
    bytes: int | None
    bound_bytes: int
    optimal: bool
    exhausted: bool = False


def spans(g: LifetimeGraph) -> list[tuple[int, int]]:
    """Steps each op can run at in any topological order: from its number of ancestors to the
    last step less its number of descendants."""
    n = len(g.ops)
    preds = g.predecessors()
    anc: list[int] = [0] * n
    for i in range(n):  # g.ops is topological
        for p in preds[i]:
            anc[i] |= anc[p] | 1 << p
    desc = [0] * n
    for i in reversed(range(n)):
        for p in preds[i]:
            desc[p] |= desc[i] | 1 << i
    return [(bin(anc[i]).count("1"), n - 1 - bin(desc[i]).count("1")) for i in range(n)]


class _Model:
    """Sparse rows of a MILP with named columns (bounds, costs, integrality)."""

    def __init__(self) -> None:
        self.cost: list[float] = []
        self.lo: list[float] = []
        self.hi: list[float] = []
        self.integer: list[int] = []
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.vals: list[float] = []
        self.row_lo: list[float] = []
        self.row_hi: list[float] = []

    def var(self, cost: float = 0.0, integer: bool = True, hi: float = 1.0) -> int:
        self.cost.append(cost)
        self.lo.append(0.0)
        self.hi.append(hi)
        self.integer.append(int(integer))
        return len(self.cost) - 1

    def row(self, entries: Sequence[tuple[int, float]], lo: float, hi: float) -> None:
        r = len(self.row_lo)
        for c, v in entries:
            self.rows.append(r)
            self.cols.append(c)
            self.vals.append(v)
        self.row_lo.append(lo)
        self.row_hi.append(hi)

    def solve(self, time_limit_s: float) -> Any:  # scipy's OptimizeResult
        from scipy.optimize import Bounds, LinearConstraint  # lazy: scipy
        from scipy.sparse import coo_matrix

        from pysim.milp import milp

        a = coo_matrix((self.vals, (self.rows, self.cols)),
                       shape=(len(self.row_lo), len(self.cost))).tocsr()
        return milp(np.array(self.cost), integrality=np.array(self.integer),
                    bounds=Bounds(np.array(self.lo), np.array(self.hi)),
                    constraints=LinearConstraint(a, np.array(self.row_lo),
                                                 np.array(self.row_hi)),
                    options={"time_limit": max(0.05, time_limit_s), "mip_rel_gap": 0.0})


def joint_relax(g: LifetimeGraph, budget_bytes: int, time_limit_s: float = 10.0,
                allowed: Sequence[tuple[int, int]] | None = None,
                exclude: Sequence[tuple[int, ...]] = ()) -> JointRelaxation:
    """The joint order + aggregate residency program (module docstring) at `budget_bytes`.
    `allowed[i]` narrows the steps op i may run at (a window of a fixed order: ops outside it
    get one step); `exclude` lists orders (op indices by step) the result may not be."""
    n = len(g.ops)
    span = spans(g)
    if allowed is not None:
        span = [(max(a, c), min(b, d)) for (a, b), (c, d) in zip(span, allowed, strict=True)]
    m = _Model()
    x = {(i, k): m.var() for i in range(n) for k in range(span[i][0], span[i][1] + 1)}
    at_step: list[list[int]] = [[] for _ in range(n)]
    for i, k in x:
        at_step[k].append(i)
    for i in range(n):  # each op runs once
        m.row([(x[(i, k)], 1.0) for k in range(span[i][0], span[i][1] + 1)], 1.0, 1.0)
    for k in range(n):  # each step runs one op
        m.row([(x[(i, k)], 1.0) for i in at_step[k]], 1.0, 1.0)
    preds = g.predecessors()
    for b in range(n):  # cumulative precedence: b by step k only if a before k
        for a in preds[b]:
            for k in range(span[b][0], span[a][1] + 1):
                m.row([(x[(b, j)], 1.0) for j in range(span[b][0], k + 1)]
                      + [(x[(a, j)], -1.0) for j in range(span[a][0], min(k, span[a][1] + 1))],
                      -np.inf, 0.0)
    users: dict[str, list[int]] = {}
    for i, op in enumerate(g.ops):
        for t in op.tensors:
            users.setdefault(t, []).append(i)
    single = np.zeros(n)  # bytes of each op's tensors no other op uses
    cap: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    const = 0.0
    for t, us in users.items():
        size = float(g.tensors[t].bytes)
        if size == 0:
            continue
        if len(us) == 1:
            single[us[0]] += size
            continue
        const += size  # the first segment is free
        _tensor(m, g, t, us, x, span, cap)
    for k in range(n):  # capacity
        m.row(cap[k] + [(x[(i, k)], single[i]) for i in at_step[k] if single[i]],
              -np.inf, float(budget_bytes))
    for o in exclude:  # no-good cuts
        m.row([(x[(i, k)], 1.0) for k, i in enumerate(o) if (i, k) in x], -np.inf, n - 1.0)
    res = m.solve(time_limit_s)
    status = getattr(res, "status", None)
    if status == 2:  # infeasible: every allowed order is excluded
        return JointRelaxation(None, None, 0, True, exhausted=True)
    bound = getattr(res, "mip_dual_bound", None)
    lb = 0 if bound is None or not np.isfinite(bound) else int(np.ceil(bound - const - 1e-6))
    if res.x is None:
        return JointRelaxation(None, None, max(0, lb), False)
    found = int(round(float(res.fun) - const))
    order = tuple(max(at_step[k], key=lambda i: res.x[x[(i, k)]]) for k in range(n))
    if status == 0:
        lb = found
    return JointRelaxation(order, found, max(0, min(lb, found)), status == 0)


def _tensor(m: _Model, g: LifetimeGraph, t: str, us: list[int], x: dict[tuple[int, int], int],
            span: list[tuple[int, int]], cap: list[list[tuple[int, float]]]) -> None:
    """Residency r, segment s and liveness rows of multi-use tensor `t` (module docstring)."""
    node, size = g.tensors[t], float(g.tensors[t].bytes)
    prod = g.op_index(node.producer) if node.producer is not None else None

    def ran(i: int, k: int) -> list[tuple[int, float]]:  # sum_{j <= k} x[i, j]: op i ran by k
        return [(x[(i, j)], 1.0) for j in range(span[i][0], min(k, span[i][1]) + 1)]

    lo, hi = min(span[i][0] for i in us), max(span[i][1] for i in us)
    w = m.var(size, integer=False) if node.dirty else None
    r_s: list[tuple[int, int]] = []
    for k in range(lo, hi + 1):
        r, s = m.var(), m.var(size, integer=False)
        cap[k].append((r, size))
        r_s.append((r, s))
        m.row([(r, 1.0)] + [(x[(i, k)], -1.0) for i in us if (i, k) in x], 0.0, np.inf)
        m.row([(s, 1.0), (r, -1.0)] + ([(r_s[-2][0], 1.0)] if k > lo else []), 0.0, np.inf)
        if prod is not None:  # never resident before its producer ran
            m.row([(r, 1.0)] + [(c, -v) for c, v in ran(prod, k)], -np.inf, 0.0)
        if w is not None and prod is not None:  # a segment not at the producer: a reload
            m.row([(w, 1.0), (s, -1.0)] + ([(x[(prod, k)], 1.0)] if (prod, k) in x else []),
                  0.0, np.inf)
    segs = [(s, 1.0) for _, s in r_s]
    m.row(segs, 1.0, np.inf)  # at least one segment
    # Liveness cuts (valid, for the LP bound): live = first use ran by k and not every use
    # ran before k; live and not resident means a drop: one reload at least, and the
    # write-back of an activation.
    for k in range(lo + 1, hi):
        r = r_s[k - lo][0]
        if prod is not None:
            started = ran(prod, k)
        else:
            e = m.var(integer=False)
            for i in us:
                m.row([(e, 1.0)] + [(c, -v) for c, v in ran(i, k)], 0.0, np.inf)
            started = [(e, 1.0)]
        done = m.var(integer=False)
        for i in us:
            m.row([(done, 1.0)] + [(c, -v) for c, v in ran(i, k - 1)], -np.inf, 0.0)
        gone = m.var(integer=False)
        m.row([(gone, 1.0), (r, 1.0), (done, 1.0)] + [(c, -v) for c, v in started],
              0.0, np.inf)
        m.row([*segs, (gone, -1.0)], 1.0, np.inf)
        if w is not None:
            m.row([(w, 1.0), (gone, -1.0)], 0.0, np.inf)


# -- driver -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fixed:
    """The optimal planner's result at one order: pieces, their non-compulsory bytes (`nc`,
    from `replay`), the proven lower bound at that order and how the plan was found."""

    pieces: list[Piece]
    nc: int
    bound_bytes: int
    method: str


def plan_order(tl: Timeline, budget_bytes: int, time_limit_s: float) -> Fixed:
    """`optimal.solve` at the order of `tl`, the baselines' plans as incumbents (and LNS's
    starting points) when the relaxation's intervals do not place."""
    solved = solve(tl, budget_bytes, time_limit_s, incumbents=lambda: {
        name: cls().run(tl, budget_bytes) for name, cls in BASELINES.items()})
    nc = replay(tl, solved.pieces, budget_bytes).non_compulsory_bytes
    return Fixed(solved.pieces, nc, min(solved.bound_bytes, nc), solved.method)


@dataclass(frozen=True)
class Joint:
    """Result of `solve_joint`: the order planned, its plan, a lower bound on the
    non-compulsory bytes over every order (`all_orders`) or, past JOINT_MAX_OPS, at that
    order only, and how they were found (`how`: which order won; `orders_placed` by the
    fixed-order planner; `relaxation_bytes`: the joint relaxation's optimum, None if unsolved)."""

    order: tuple[int, ...]
    fixed: Fixed
    bound_bytes: int
    all_orders: bool
    how: str
    orders_placed: int
    relaxation_bytes: int | None


def solve_joint(g: LifetimeGraph, budget_bytes: int, time_limit_s: float,
                seeds: Sequence[tuple[str, tuple[int, ...]]]) -> Joint:
    """Order and plan together within about `time_limit_s` seconds (module docstring). The
    `seeds` (named orders: the given one, the minimum-peak one) are planned first and stay
    incumbents, so the result is never worse than the best of them; graphs above
    JOINT_MAX_OPS ops get the window search (`improve_windows`) instead of the exact program."""
    deadline = time.perf_counter() + time_limit_s

    def left() -> float:
        return deadline - time.perf_counter()

    best: tuple[int, str, tuple[int, ...], Fixed] | None = None

    def consider(how: str, order: tuple[int, ...], f: Fixed) -> None:
        nonlocal best
        if best is None or f.nc < best[0]:
            best = (f.nc, how, order, f)

    for how, o in seeds:
        consider(how, o, plan_order(Timeline.of(g, o), budget_bytes,
                                    time_limit_s / (2 * len(seeds))))
    placed = len(seeds)
    assert best is not None, "solve_joint needs a seed order"
    if best[0] == 0:  # nothing moves: optimal in every sense
        return Joint(best[2], best[3], 0, True, best[1], placed, 0)
    if len(g.ops) > JOINT_MAX_OPS:
        o = improve_windows(g, budget_bytes, best[2], deadline - left() / 4)
        if o != best[2]:
            consider("window search", o, plan_order(Timeline.of(g, o), budget_bytes,
                                                    max(0.05, left())))
            placed += 1
        return Joint(best[2], best[3], best[3].bound_bytes, False, best[1], placed, None)
    excluded: list[tuple[int, ...]] = []
    cut_bounds: list[int] = []  # fixed-order bounds of the excluded orders
    rel_bytes: int | None = None
    rest = 0  # bound over the orders not excluded
    while True:
        rel = joint_relax(g, budget_bytes, max(0.05, 0.75 * left()), exclude=excluded)
        rest = int(np.iinfo(np.int64).max) if rel.exhausted else rel.bound_bytes
        if rel_bytes is None and not excluded:
            rel_bytes = rel.bytes if rel.optimal else None
        if rel.order is None or rest >= best[0] or left() <= 0.05:
            break
        f = plan_order(Timeline.of(g, rel.order), budget_bytes, max(0.05, left()))
        placed += 1
        consider("joint relaxation's order" + (f" (no. {len(excluded) + 1})"
                                                if excluded else ""), rel.order, f)
        excluded.append(rel.order)
        cut_bounds.append(f.bound_bytes)
        if not rel.optimal or f.nc <= rel.bound_bytes:  # out of time, or the bound is met
            break
    bound = min(rest, *cut_bounds, best[0])
    return Joint(best[2], best[3], bound, True, best[1], placed, rel_bytes)


def improve_windows(g: LifetimeGraph, budget_bytes: int, order: tuple[int, ...],
                    deadline: float, width: int = WINDOW_OPS) -> tuple[int, ...]:
    """Large-neighbourhood search on `order`: windows of `width` consecutive steps (half
    overlapping) are reordered by `joint_relax` with every other op fixed, and a window's
    order is kept when the aggregate traffic of the whole order falls. Passes repeat until
    one improves nothing or the deadline passes. Deterministic when no solve is cut short."""
    n = len(g.ops)
    cur = relax(Timeline.of(g, order), budget_bytes, 1.0).bytes
    improved = True
    while improved and cur > 0:
        improved = False
        for a in range(0, max(1, n - width // 2), max(1, width // 2)):
            if time.perf_counter() >= deadline or cur == 0:
                return order
            b = min(n, a + width)
            step = {i: k for k, i in enumerate(order)}
            allowed = [(a, b - 1) if a <= step[i] < b else (step[i], step[i])
                       for i in range(n)]
            rel = joint_relax(g, budget_bytes, deadline - time.perf_counter(), allowed)
            if rel.order is not None and rel.bytes is not None and rel.bytes < cur:
                order, cur, improved = rel.order, rel.bytes, True
    return order
