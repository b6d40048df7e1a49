"""The keep / drop program's plan from its LP relaxation, rounded and repaired
(pysim/mapping/planned_residency.py: ``_round``, ``_improve``, the one branching in ``_solve``):
a repair never breaks the kept area nor keeps less, and a plan ``_solve`` calls proven is within
MIP_REL_GAP of the optimum found by brute force; on the zoo's training graphs that used to need
HiGHS's integer program it settles them alone, keeping what the integer program keeps within
the gap."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pysim
from pysim.mapping import planned_residency as pr

ROOT = Path(__file__).resolve().parents[1]


@st.composite
def graphs(draw: st.DrawFn) -> tuple[pr.Steps, frozenset[str], int]:
    """A random op order: each op reads 1-3 earlier outputs (or the graph input), its output
    1-8 units of 1 KiB; the kept area 2-8 units. The last op's output is the graph's."""
    n = draw(st.integers(4, 10))
    steps = []
    for i in range(n):
        earlier = [f"t{j}" for j in range(i)] or ["x"]
        ins = draw(st.lists(st.sampled_from(earlier), min_size=1, max_size=3, unique=True))
        steps.append((f"t{i}", tuple(ins), 1024 * draw(st.integers(1, 8))))
    return tuple(steps), frozenset({f"t{n - 1}"}), 1024 * draw(st.integers(2, 8))


def program(steps: pr.Steps, outputs: frozenset[str], budget: int) -> tuple[Any, ...] | None:
    """The arguments ``_plan`` hands ``_solve`` for this graph (None: it needs no program)."""
    seen = pr.captured_programs(lambda: pr._plan(steps, outputs, budget, 10.0))
    return seen[0] if seen else None


def fits(keep: np.ndarray, args: tuple[Any, ...]) -> bool:
    gaps, size, _, _, _, lo_of, hi_of, n, budget = args[:9]
    held = np.zeros(n + 1, dtype=np.int64)
    for k in np.flatnonzero(keep):
        held[lo_of[k]:hi_of[k] + 1] += int(size[k])
    return int(held.max()) <= budget


def kept(keep: np.ndarray, args: tuple[Any, ...]) -> float:
    gaps, _, save, whole, nbytes = args[:5]
    return pr._kept_bytes(keep, gaps, save, whole, nbytes)


def optimum(args: tuple[Any, ...]) -> float:
    """The program's optimum by trying every keep set."""
    g = len(args[0])
    return max(kept(np.array(bits, dtype=bool), args)
               for bits in itertools.product((False, True), repeat=g)
               if fits(np.array(bits, dtype=bool), args))


@settings(max_examples=150, deadline=None)
@given(graphs(), st.data())
def test_a_repair_keeps_the_area_and_never_keeps_less(graph: Any, data: st.DataObject) -> None:
    args = program(*graph)
    if args is None:
        return
    g = len(args[0])
    x = np.array(data.draw(st.lists(st.floats(0, 1), min_size=g, max_size=g)))
    gaps, size, save, whole, nbytes, lo_of, hi_of, n, budget = args[:9]
    rounded = pr._round(x, size, save, lo_of, hi_of, n, budget)
    assert fits(rounded, args)
    for extra in (0, 3, 64):
        repaired = pr._improve(rounded, x, gaps, size, save, whole, nbytes, lo_of, hi_of, n,
                               budget, extra=extra)
        assert fits(repaired, args)
        assert kept(repaired, args) >= kept(rounded, args)
    # past its deadline a repair makes no move
    late = pr._improve(rounded, x, gaps, size, save, whole, nbytes, lo_of, hi_of, n, budget,
                       extra=64, deadline=0.0)
    assert (late == rounded).all()


@settings(max_examples=120, deadline=None)
@given(graphs())
def test_a_plan_solve_calls_proven_is_within_the_gap_of_the_optimum(graph: Any) -> None:
    args = program(*graph)
    if args is None or len(args[0]) > 12:
        return
    keep, note = pr._solve(*args)
    assert keep is not None and fits(keep, args)
    best = optimum(args)
    assert kept(keep, args) <= best + 1e-6
    if "within" in note:
        assert best - kept(keep, args) <= pr.MIP_REL_GAP * best + 1e-6, note


