"""Joint order + residency (`order="joint"`, pysim/memplan/joint.py) against brute force over
every topological order (issue 13)."""

from __future__ import annotations

import itertools
import time

import pytest

from pysim.memplan import (
    LifetimeGraph,
    MemPlanError,
    Timeline,
    budgets,
    min_peak_order,
    plan,
    replay,
)
from pysim.memplan.joint import JOINT_MAX_OPS, improve_windows, joint_relax
from pysim.memplan.models import darts_net
from pysim.memplan.optimal import relax
from tests.test_memplan_exact import _budget, fragmentation_toy, random_graph


def topological_orders(g: LifetimeGraph) -> list[tuple[int, ...]]:
    """Every topological order of `g` (op indices), by brute force over permutations."""
    out = []
    for o in itertools.permutations(range(len(g.ops))):
        try:
            g.check_order([g.ops[i].name for i in o])
        except MemPlanError:
            continue
        out.append(o)
    return out


def _valid(g: LifetimeGraph, p) -> None:  # type: ignore[no-untyped-def]
    tl = Timeline.of(g, tuple(g.op_index(n) for n in p.order))
    assert replay(tl, p.pieces, p.budget_bytes) == p.traffic
    assert p.lower_bound_bytes is not None and p.lower_bound_bytes <= p.non_compulsory_bytes


@pytest.mark.parametrize("seed", range(40))
def test_joint_equals_the_best_exact_plan_over_every_order(seed: int) -> None:
    g = random_graph(seed)
    budget = _budget(g, seed)
    best = None
    for o in topological_orders(g):
        p = plan(g, budget, order=[g.ops[i].name for i in o], time_limit_s=5)
        assert p.proven_optimal  # the fixed-order planner is exact at this size
        best = p.non_compulsory_bytes if best is None else min(best, p.non_compulsory_bytes)
    j = plan(g, budget, order="joint", time_limit_s=10)
    _valid(g, j)
    assert j.non_compulsory_bytes == best
    assert j.proven_optimal and j.bound_scope == "all orders" and j.gap == 0.0
    for fixed in ("given", "min_peak", "optimize"):
        assert j.non_compulsory_bytes <= plan(g, budget, order=fixed).non_compulsory_bytes


@pytest.mark.parametrize("seed", range(0, 60, 4))
def test_joint_relaxation_is_the_least_fixed_order_relaxation(seed: int) -> None:
    g = random_graph(seed)
    budget = _budget(g, seed)
    n = len(g.ops)
    per_order = {}
    for o in topological_orders(g):
        per_order[o] = relax(Timeline.of(g, o), budget).bytes
        pinned = joint_relax(g, budget, allowed=[(o.index(i), o.index(i)) for i in range(n)])
        assert pinned.bytes == per_order[o] and pinned.order == o  # exact at a fixed order
    rel = joint_relax(g, budget)
    assert rel.optimal and rel.bytes == rel.bound_bytes == min(per_order.values())
    assert rel.order is not None and per_order[rel.order] == rel.bytes
    # excluding every order leaves nothing
    assert joint_relax(g, budget, exclude=list(per_order)).exhausted


def test_fragmentation_toy_is_solved_over_every_order() -> None:
    g, budget = fragmentation_toy()
    best = min(plan(g, budget, order=[g.ops[i].name for i in o]).non_compulsory_bytes
               for o in topological_orders(g))
    j = plan(g, budget, order="joint", time_limit_s=10)
    _valid(g, j)
    assert j.non_compulsory_bytes == best and j.proven_optimal


def test_a_darts_cell_beats_both_fixed_orders_and_is_deterministic() -> None:
    g = LifetimeGraph.from_workload(darts_net(cells=1))  # 15 ops, a reduction cell
    budget = g.m_r()[0]
    a, b = (plan(g, budget, order="joint", time_limit_s=20) for _ in range(2))
    _valid(g, a)
    assert a.pieces == b.pieces and a.order == b.order and a.method == b.method
    assert a.proven_optimal and a.bound_scope == "all orders"
    given, low = plan(g, budget), plan(g, budget, order="min_peak")
    assert a.non_compulsory_bytes < min(given.non_compulsory_bytes, low.non_compulsory_bytes)


def test_time_limit_returns_the_best_plan_so_far_with_its_gap() -> None:
    g = LifetimeGraph.from_workload(darts_net(cells=2))  # 27 ops: seconds to prove
    assert len(g.ops) <= JOINT_MAX_OPS
    budget = g.m_r()[0]
    t0 = time.perf_counter()
    p = plan(g, budget, order="joint", time_limit_s=1.0)
    assert time.perf_counter() - t0 < 3.0
    _valid(g, p)
    assert p.bound_scope == "all orders" and p.gap is not None
    assert p.non_compulsory_bytes <= plan(g, budget, order="min_peak").non_compulsory_bytes


def test_window_search_above_the_size_limit() -> None:
    g = LifetimeGraph.from_workload(darts_net(cells=3))
    assert len(g.ops) > JOINT_MAX_OPS
    budget = budgets(g).mid  # both fixed orders are proven optimal here: a stable comparison
    start = min_peak_order(g).order
    before = relax(Timeline.of(g, start), budget).bytes
    better = improve_windows(g, budget, start, time.perf_counter() + 3)
    g.check_order([g.ops[i].name for i in better])
    assert relax(Timeline.of(g, better), budget).bytes <= before
    p = plan(g, budget, order="joint", time_limit_s=4)
    _valid(g, p)
    assert p.bound_scope == "order"
    for fixed in ("given", "min_peak"):
        q = plan(g, budget, order=fixed, time_limit_s=2)
        assert q.proven_optimal and p.non_compulsory_bytes <= q.non_compulsory_bytes


def test_joint_needs_the_optimal_planner() -> None:
    g = random_graph(0)
    with pytest.raises(MemPlanError, match="order='joint' searches orders with the optimal"):
        plan(g, "mid", order="joint", planner="lru")
    with pytest.raises(MemPlanError, match="below M_R"):
        plan(g, 1, order="joint")
