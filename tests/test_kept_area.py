"""Addresses in the simulator's kept area (pysim/mapping/kept_area.py): the planned residency's
kept op outputs placed greedy by size (TFLite's offset planner), never overlapping, a stay cut
short where fragmentation leaves no gap, reported in ``Result.kept_area`` and drawn by
``pysim.plot.memory``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pysim
from pysim import _core
from pysim.errors import ConfigError
from pysim.mapping.kept_area import (
    ORDERS,
    PLACEMENTS,
    KeptBlock,
    Stay,
    _place_in,
    _place_in_reference,
    _StayArrays,
    best_fit,
    place,
)
from pysim.mapping.planned_residency import plan_residency_optimal

ROOT = Path(__file__).resolve().parents[1]


def stays_of(table: dict[str, tuple[int, int, tuple[int, ...]]]) -> list[Stay]:
    """Stays from tensor -> (bytes, first step, the last step of each gap)."""
    return [Stay(t, nbytes, first, ends) for t, (nbytes, first, ends) in table.items()]


def kept_by_name(kept: dict[Stay, int]) -> dict[str, int]:
    return {s.tensor: count for s, count in kept.items()}


def _check(blocks: list[KeptBlock], budget: int) -> None:
    for b in blocks:
        assert b.offset >= 0 and b.offset + b.nbytes <= budget, b
    for i, a in enumerate(blocks):
        for b in blocks[i + 1:]:
            overlap_t = a.first_step <= b.last_step and b.first_step <= a.last_step
            overlap_a = a.offset < b.offset + b.nbytes and b.offset < a.offset + a.nbytes
            assert not (overlap_t and overlap_a), (a, b)


def test_best_fit_takes_the_smallest_gap_that_holds_it() -> None:
    placed = [KeptBlock("a", 0, 10, 0, 5), KeptBlock("b", 30, 10, 0, 5),
              KeptBlock("c", 45, 5, 0, 5)]
    # gaps during 0..5: 10..30 (20 B), 40..45 (5 B), 50..100 (50 B)
    assert best_fit(placed, 2, 3, 5, 100) == 40
    assert best_fit(placed, 2, 3, 6, 100) == 10
    assert best_fit(placed, 2, 3, 21, 100) == 50
    assert best_fit(placed, 2, 3, 51, 100) is None
    assert best_fit(placed, 6, 9, 100, 100) == 0  # nothing else lives then


def test_fragmentation_cuts_a_stay_short_then_drops_it() -> None:
    # a (60 B) and b (40 B) fill a 100 B area during steps 0..3; c (50 B) arrives at 2 and
    # wants to stay through 6: b leaves at 3, a at 5, but never both together before 6 ...
    stays = stays_of({"a": (60, 0, (5,)), "b": (40, 0, (3,)), "c": (50, 2, (4, 6))})
    blocks, kept = _place_in(sorted(stays, key=ORDERS[0]), 100)
    _check(blocks, 100)
    # largest first: a at 0, c (50 B) overlaps a and b in time: the only gap above a is 40 B
    assert kept_by_name(kept) == {"a": 1, "c": 0, "b": 1}
    # the right-edge order places c first (its stay ends last) at 0, then b above it, and a
    # (60 B, alive with both) finds no room: 50 B x 2 gaps + 40 B kept beat 60 + 40
    blocks, kept = place(stays, 100)
    _check(blocks, 100)
    assert kept_by_name(kept) == {"a": 0, "b": 1, "c": 2}
    # with room to spare the whole stay is kept
    blocks, kept = place(stays, 150)
    _check(blocks, 150)
    assert kept_by_name(kept) == {"a": 1, "b": 1, "c": 2}


def test_a_reloaded_stay_is_a_block_of_its_own_at_its_own_address() -> None:
    # a stays 0..2, is read from DRAM at 5 and kept from 6 through 8 (a reload); b holds
    # the bottom of the area during 1..7, so a's second piece goes above it
    stays = [Stay("a", 30, 0, (2,)), Stay("a", 30, 6, (8,), gap=2), Stay("b", 40, 1, (7,))]
    blocks, kept = place(stays, 100)
    _check(blocks, 100)
    assert list(kept.values()) == [1, 1, 1]
    pieces = [b for b in blocks if b.tensor == "a"]
    assert [(b.first_step, b.last_step, b.reloaded) for b in pieces] == [(0, 2, False),
                                                                         (6, 8, True)]
    assert pieces[1].offset == 40


@settings(derandomize=True, database=None, deadline=None, max_examples=200)
@given(st.lists(st.tuples(st.integers(1, 64), st.integers(0, 20), st.integers(0, 6),
                          st.integers(1, 3)), min_size=1, max_size=14),
       st.integers(16, 200))
def test_placements_never_overlap_and_keep_a_prefix(raw, budget) -> None:
    stays = {}
    for i, (size, first, span, gaps) in enumerate(raw):
        ends = tuple(first + span + 2 * g for g in range(gaps))
        stays[f"t{i}"] = (size, first, ends)
    blocks, kept_stays = place(stays_of(stays), budget)
    kept = kept_by_name(kept_stays)
    _check(blocks, budget)
    by_tensor = {b.tensor: b for b in blocks}
    for t, (size, first, ends) in stays.items():
        assert 0 <= kept[t] <= len(ends)
        if kept[t]:
            b = by_tensor[t]
            assert (b.nbytes, b.first_step, b.last_step) == (size, first, ends[kept[t] - 1])
        else:
            assert t not in by_tensor
    assert place(stays_of(stays), budget) == (blocks, kept_stays)  # deterministic
    for order in ORDERS:  # the C++ placer is the Python reference's, block for block
        ordered = sorted(stays_of(stays), key=order)
        for lowest in (False, True):  # best fit, first fit
            assert _place_in(ordered, budget, lowest) == \
                _place_in_reference(ordered, budget, lowest)
    assert (blocks, kept_stays) == _best_of_reference(stays_of(stays), budget)


def _best_of_reference(stays: list[Stay], budget: int) -> tuple[list[KeptBlock], dict[Stay, int]]:
    """``place`` by the Python placer: the first of PLACEMENTS that keeps the most."""
    placed = [_place_in_reference(sorted(stays, key=order), budget, lowest)
              for order, lowest in PLACEMENTS]
    return max(placed, key=lambda p: sum(s.nbytes * count for s, count in p[1].items()))


def test_the_cpp_placer_refuses_bad_arguments_by_name() -> None:
    one = np.array([0], dtype=np.int64)
    with pytest.raises(ValueError, match="start must run from 0"):
        _core.place_stays(one, one, np.array([0, 2]), one, 10)
    with pytest.raises(ValueError, match="budget must be in 0..2\\^62"):
        _core.place_stays(one, one, np.array([0, 1]), one, -1)
    with pytest.raises(ValueError, match="nbytes must be in 0..2\\^62"):
        _core.place_stays(one, np.array([-5]), np.array([0, 1]), one, 10)
    with pytest.raises(ValueError, match="must be an integer array"):
        _core.place_stays(one, np.array([1.5]), np.array([0, 1]), one, 10)
    big = np.zeros(40_000, dtype=np.int64)
    with pytest.raises(ValueError, match="place_stays' work .* exceeds the limit of 2\\^30"):
        _core.place_stays(big, big, np.arange(40_001, dtype=np.int64), big, 10)


def test_greedy_by_size_misses_an_address_plan_that_another_order_finds() -> None:
    # An address plan exists (t1 and t2 at 0, t0 and t3 at 2), but largest-first puts t0 at
    # 0 and t1 at 2, then t2 at 0, and t3 (steps 2..5) meets t1 and then t2 at both
    # addresses: no gap holds it for its whole stay, so greedy by size drops it (its reader
    # reads DRAM). By first step (left-edge), t3 goes below t1 and t2 above it: all kept.
    stays = stays_of({"t0": (2, 0, (1,)), "t1": (2, 1, (4,)), "t2": (2, 5, (7,)),
                      "t3": (1, 2, (5,))})
    blocks, kept = _place_in(sorted(stays, key=ORDERS[0]), 4)
    _check(blocks, 4)
    assert kept_by_name(kept) == {"t0": 1, "t1": 1, "t2": 1, "t3": 0}
    blocks, kept = place(stays, 4)
    _check(blocks, 4)
    assert kept_by_name(kept) == {"t0": 1, "t1": 1, "t2": 1, "t3": 1}
    # where greedy by size keeps everything, it is the placement
    roomy = place(stays, 5)
    assert roomy == _place_in(sorted(stays, key=ORDERS[0]), 5) and len(roomy[0]) == 4


def test_the_planned_residency_reports_what_fragmentation_costs() -> None:
    # ResNet-50's int8 training graph on tpu_v1: its saved activations fragment the 6 MiB area
    from pysim.mapping.planned_residency import _steps
    from pysim.training.formats import get_recipe
    from pysim.training.graph import build_training_graph
    from pysim.training.optim import get_optimizer

    hw = pysim.load_hardware(ROOT / "configs" / "tpu_v1.yaml")
    wl = build_training_graph(pysim.zoo.load("resnet50", batchnorm=True), get_recipe("int8"),
                              {}, get_optimizer("adam")).workload
    budget = next(s for s in hw.scratchpads if "input" in s.holds).size_bytes // 4
    planned = plan_residency_optimal(wl, budget, 10.0)
    res = planned.residency
    assert res is not None
    _check(list(res.placement), budget)
    assert planned.bytes_between_ops > planned.aggregate_bytes
    assert f"{planned.bytes_between_ops - planned.aggregate_bytes:,} B more for fragmentation" \
        in planned.note
    for i, held in enumerate(res.resident_bytes_during):
        assert held == sum(b.nbytes for b in res.placement if b.first_step <= i <= b.last_step)
        assert held <= budget
    steps = _steps(wl)
    for b in res.placement:  # each block's last step reads it, and finds it on chip
        assert b.tensor in steps[b.last_step][1] and b.tensor in res.resident_inputs[b.last_step]


@pytest.mark.parametrize("config,model", [("edge_npu", "resnet18"), ("lowp_edge", "mobilenet_v2"),
                                          ("edge_npu", "bert_base")])
def test_the_result_lists_the_kept_area_and_the_engine_agrees(config: str, model: str) -> None:
    hw = pysim.load_hardware(ROOT / "configs" / f"{config}.yaml")
    res = pysim.simulate(hw, pysim.zoo.load(model))
    area = res.kept_area
    assert not area.empty
    budget = next(s for s in hw.scratchpads if "input" in s.holds).size_bytes // 4
    _check([KeptBlock(r.tensor, r.offset, r.bytes, r.first_step, r.last_step)
            for r in area.itertuples()], budget)
    ops = list(res.layers["op"])
    for r in area.itertuples():
        assert ops[r.first_step] == r.first_op and ops[r.last_step] == r.last_op
        # the last reader that finds it on chip reads none of it from DRAM
        assert r.tensor in res.layers["resident_inputs"].iloc[r.last_step]
    assert pysim.simulate(hw, pysim.zoo.load(model), memory_plan="fifo").kept_area.empty


def test_plot_memory_draws_a_result_and_refuses_fifo(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml")
    res = pysim.simulate(hw, pysim.zoo.load("resnet18"))
    ax = pysim.plot.memory(res, labels=True)
    assert len(ax.patches) == len(res.kept_area)
    ax.figure.savefig(tmp_path / "kept.png")
    assert (tmp_path / "kept.png").stat().st_size > 0
    fifo = pysim.simulate(hw, pysim.zoo.load("resnet18"), memory_plan="fifo")
    with pytest.raises(ConfigError, match="no kept area"):
        pysim.plot.memory(fifo)
    assert np.isfinite(area_top := float((res.kept_area["offset"] + res.kept_area["bytes"]).max()))
    assert area_top <= hw.scratchpads[0].size_bytes


def test_a_reload_is_a_stay_of_its_own_in_the_result_and_the_engine_reads_it_once() -> None:
    """The far-apart reader graph of tests/test_planned_residency.py at 64 KiB tensors on
    edge_npu (a 128 KiB kept area: two tensors): a is kept for b, read from DRAM by f, which
    keeps it for g (a reload, drawn green)."""
    from tests.test_planned_residency import far_apart

    wl = far_apart(256)
    t = wl.tensors["a"].bytes
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml")
    assert hw.scratchpads[0].size_bytes // 4 == 2 * t
    res = pysim.simulate(hw, wl)
    area = res.kept_area
    a = area[area.tensor == "a"]
    assert list(zip(a.first_op, a.last_op, a.spilled, a.reloaded, strict=True)) == [
        ("b", "b", True, False), ("g", "g", False, True)]
    layers = res.layers.set_index("op")
    assert layers.loc["f", "dram_read_bytes"] == t  # a, from DRAM (e is kept)
    assert layers.loc["g", "dram_read_bytes"] == 0  # a reloaded, f kept
    assert layers.loc["a", "dram_write_bytes"] == t  # its one write-back


def test_past_the_cpp_budget_the_python_placer_places_alike(
        monkeypatch: pytest.MonkeyPatch) -> None:
    stays = stays_of({"a": (60, 0, (5,)), "b": (40, 0, (3,)), "c": (50, 2, (4, 6))})
    fast = place(stays, 100)

    def refuse(*args: object) -> None:
        raise ValueError("place_stays' work (stays x gaps) = ... exceeds the limit of 2^30")

    monkeypatch.setattr(_core, "place_stays", refuse)
    assert place(stays, 100) == fast
    assert _place_in(stays, 100) == _place_in_reference(stays, 100)


@settings(derandomize=True, database=None, deadline=None, max_examples=300)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 3), st.sampled_from([1, 2, 8, 9]),
                          st.integers(0, 12), st.lists(st.integers(0, 9), min_size=1,
                                                       max_size=4)),
                max_size=16, unique_by=lambda r: r[:2]))
def test_the_placement_orders_in_numpy_are_the_keys_sorts(raw) -> None:
    # ties everywhere: few sizes and steps, several gaps of one tensor (reloads)
    stays = [Stay(f"t{t}", size, first, tuple(sorted({first + d for d in ends})), gap)
             for t, gap, size, first, ends in raw]
    arrays = _StayArrays.of(stays)
    for k, order in enumerate(ORDERS):
        assert arrays.sorted_by(k) == sorted(range(len(stays)), key=lambda i: order(stays[i]))
    assert arrays.sorted_by(-1) is None  # an order of its own: its key's sort


def test_the_placement_orders_fall_back_to_the_keys_past_int64() -> None:
    huge = 1 << 61  # bytes x steps past int64: the keys' own sort, the same placement
    stays = [Stay("a", huge, 0, (9,)), Stay("b", huge // 2, 1, (4,)), Stay("c", 3, 2, (8,))]
    assert _StayArrays.of(stays).sorted_by(3) is None
    blocks, kept = place(stays, huge)
    assert (blocks, kept) == _best_of_reference(stays, huge)


def test_the_cpp_placer_gives_up_once_it_has_lost_what_it_was_told() -> None:
    # a: 60 B over 2 gaps, b: 50 B over 1, in a 100 B area: b keeps only where a left room
    first, nbytes = np.array([0, 1], dtype=np.int64), np.array([60, 50], dtype=np.int64)
    start, ends = np.array([0, 2, 3], dtype=np.int64), np.array([4, 8, 6], dtype=np.int64)
    whole = _core.place_stays(first, nbytes, start, ends, 100)
    assert whole is not None
    assert whole[1].tolist() == [2, 0]  # b dropped: lost 50 B x 1 gap
    assert _core.place_stays(first, nbytes, start, ends, 100, give_up_at=50) is None
    again = _core.place_stays(first, nbytes, start, ends, 100, give_up_at=51)
    assert again is not None and [x.tolist() for x in again] == [x.tolist() for x in whole]
