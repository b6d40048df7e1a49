"""The user-facing calls: `budgets`, `plan` and `compare` on any workload.

`plan` runs one pipeline: build the lifetime graph, fix the order (given, a user's, or chosen by
scoring candidate orders with the aggregate relaxation) or search it with the residency
(`order="joint"`, pysim/memplan/joint.py), run the planner, replay the pieces in the
independent checker, and return a `Plan` whose traffic comes from that replay.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pysim.memplan.baselines import BASELINES
from pysim.memplan.graph import LifetimeGraph, MemPlanError, Timeline, graph_of
from pysim.memplan.joint import JOINT_MAX_OPS, plan_order, solve_joint
from pysim.memplan.optimal import relax
from pysim.memplan.plan import Plan, replay
from pysim.memplan.schedule import MinPeak, min_peak_order, peak_bytes

PLANNERS = ("optimal", *BASELINES)
ORDERS = ("given", "optimize", "min_peak", "joint")
BUDGET_NAMES = ("m_r", "mid", "min_peak")


@dataclass(frozen=True)
class Budgets:
    """Reference budgets of a graph in bytes: `m_r` (the most one op needs, `m_r_op`), the
    minimum peak over all orders (`min_peak`, proven when `min_peak_exact`, else the best a
    beam search found), `mid` halfway between, and the peak of the graph's own order."""

    m_r: int
    m_r_op: str
    min_peak: int
    min_peak_exact: bool
    given_peak: int

    @property
    def mid(self) -> int:
        return (self.m_r + self.min_peak) // 2

    def resolve(self, budget: int | str) -> int:
        """A budget in bytes from an int or one of BUDGET_NAMES."""
        if isinstance(budget, str):
            if budget not in BUDGET_NAMES:
                raise MemPlanError(f"budget_bytes must be an int or one of {BUDGET_NAMES}, "
                                   f"got {budget!r}")
            return int(getattr(self, budget))
        return budget


def budgets(workload: Any, include_weights: bool = False, alignment: int = 1,
            min_peak: MinPeak | None = None) -> Budgets:
    """Reference budgets of a Workload (or LifetimeGraph); see `Budgets`. `min_peak` reuses
    a `min_peak_order` result of the same graph."""
    g = graph_of(workload, include_weights, alignment)
    m_r, op = g.m_r()
    mp = min_peak or min_peak_order(g)
    return Budgets(m_r, op, mp.peak_bytes, mp.exact, peak_bytes(g, g.check_order(None)))


def _order(g: LifetimeGraph, order: str | Sequence[str], budget: int,
           time_limit_s: float, mp: MinPeak | None) -> tuple[tuple[int, ...], str]:
    if isinstance(order, str):
        if order not in ORDERS:
            raise MemPlanError(f"order must be one of {ORDERS} or a list of op names, got "
                               f"{order!r}")
        if order == "given":
            return g.check_order(None), "given order"
        mp = mp or min_peak_order(g)
        if order == "min_peak":
            return mp.order, "minimum-peak order"
        # optimize: score the candidates by the relaxation's traffic at this budget
        cands = {"given order": g.check_order(None), "minimum-peak order": mp.order}
        scored = sorted((relax(Timeline.of(g, o), budget, time_limit_s / 4).bytes, k, o)
                        for k, o in cands.items())
        return scored[0][2], f"{scored[0][1]} (best of {len(cands)} by relaxation)"
    return g.check_order(order), "user order"