def _program_of(hw: Any, model: str, recipe: str) -> tuple[Any, ...]:
    """The program of ``model``'s training step on ``hw``."""
    seen = pr.captured_programs(lambda: pysim.training.step(hw, model, "adam", recipe))
    assert len(seen) == 1
    return seen[0]


@pytest.mark.parametrize(("model", "how"), [
    ("resnet50", "bound branched on one gap, rounded and repaired"),  # bench_training's case
    ("resnet18", "bound branched on one gap, rounded and repaired"),
])
def test_training_graphs_settled_without_the_integer_program(model: str, how: str) -> None:
    """tpu_v1's int8 training graphs of ResNet-50 and ResNet-18 went to HiGHS's integer
    program (0.16 s and 0.08 s): the rounding kept 0.37 % and 0.29 % less than the relaxation's
    bound. Repaired (and for ResNet-50 branched once) the plan is proven, and keeps within
    MIP_REL_GAP of what the integer program keeps. (ResNet-18's was settled by the repair
    forcing in a gap its relaxation dropped, until the cover rows came one per stretch between
    their gaps' ends, not one per step: the same polytope, another vertex.)"""
    hw = pysim.load_hardware(ROOT / "configs" / "tpu_v1.yaml")
    args = _program_of(hw, model, "int8")
    keep, note = pr._solve(*args)
    assert keep is not None and note == f"within 0.1% of optimal (the LP relaxation's {how})"
    sol = pr.integer_program(args[:9], 30.0, pr.HIGHS_OPTIONS)
    assert sol.status == 0
    exact = kept(sol.x[:len(args[0])] > 0.5, args)
    assert abs(kept(keep, args) - exact) <= pr.MIP_REL_GAP * exact


@settings(max_examples=120, deadline=None)
@given(graphs())
def test_the_lifted_cover_rows_cut_off_no_plan(graph: Any) -> None:
    """The program with its cover rows (lifted: a gap larger than k / (k + 1) of the area counts
    k) solved exactly keeps what brute force's optimum keeps: the rows hold for every plan."""
    from pysim.milp import milp

    args = program(*graph)
    if args is None or len(args[0]) > 12:
        return
    gaps, size, save, whole, nbytes, lo_of, hi_of, n, budget = args[:9]
    p = pr._program(gaps, size, save, whole, nbytes, lo_of, hi_of, n, budget, covers=4)
    sol = milp(**p.milp_arguments(), options={"mip_rel_gap": 0.0, "presolve": False})
    assert sol.status == 0
    assert -sol.fun * p.unit == pytest.approx(optimum(args), rel=1e-9, abs=1e-6)


def test_the_time_limit_caps_the_solves_together(monkeypatch: pytest.MonkeyPatch) -> None:
    """``time_limit_s`` caps the relaxations and the integer program together: where the
    repairs spend it all, the repaired plan stands (it fits the area) and the note says so."""
    import time

    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml")
    args = _program_of(hw, "resnet18", "int8")  # the relaxation alone proves no plan
    improve = pr._improve

    def slow(*a: Any, **k: Any) -> Any:
        time.sleep(0.3)
        return improve(*a, **k)

    monkeypatch.setattr(pr, "_improve", slow)
    start = time.perf_counter()
    gaps, size, save, whole, nbytes, lo_of, hi_of, n, budget = args[:9]
    keep, note = pr._solve(gaps, size, save, whole, nbytes, lo_of, hi_of, n, budget, 0.2)
    assert note.startswith("time limit; the LP relaxation's plan"), note
    assert keep is not None and fits(keep, args)
    assert time.perf_counter() - start < 2.0  # no integer program after the cap


@settings(max_examples=150, deadline=None)
@given(graphs(), st.data())
def test_the_native_rounding_and_repair_are_the_references(graph: Any,
                                                           data: st.DataObject) -> None:
    """``_round`` / ``_improve`` (C++: ``_core.round_plan``, ``_core.repair_plan``) keep the
    gaps their NumPy references keep, for any relaxation values and starting plan."""
    args = program(*graph)
    if args is None:
        return
    gaps, size, save, whole, nbytes, lo_of, hi_of, n, budget = args[:9]
    g = len(gaps)
    x = np.array(data.draw(st.lists(st.sampled_from([0.0, 1e-7, 0.25, 0.5, 1.0]),
                                    min_size=g, max_size=g)))
    rounded = pr._round(x, size, save, lo_of, hi_of, n, budget)
    assert (rounded == pr._round_reference(x, size, save, lo_of, hi_of, n, budget)).all()
    start = np.array(data.draw(st.lists(st.booleans(), min_size=g, max_size=g)))
    for keep in (rounded, start):
        for extra in (0, 2, 64):
            same = (keep, x, gaps, size, save, whole, nbytes, lo_of, hi_of, n, budget)
            got = pr._improve(*same, extra=extra)
            assert (got == pr._improve_reference(*same, extra=extra)).all()


