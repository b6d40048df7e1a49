"""The user-facing calls: `budgets`, `plan` and `compare` on any workload.

`plan` runs one pipeline: build the lifetime graph, fix the order (given, a user's, or chosen by
scoring candidate orders with the aggregate relaxation), run the planner, replay the pieces in
the independent checker, and return a `Plan` whose traffic comes from that replay.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pysim.memplan.baselines import BASELINES
from pysim.memplan.graph import LifetimeGraph, MemPlanError, Timeline, graph_of
from pysim.memplan.optimal import relax, solve
from pysim.memplan.plan import Plan, replay
from pysim.memplan.schedule import MinPeak, min_peak_order, peak_bytes

PLANNERS = ("optimal", *BASELINES)
ORDERS = ("given", "optimize", "min_peak")
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

    `order` is "given" (the workload's), "min_peak", "optimize" (candidate orders scored by
    the aggregate relaxation) or a list of op names; `planner` one of PLANNERS. The optimal
    planner keeps the best of its own plans and the baselines' as incumbents, reports the
    proven lower bound for this order, and stops within about `time_limit_s` seconds with the
    best plan so far and its gap. Raises MemPlanError if the budget is below M_R (naming the
    op), the order is not topological, or a name is unknown."""
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
    idx, how = _order(g, order, budget_bytes, time_limit_s, mp)
    tl = Timeline.of(g, idx)
    lower: int | None = None
    if planner == "optimal":
        # not proven optimal by the relaxation: the baselines are incumbents too (and LNS
        # starts from the best of them and the repair search)
        solved = solve(tl, budget_bytes, time_limit_s, incumbents=lambda: {
            name: cls().run(tl, budget_bytes) for name, cls in BASELINES.items()})
        pieces, lower, method = solved.pieces, solved.bound_bytes, solved.method
    else:
        pieces, method = BASELINES[planner]().run(tl, budget_bytes), BASELINES[planner].__name__
    traffic = replay(tl, pieces, budget_bytes)
    names = tuple(g.ops[i].name for i in idx)
    return Plan(g, planner, budget_bytes, names, tuple(sorted(pieces)), traffic, lower,
                f"{method}; {how}", time.perf_counter() - t0)


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