def plan(workload: Any, budget_bytes: int | str, include_weights: bool = False,
         alignment: int = 1, order: str | Sequence[str] = "given", planner: str = "optimal",
         time_limit_s: float = 10.0) -> Plan:
    """Plan the scratchpad for `workload` (a pysim Workload, or a LifetimeGraph, whose own
    weights/alignment then apply) in `budget_bytes` (bytes, or "m_r" / "mid" / "min_peak").

    `order` is "given" (the workload's), "min_peak", "optimize" (the given and minimum-peak
    orders scored by the aggregate relaxation), "joint" (order and residency searched
    together: exact over every order up to JOINT_MAX_OPS ops, a window search above; the
    optimal planner only) or a list of op names; `planner` one of PLANNERS. The optimal
    planner keeps the best of its own plans and the baselines' as incumbents, reports the
    proven lower bound for this order (for every order with "joint" on a small graph:
    `bound_scope`), and stops within about `time_limit_s` seconds with the best plan so far
    and its gap. Raises MemPlanError if the budget is below M_R (naming the op), the order is
    not topological, or a name is unknown."""
    t0 = time.perf_counter()
    if planner not in PLANNERS:
        raise MemPlanError(f"planner must be one of {PLANNERS}, got {planner!r}")
    if isinstance(time_limit_s, bool) or not isinstance(time_limit_s, (int, float)) \
            or not time_limit_s > 0:
        raise MemPlanError(f"time_limit_s must be a number > 0 (seconds), got {time_limit_s!r}")
    g = graph_of(workload, include_weights, alignment)
    mp = None
    if isinstance(budget_bytes, str):
        mp = min_peak_order(g) if budget_bytes in ("mid", "min_peak") else None
        budget_bytes = budgets(g, min_peak=mp).resolve(budget_bytes)
    g.check_budget(budget_bytes)
    if isinstance(order, str) and order == "joint":
        if planner != "optimal":
            raise MemPlanError(f"order='joint' searches orders with the optimal planner; "
                               f"planner {planner!r} needs a fixed order")
        return _joint(g, budget_bytes, time_limit_s, mp or min_peak_order(g), t0)
    idx, how = _order(g, order, budget_bytes, time_limit_s, mp)
    tl = Timeline.of(g, idx)
    lower: int | None = None
    if planner == "optimal":
        fixed = plan_order(tl, budget_bytes, time_limit_s)
        pieces, lower, method = fixed.pieces, fixed.bound_bytes, fixed.method
    else:
        pieces, method = BASELINES[planner]().run(tl, budget_bytes), BASELINES[planner].__name__
    traffic = replay(tl, pieces, budget_bytes)
    names = tuple(g.ops[i].name for i in idx)
    return Plan(g, planner, budget_bytes, names, tuple(sorted(pieces)), traffic, lower,
                f"{method}; {how}", time.perf_counter() - t0)


def _joint(g: LifetimeGraph, budget: int, time_limit_s: float, mp: MinPeak, t0: float
           ) -> Plan:
    """`plan(..., order="joint")`: `solve_joint` seeded with the given and minimum-peak
    orders."""
    seeds = [("given order", g.check_order(None))]
    if mp.order != seeds[0][1]:
        seeds.append(("minimum-peak order", mp.order))
    j = solve_joint(g, budget, max(0.05, time_limit_s - (time.perf_counter() - t0)), seeds)
    tl = Timeline.of(g, j.order)
    traffic = replay(tl, j.fixed.pieces, budget)
    rel = "-" if j.relaxation_bytes is None else f"{j.relaxation_bytes} B"
    placed = f"{j.orders_placed} order{'s' if j.orders_placed != 1 else ''} placed"
    how = (f"{j.how}, joint ({placed}, relaxation over all orders {rel})" if j.all_orders
           else f"{j.how} (above {JOINT_MAX_OPS} ops: window search; bound at this order)")
    return Plan(g, "optimal", budget, tuple(g.ops[i].name for i in j.order),
                tuple(sorted(j.fixed.pieces)), traffic, j.bound_bytes,
                f"{j.fixed.method}; {how}", time.perf_counter() - t0,
                "all orders" if j.all_orders else "order")


def compare(workload: Any, budget_bytes: int | str, planners: Sequence[str] = PLANNERS,
            include_weights: bool = False, alignment: int = 1,
            order: str | Sequence[str] = "given", time_limit_s: float = 10.0) -> Any:
    """A pandas DataFrame, one row per planner at one budget: non-compulsory and compulsory
    bytes, lower bound, proven optimality, the reduction in % of each against the first
    baseline listed (TFLite arena + Belady by default), solve time and method. Baselines
    always run in the given (or user) order; `order` applies to the optimal planner."""
    import pandas as pd

    g = graph_of(workload, include_weights, alignment)
    if isinstance(budget_bytes, str):
        budget_bytes = budgets(g).resolve(budget_bytes)
    base_order = order if not isinstance(order, str) else "given"
    rows = []
    for p in planners:
        pl = plan(g, budget_bytes, order=order if p == "optimal" else base_order, planner=p,
                  time_limit_s=time_limit_s)
        rows.append({"planner": p, "budget_bytes": budget_bytes,
                     "non_compulsory_bytes": pl.non_compulsory_bytes,
                     "compulsory_bytes": pl.compulsory_bytes,
                     "lower_bound_bytes": pl.lower_bound_bytes,
                     "proven_optimal": pl.proven_optimal, "solve_time_s": pl.solve_time_s,
                     "method": pl.method})
    frame = pd.DataFrame(rows)
    ref = next((r["non_compulsory_bytes"] for r in rows if r["planner"] != "optimal"), None)
    frame["reduction_pct"] = [
        None if ref is None else (0.0 if ref == 0 else 100.0 * (ref - nc) / ref)
        for nc in frame["non_compulsory_bytes"]]
    return frame