def test_the_native_repair_is_the_reference_on_a_zoo_graph() -> None:
    """tpu_v1's int8 ResNet-18 training graph (the rounding 0.29 % short of the bound; the
    extra repairs settle it): the same plans, rounded and repaired, in C++ as in NumPy."""
    hw = pysim.load_hardware(ROOT / "configs" / "tpu_v1.yaml")
    args = _program_of(hw, "resnet18", "int8")
    gaps, size, save, whole, nbytes, lo_of, hi_of, n, budget = args[:9]
    relaxed = pr._Relaxation(pr._program(gaps, size, save, whole, nbytes, lo_of, hi_of, n,
                                         budget, covers=pr.COVER_CLASSES)).solve(None, 30.0)
    assert relaxed is not None
    x = relaxed[0][:len(gaps)]
    rounded = pr._round(x, size, save, lo_of, hi_of, n, budget)
    assert (rounded == pr._round_reference(x, size, save, lo_of, hi_of, n, budget)).all()
    for extra in (0, pr.EXTRA_REPAIRS):
        same = (rounded, x, gaps, size, save, whole, nbytes, lo_of, hi_of, n, budget)
        got = pr._improve(*same, extra=extra)
        assert (got == pr._improve_reference(*same, extra=extra)).all()
        assert fits(got, args) and kept(got, args) >= kept(rounded, args)
    assert kept(got, args) > kept(rounded, args)  # the extra repairs' move


def test_the_native_plans_refuse_bad_arrays_by_name() -> None:
    from pysim import _core

    one, zero = np.ones(1, np.int64), np.zeros(1, np.int64)

    def table(**change: Any) -> dict[str, Any]:
        """One gap of a byte at step 0 of 1, owned by no tensor; ``change`` replaces fields."""
        return {"nbytes": one, "lo": zero, "hi": zero, "save": np.ones(1), "owner": zero,
                "w_bytes": np.zeros(1), "w_gaps": np.array([-1]), "steps": 1, **change}

    def refused(match: str, call: Any, **fields: Any) -> None:
        with pytest.raises(ValueError, match=match):
            call(**fields)

    def rounds(order: Any = zero, budget: int = 8, **change: Any) -> dict[str, Any]:
        return {**table(**change), "order": order, "budget": budget}

    refused("gap 0 spans steps 0..1; allowed: 0 <= lo <= hi < steps = 1", _core.round_plan,
            **rounds(hi=one))
    refused("order must be a permutation of 0..0", _core.round_plan, **rounds(order=one))
    refused("nbytes must be in 0..2\\^62, got -5", _core.round_plan,
            **rounds(nbytes=np.array([-5])))
    refused("owner must be in 0..0, got 3", _core.round_plan, **rounds(owner=np.array([3])))
    refused("budget must be in 0..2\\^62, got -1", _core.round_plan, **rounds(budget=-1))
    refused("steps must be in 1..2\\^24, got 0", _core.round_plan, **rounds(steps=0))
    refused("save has dtype complex128; allowed kinds: fiu", _core.round_plan,
            **rounds(save=np.ones(1, complex)))
    keep = np.ones(1, bool)

    def repairs(keep: Any = keep, extra: int = 0, seconds: float = 1.0) -> dict[str, Any]:
        return {**rounds(), "keep": keep, "positive": np.ones(1, bool), "extra": extra,
                "passes": 3, "seconds": seconds}

    refused("seconds must not be NaN", _core.repair_plan, **repairs(seconds=float("nan")))
    refused("keep must be 1-D of length 1, got shape \\(2,\\)", _core.repair_plan,
            **repairs(keep=np.ones(2, bool)))
    refused("extra and passes must be >= 0", _core.repair_plan, **repairs(extra=-1))
