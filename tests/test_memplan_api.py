"""pysim.memplan on real workloads: valid plans, bounds, baselines, orders, bad input (issue 13)."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pysim
from pysim.memplan import (
    BASELINES,
    LifetimeGraph,
    MemPlanError,
    Piece,
    PlanInvalid,
    Timeline,
    budgets,
    compare,
    min_peak_order,
    peak_bytes,
    plan,
    replay,
)
from pysim.memplan.models import darts_net, inception_block
from tests.test_memplan_exact import random_graph


def _cases() -> list[tuple[str, LifetimeGraph]]:
    return [
        ("resnet18+w", LifetimeGraph.from_workload(pysim.zoo.load("resnet18"), True)),
        ("inception", LifetimeGraph.from_workload(inception_block())),
        ("darts3", LifetimeGraph.from_workload(darts_net(cells=3))),
    ]


CASES = _cases()


@pytest.mark.parametrize("label", ["m_r", "mid", "min_peak"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_optimal_is_valid_bounded_and_never_worse_than_a_baseline(
        case: tuple[str, LifetimeGraph], label: str) -> None:
    g = case[1]
    p = plan(g, label, time_limit_s=2)
    tl = Timeline.of(g, tuple(g.op_index(n) for n in p.order))
    assert replay(tl, p.pieces, p.budget_bytes) == p.traffic  # recomputed, not trusted
    assert p.traffic.peak_bytes <= p.budget_bytes
    assert p.lower_bound_bytes is not None and p.lower_bound_bytes <= p.non_compulsory_bytes
    for name in BASELINES:
        b = plan(g, p.budget_bytes, planner=name)
        assert b.compulsory_bytes == p.compulsory_bytes
        assert p.non_compulsory_bytes <= b.non_compulsory_bytes, name


def test_minimum_peak_budget_moves_nothing_in_the_minimum_peak_order() -> None:
    g = LifetimeGraph.from_workload(pysim.zoo.load("resnet50"), include_weights=True)
    p = plan(g, "min_peak", order="min_peak")
    assert p.non_compulsory_bytes == 0 and p.proven_optimal
    assert plan(g, "min_peak").non_compulsory_bytes > 0  # the given order needs more


def test_traffic_counts_reloads_and_one_writeback() -> None:
    # a (4 B) is read at steps 1 and 3; at 10 B step 2 cannot hold it next to b and c
    ops = [("p0", [], "a"), ("p1", ["a"], "b"), ("p2", ["b"], "c"), ("p3", ["a", "c"], "d")]
    g = LifetimeGraph.from_edges("t", ops, {"a": 4, "b": 3, "c": 5, "d": 1})
    p = plan(g, 10)
    assert p.traffic.reload_bytes == 4 and p.traffic.writeback_bytes == 4
    assert p.compulsory_bytes == 1  # the output d, stored once
    ev = p.events
    assert list(ev.columns) == ["step", "op", "tensor", "action", "offset", "bytes",
                                "traffic_bytes"]
    assert set(ev.loc[ev.tensor == "a", "action"]) == {"alloc", "spill", "reload", "free"}
    assert ev.traffic_bytes.sum() == p.compulsory_bytes + p.non_compulsory_bytes
    assert plan(g, 12).non_compulsory_bytes == 0  # everything fits


def test_the_checker_refuses_broken_plans() -> None:
    ops = [("p0", ["x"], "a"), ("p1", ["a", "x"], "b")]
    g = LifetimeGraph.from_edges("t", ops, {"x": 2, "a": 2, "b": 2})
    tl = Timeline.of(g, (0, 1))
    good = [Piece("x", 0, 1, 0), Piece("a", 0, 1, 2), Piece("b", 1, 1, 4)]
    assert replay(tl, good, 6).non_compulsory_bytes == 0
    with pytest.raises(PlanInvalid, match="overlap"):
        replay(tl, [Piece("x", 0, 1, 0), Piece("a", 0, 1, 1), Piece("b", 1, 1, 4)], 6)
    with pytest.raises(PlanInvalid, match="exceeds the budget"):
        replay(tl, good, 5)
    with pytest.raises(PlanInvalid, match="not resident at step 1"):
        replay(tl, [Piece("x", 0, 0, 0), Piece("a", 0, 1, 2), Piece("b", 1, 1, 4)], 6)
    with pytest.raises(PlanInvalid, match="does not use it"):
        replay(tl, [*good[:2], Piece("b", 0, 1, 4)], 6)
    # x reloaded at step 1: clean, so a reload without a write-back
    split = [Piece("x", 0, 0, 0), Piece("x", 1, 1, 0), *good[1:]]
    assert replay(tl, split, 6).non_compulsory_bytes == 2
    assert replay(tl, split, 6).writeback_bytes == 0


def test_alignment_and_weights_change_sizes() -> None:
    wl = pysim.zoo.load("resnet18")
    plain = LifetimeGraph.from_workload(wl)
    aligned = LifetimeGraph.from_workload(wl, alignment=4096)
    weighted = LifetimeGraph.from_workload(wl, include_weights=True)
    assert all(t.bytes % 4096 == 0 for t in aligned.tensors.values())
    assert all(t.kind != "weight" for t in plain.tensors.values())
    assert sum(t.kind == "weight" for t in weighted.tensors.values()) > 0
    assert aligned.m_r()[0] >= plain.m_r()[0] and weighted.m_r()[0] > plain.m_r()[0]
    fc = weighted.tensors["fc.weight"]
    assert fc.raw_bytes == fc.bytes == 512 * 1000  # int8, at its real width


def test_min_peak_dp_matches_every_topological_order() -> None:
    for seed in range(25):
        g = random_graph(seed)
        n = len(g.ops)
        best = min(peak_bytes(g, o) for o in itertools.permutations(range(n))
                   if _topological(g, o))
        mp = min_peak_order(g)
        assert mp.exact and mp.peak_bytes == best == peak_bytes(g, mp.order)


def _topological(g: LifetimeGraph, order: tuple[int, ...]) -> bool:
    try:
        g.check_order([g.ops[i].name for i in order])
    except MemPlanError:
        return False
    return True


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), extra=st.integers(1, 8))
def test_a_bigger_budget_never_moves_more(seed: int, extra: int) -> None:
    g = random_graph(seed)
    lo = g.m_r()[0]
    small = plan(g, lo + random.Random(seed).randint(0, 4), time_limit_s=5)
    big = plan(g, small.budget_bytes + extra, time_limit_s=5)
    assert small.proven_optimal and big.proven_optimal
    assert big.non_compulsory_bytes <= small.non_compulsory_bytes


def test_plans_are_deterministic_and_compare_reports_reductions() -> None:
    g = CASES[2][1]
    a, b = plan(g, "mid", time_limit_s=2), plan(g, "mid", time_limit_s=2)
    assert a.pieces == b.pieces and a.order == b.order
    frame = compare(g, "mid", planners=["tflite_belady", "optimal"], time_limit_s=2)
    assert list(frame.planner) == ["tflite_belady", "optimal"]
    assert frame.reduction_pct.iloc[0] == 0.0 and frame.reduction_pct.iloc[1] >= 0.0


def test_budgets_name_the_reference_points() -> None:
    b = budgets(pysim.zoo.load("resnet18"))
    assert b.m_r <= b.mid <= b.min_peak <= b.given_peak and b.min_peak_exact
    # the stem ReLU reads and writes 112x112x64 int8: the largest single op
    assert (b.m_r_op, b.m_r) == ("relu", 2 * 112 * 112 * 64)
    assert b.resolve("mid") == b.mid


@pytest.mark.parametrize(("call", "message"), [
    (lambda g: plan(g, 10), "budget_bytes 10 is below M_R = 14: op 'p1'"),
    (lambda g: plan(g, 20, planner="gurobi"), "planner must be one of .*got 'gurobi'"),
    (lambda g: plan(g, 20, order="random"), "order must be one of .*got 'random'"),
    (lambda g: plan(g, 20, order=["p1", "p0"]), "not topological: op 'p1' comes before op 'p0'"),
    (lambda g: plan(g, 20, order=["p0"]), "order must list each of the 2 ops once"),
    (lambda g: plan(g, 20, time_limit_s=0), "time_limit_s must be a number > 0"),
    (lambda g: plan(g, "huge"), "budget_bytes must be an int or one of"),
    (lambda g: plan(g, 20.5), "budget_bytes must be an int"),
])
def test_bad_input_names_the_value_and_what_is_allowed(call, message) -> None:  # type: ignore[no-untyped-def]
    g = LifetimeGraph.from_edges("t", [("p0", ["x"], "a"), ("p1", ["a"], "b")],
                                 {"x": 4, "a": 6, "b": 8})
    with pytest.raises(MemPlanError, match=message):
        call(g)


def test_bad_graphs_are_refused() -> None:
    with pytest.raises(MemPlanError, match="size of tensor 'a' must be an int >= 0"):
        LifetimeGraph.from_edges("t", [("p0", [], "a")], {"a": -1})
    with pytest.raises(MemPlanError, match="the ops form a cycle"):
        LifetimeGraph.from_edges("t", [("p0", ["b"], "a"), ("p1", ["a"], "b")],
                                 {"a": 1, "b": 1})
    with pytest.raises(MemPlanError, match="alignment must be an int >= 1"):
        LifetimeGraph.from_edges("t", [("p0", [], "a")], {"a": 1}, alignment=0)
    with pytest.raises(MemPlanError, match="must be a pysim Workload"):
        plan("resnet50", 1 << 20)


def test_cli_and_plot(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")
    from pysim.cli import main
    from pysim.memplan.cli import parse_budget
    from pysim.memplan.plot import memory
    from pysim.plot import memory as plot_memory

    assert plot_memory is memory  # issue 13 names it pysim.plot.memory
    assert parse_budget("512KiB") == 512 * 1024 and parse_budget("mid") == "mid"
    assert main(["memplan", "resnet18", "--budget", "mid", "--planners",
                 "tflite_belady,optimal", "--time-limit", "2"]) == 0
    out = capsys.readouterr().out
    assert "tflite_belady" in out and "optimal" in out
    assert main(["memplan", "resnet18", "--budget", "1KiB"]) == 2
    assert "below M_R" in capsys.readouterr().err
    ops = [("p0", [], "a"), ("p1", ["a"], "b"), ("p2", ["b"], "c"), ("p3", ["a", "c"], "d")]
    p = plan(LifetimeGraph.from_edges("t", ops, {"a": 4, "b": 3, "c": 5, "d": 1}), 10)
    ax = memory(p, labels=True)
    assert len(ax.patches) == len(p.pieces) == 5  # a spilled once: two pieces
    ax.figure.savefig(tmp_path / "memory.png")
