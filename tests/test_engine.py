"""The SimPy engine (``pysim.engine.run_plans``) against hand-computed timelines: compute-only
ops, DRAM-bound ops with one and two steps (double buffered or not), concurrency across units,
serialisation on one unit, dependencies, the shared DRAM bus and the event count per op.

Notation: R / W bytes read / written by an op, S steps, bpc the bus's bytes per cycle, lat the
access latency in cycles per transfer, C the op's compute cycles. Per step: a load takes
L = lat + R/S/bpc, a compute c = C/S, a store T = lat + W/S/bpc.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pysim.engine import OpTiming, StepPlan, run_plans


def plan(name="op", unit="u", deps=(), steps=1, compute=0.0, read=0, write=0, db=True):
    return StepPlan(name=name, unit=unit, deps=deps, steps=steps, compute_cycles=compute,
                    read_bytes=read, write_bytes=write, double_buffered=db)


def one(p: StepPlan, bpc: float = 4.0, lat: float = 10.0) -> OpTiming:
    (t,) = run_plans([p], bpc, lat)
    return t


@pytest.mark.parametrize("steps", [1, 2, 5, 16])
def test_compute_only_op_takes_its_compute_cycles(steps):
    t = one(plan(steps=steps, compute=1600.0))
    assert t.start_cycle == 0
    assert t.end_cycle == pytest.approx(1600.0)
    assert t.cycles == pytest.approx(1600.0)
    assert t.stall_cycles == pytest.approx(0.0, abs=1e-9)
    assert t.dram_busy_cycles == 0


def test_one_step_is_load_then_compute_then_store():
    # S = 1: nothing overlaps.  load [0, 10 + 400/4 = 110), compute [110, 160),
    # store [160, 160 + 10 + 200/4 = 220).
    t = one(plan(steps=1, compute=50.0, read=400, write=200), bpc=4.0, lat=10.0)
    assert t.end_cycle == pytest.approx(220.0)
    assert t.dram_busy_cycles == pytest.approx(110.0 + 60.0)
    assert t.stall_cycles == pytest.approx(170.0)


def test_two_steps_double_buffered_dram_bound():
    # R = 800, W = 400, S = 2, bpc = 4, lat = 10, C = 60:
    # L = 10 + 400/4 = 110, T = 10 + 200/4 = 60, c = 30 (c <= L, c <= T: DRAM bound).
    #   bus:     load1 [0, 110)  load2 [110, 220)  store1 [220, 280)  store2 [280, 340)
    #   compute:                 c1 [110, 140)     c2 [220, 250)
    # store1 is ready at 140 but waits for the bus until load2 is done (220); store2 is ready
    # at 250 and waits for store1 (280). End = 2L + 2T = 340 = 4 lat + (R + W) / bpc.
    t = one(plan(steps=2, compute=60.0, read=800, write=400), bpc=4.0, lat=10.0)
    assert t.end_cycle == pytest.approx(340.0)
    assert t.dram_busy_cycles == pytest.approx(340.0)  # the bus never idles


def test_two_steps_double_buffered_compute_bound():
    # R = 80, W = 40, S = 2, bpc = 4, lat = 10, C = 400: L = 20, T = 15, c = 200.
    #   bus:     load1 [0, 20) load2 [20, 40)  ...  store1 [220, 235)  ...  store2 [420, 435)
    #   compute:        c1 [20, 220)               c2 [220, 420)
    # The second load hides under c1, store1 under c2: End = L + 2c + T = 435.
    t = one(plan(steps=2, compute=400.0, read=80, write=40), bpc=4.0, lat=10.0)
    assert t.end_cycle == pytest.approx(435.0)
    assert t.stall_cycles == pytest.approx(35.0)


def test_two_steps_single_buffered_serialise_load_and_compute():
    # One buffer half: load2 may start only once c1 has freed it. R = 800, W = 0, C = 60,
    # L = 110, c = 30: load1 [0, 110), c1 [110, 140), load2 [140, 250), c2 [250, 280).
    t = one(plan(steps=2, compute=60.0, read=800, write=0, db=False), bpc=4.0, lat=10.0)
    assert t.end_cycle == pytest.approx(280.0)
    # Double buffered, load2 overlaps c1: load1 [0, 110), load2 [110, 220), c2 [220, 250).
    t2 = one(plan(steps=2, compute=60.0, read=800, write=0, db=True), bpc=4.0, lat=10.0)
    assert t2.end_cycle == pytest.approx(250.0)


@pytest.mark.parametrize("steps", [1, 3, 16])
def test_dram_bound_duration_formula(steps):
    # No compute, reads only: each step is one bus transfer, back to back.
    t = one(plan(steps=steps, compute=0.0, read=4800), bpc=8.0, lat=7.0)
    assert t.end_cycle == pytest.approx(steps * (7.0 + 4800 / steps / 8.0))


def test_ops_on_different_units_run_concurrently():
    a = plan("a", unit="mac", compute=100.0)
    b = plan("b", unit="vec", compute=80.0)
    ta, tb = run_plans([a, b], 4.0, 10.0)
    assert (ta.start_cycle, ta.end_cycle) == pytest.approx((0.0, 100.0))
    assert (tb.start_cycle, tb.end_cycle) == pytest.approx((0.0, 80.0))
    assert max(ta.start_cycle, tb.start_cycle) < min(ta.end_cycle, tb.end_cycle)  # overlap


def test_ops_on_the_same_unit_serialise():
    a = plan("a", unit="mac", compute=100.0)
    b = plan("b", unit="mac", compute=80.0)
    ta, tb = run_plans([a, b], 4.0, 10.0)
    assert (ta.start_cycle, ta.end_cycle) == pytest.approx((0.0, 100.0))
    assert (tb.start_cycle, tb.end_cycle) == pytest.approx((100.0, 180.0))


def test_dependencies_respected_across_units():
    # c depends on a and b (on other units); d on c; e is independent.
    plans = [
        plan("a", unit="mac", compute=100.0),
        plan("b", unit="vec", compute=150.0, read=400),
        plan("c", unit="vec2", deps=(0, 1), compute=50.0),
        plan("d", unit="mac", deps=(2,), compute=10.0, write=40),
        plan("e", unit="vec3", compute=5.0),
    ]
    ta, tb, tc, td, te = run_plans(plans, 4.0, 10.0)
    assert tb.end_cycle == pytest.approx(10.0 + 100.0 + 150.0)
    assert tc.start_cycle == pytest.approx(max(ta.end_cycle, tb.end_cycle))
    assert td.start_cycle == pytest.approx(tc.end_cycle)
    assert td.end_cycle == pytest.approx(tc.end_cycle + 10.0 + 10.0 + 10.0)
    assert te.start_cycle == 0


def test_read_and_write_share_the_dram_bus():
    # Two concurrent ops on different units: a only reads, b only writes, no compute.
    # Each needs 10 + 1000/4 = 260 bus cycles; with one bus they cannot overlap.
    plans = [plan("a", unit="u1", read=1000), plan("b", unit="u2", write=1000)]
    ta, tb = run_plans(plans, 4.0, 10.0)
    wall = max(ta.end_cycle, tb.end_cycle)
    busy = ta.dram_busy_cycles + tb.dram_busy_cycles
    assert busy == pytest.approx(520.0)
    assert wall == pytest.approx(520.0)
    assert busy <= wall + 1e-9


def test_bus_busy_never_exceeds_wall_time_with_many_ops():
    plans = [
        plan(f"op{i}", unit=f"u{i % 3}", deps=(i - 3,) if i >= 3 else (), steps=1 + i % 5,
             compute=37.0 * (i + 1), read=512 * (i % 4), write=256 * (i % 3))
        for i in range(12)
    ]
    timings = run_plans(plans, [2.0 + i % 3 for i in range(12)], [5.0] * 12)
    wall = max(t.end_cycle for t in timings)
    busy = sum(t.dram_busy_cycles for t in timings)
    assert 0 < busy <= wall + 1e-9
    # Each op's bus time is its bytes over its bandwidth plus one latency per transfer.
    for p, t, bpc in zip(plans, timings, [2.0 + i % 3 for i in range(12)], strict=True):
        transfers = p.steps * ((p.read_bytes > 0) + (p.write_bytes > 0))
        assert t.dram_busy_cycles == pytest.approx(
            (p.read_bytes + p.write_bytes) / bpc + 5.0 * transfers)
        assert t.cycles >= t.dram_busy_cycles - 1e-9
        assert t.cycles >= p.compute_cycles - 1e-9


@pytest.mark.parametrize("steps", [1, 2, 8, 16])
def test_events_reported_and_bounded(steps):
    t = one(plan(steps=steps, compute=1000.0, read=4096, write=2048))
    assert 0 < t.events < 400
    idle = one(plan(steps=steps, compute=1000.0))
    assert 0 < idle.events <= t.events


def test_zero_steps_is_an_error_naming_the_op():
    with pytest.raises(ValueError, match="bad_op"):
        run_plans([plan("bad_op", steps=0)], 1.0, 1.0)


def test_next_ops_weights_load_while_the_current_op_computes():
    # a computes 1000 cycles; b (same unit, after a) reads 400 B of weights (10 + 100 cycles
    # on the bus). The weights load during a's compute: b computes [1000, 1050).
    a = plan("a", unit="mac", compute=1000.0)
    b = StepPlan(name="b", unit="mac", deps=(0,), steps=1, compute_cycles=50.0, read_bytes=400,
                 write_bytes=0, prefetch_read_bytes=400)
    ta, tb = run_plans([a, b], 4.0, 10.0)
    assert ta.end_cycle == pytest.approx(1000.0)
    assert (tb.start_cycle, tb.end_cycle) == pytest.approx((1000.0, 1050.0))
    assert tb.stall_cycles == pytest.approx(0.0)
    # Bytes a producer writes wait for it: load [1000, 1110), compute [1110, 1160).
    dependent = StepPlan(name="b", unit="mac", deps=(0,), steps=1, compute_cycles=50.0,
                         read_bytes=400, write_bytes=0)
    _, tb = run_plans([a, dependent], 4.0, 10.0)
    assert tb.end_cycle == pytest.approx(1160.0)
    # Half and half: 200 B early [0, 60), 200 B after a [1000, 1060), compute to 1110.
    half = StepPlan(name="b", unit="mac", deps=(0,), steps=1, compute_cycles=50.0,
                    read_bytes=400, write_bytes=0, prefetch_read_bytes=200)
    _, tb = run_plans([a, half], 4.0, 10.0)
    assert tb.end_cycle == pytest.approx(1110.0)


def test_a_demand_load_preempts_a_prefetch_and_the_prefetch_resumes():
    # a (unit u1) loads 4 steps of 400 B (110 cycles each), computing 200 per step; c (u2,
    # after a) prefetches 4000 B of weights (1010 cycles), asked at cycle 0. a's loads run
    # [0, 110), [110, 220), [310, 420), [510, 620) as if alone: each asks as a half frees
    # (0, 110, 310, 510) and preempts the prefetch, which has the bus in between (220-310,
    # 420-510) and from 620 on, its 1010 cycles of bus time all counted.
    a = plan("a", unit="u1", steps=4, compute=800.0, read=1600)
    c = StepPlan(name="c", unit="u2", deps=(0,), steps=1, compute_cycles=10.0,
                 read_bytes=4000, write_bytes=0, prefetch_read_bytes=4000)
    alone = one(a)
    ta, tc = run_plans([a, c], 4.0, 10.0)
    assert ta.end_cycle == pytest.approx(alone.end_cycle)
    assert tc.dram_busy_cycles == pytest.approx(10.0 + 4000 / 4.0)
    # the bus was never idle while the prefetch waited: a's 4 loads + c's prefetch, back to
    # back (440 + 1010 cycles), then c computes 10
    assert tc.end_cycle == pytest.approx(4 * 110.0 + 1010.0 + 10.0)
    # traced, the prefetch is several read intervals whose bytes add up to its 4000
    _, tc = run_plans([a, c], 4.0, 10.0, record=True)
    reads = [iv for iv in tc.intervals if iv.kind == "read"]
    assert len(reads) > 1 and sum(iv.nbytes for iv in reads) == pytest.approx(4000.0)


def test_the_pipeline_runs_on_across_ops_on_one_unit():
    # Two independent DRAM-bound ops on one unit, 2 steps each: the second op's first load
    # follows the first op's last load on the bus without waiting for its stores to drain.
    a = plan("a", unit="mac", steps=2, compute=20.0, read=800)
    b = StepPlan(name="b", unit="mac", deps=(), steps=2, compute_cycles=20.0, read_bytes=800,
                 write_bytes=0, prefetch_read_bytes=800)
    ta, tb = run_plans([a, b], 4.0, 10.0)
    # Loads of 110 cycles back to back: a [0, 220), b [220, 440); b's last compute ends 450.
    assert tb.end_cycle == pytest.approx(450.0)
    assert tb.end_cycle == pytest.approx(4 * 110.0 + 10.0)


def test_the_mapper_schedule_is_the_engine_schedule():
    # csrc/mapping/search.cpp scores tilings with the engine's schedule of one op: equal to the
    # SimPy engine on random ops, and its lower bound never above it.
    import random

    from pysim import _core

    rng = random.Random(7)
    for _ in range(500):
        steps = rng.choice([1, 2, 3, 5, 8, 16])
        compute = rng.choice([0.0, rng.uniform(0, 2000)])
        read, write = (rng.choice([0, rng.randint(1, 20000)]) for _ in range(2))
        bpc, lat = rng.uniform(0.5, 64), rng.choice([0.0, rng.uniform(0, 30)])
        db = rng.random() < 0.8
        (t,) = run_plans([plan(steps=steps, compute=compute, read=read, write=write, db=db)],
                         bpc, lat)
        r = read / bpc + lat * steps if read else 0.0
        w = write / bpc + lat * steps if write else 0.0
        assert _core.op_pipeline_cycles(steps, compute, r, w, 2 if db else 1) == pytest.approx(
            t.end_cycle)
        assert _core.op_pipeline_lower_bound(steps, compute, r, w) <= t.end_cycle * (1 + 1e-9)


@pytest.mark.parametrize(("args", "message"), [
    ((0, 1.0, 1.0, 1.0, 2), "steps must be in 1..4096"),
    ((2, 1.0, 1.0, 1.0, 3), "halves must be 1 or 2"),
    ((2, float("nan"), 1.0, 1.0, 2), "finite and >= 0"),
    ((2, 1.0, -1.0, 1.0, 2), "finite and >= 0"),
])
def test_the_cpp_schedule_refuses_bad_input(args, message):
    from pysim import _core

    with pytest.raises(ValueError, match=message):
        _core.op_pipeline_cycles(*args)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.floats(0, 500), st.integers(0, 3)),
                min_size=1, max_size=12), st.booleans())
def test_a_run_of_kernels_times_as_the_reader_computer_writer_chain(ops, db):
    """A run whose ops move no bytes (a GPU's kernels) takes one process an op; its times equal
    those of the three-channel chain, which the run takes once any op moves bytes (here an op
    on a unit of its own, which no kernel waits for: only the bus could tie them, and kernels
    do not use it)."""
    plans = [plan(f"k{i}", f"s{q}", deps=tuple(sorted({i - 1 - b for b in range(back)
                                                       if i - 1 - b >= 0})), compute=c,
                  db=db)
             for i, (q, c, back) in enumerate(ops)]
    fast = run_plans(plans, 4.0, 10.0, record=True)
    chain = run_plans(plans + [plan("dma", "other", read=4000, write=400, steps=3,
                                     compute=50.0)], 4.0, 10.0, record=True)[:-1]
    for f, c in zip(fast, chain, strict=True):
        assert (f.start_cycle, f.end_cycle, f.compute_cycles) == \
            (c.start_cycle, c.end_cycle, c.compute_cycles)
        assert [i[1:5] for i in f.intervals] == \
            [i[1:5] for i in c.intervals if i.kind == "compute"]
        assert f.events <= c.events
