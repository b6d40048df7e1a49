"""Physical properties of ``pysim.simulate`` over random hardware and random small workloads.

Hardware: one of the shipped configs with random overrides (scratchpad sizes, DRAM bandwidth,
DRAM timing tRCD / tRP / tCL, the first unit's rows / cols, the clock). Workloads: a zoo GEMM
of random M / N / K, or a small random CNN (conv, ReLU, conv, residual add, max pool, global
average pool, classifier) built with the workload API. Every case is plain data (``Case``),
so a failure prints a runnable counterexample: ``_simulate(Case(...))``.

Properties (hypothesis, derandomised):

(a) monotonicity: doubling a scratchpad, raising the DRAM bandwidth, lowering tRCD / tRP / tCL
    or adding arrays never makes ``latency_cycles`` larger than ``LATENCY_TIE`` (the latency
    objective's tie width), enlarging the array (rows or cols) never by more than the fill
    and drain it adds to each fold; doubling a scratchpad or raising the
    bandwidth never increases DRAM bytes when the mapper's objective is ``traffic``;
(b) energy adds up: ``energy_j`` is the sum of ``energy_breakdown_j`` and the per-op energies
    in ``layers`` sum to the total less leakage (per component too);
(c) DRAM bytes >= compulsory bytes, in total, per op and per tensor (``Result.tensors``, whose
    rows sum to the totals);
(d) latency >= every bound: ops on one unit compute one after another (the engine's compute
    channel of a unit runs its ops' steps in order), so latency >= max over units of the sum
    of that unit's ops' compute cycles; all transfers share one DRAM bus at an achieved rate
    <= the configured bandwidth: latency >= total DRAM bytes / (bandwidth in bytes per cycle).

A larger array (rows or cols) may add its longer fill and drain to every fold (SCALE-Sim's
timing: physics, not a mapping loss), so it is never slower by more than that; more arrays side
by side are never slower at all. Faster DRAM timings are never slower: the engine charges
refresh at its expected cost (tests/test_dram_stream_efficiency.py), not where a deadline
falls in its sample stream. Set PYSIM_PROPERTY_EXAMPLES for a longer search.
"""

from __future__ import annotations

import math
import os
from functools import cache
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

import pysim
from pysim import zoo
from pysim.energy import ON_CHIP, RUN_COMPONENTS
from pysim.errors import ConfigError
from pysim.mapping.tiling import LATENCY_TIE
from pysim.workload import workload_from_dict

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ("edge_npu", "tpu_v1", "eyeriss", "lowp_edge")
# The latency objective treats latencies within LATENCY_TIE as ties (energy decides), so
# more resources are never slower by more than that.
REL = LATENCY_TIE

# PYSIM_PROPERTY_EXAMPLES raises the example count for a longer local search.
EXAMPLES = int(os.environ.get("PYSIM_PROPERTY_EXAMPLES", "100"))
SETTINGS = settings(derandomize=True, database=None, deadline=None, max_examples=EXAMPLES,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


class Case(NamedTuple):
    """A hardware (config + overrides, as sorted (path, value) pairs) and a workload:
    ("gemm", m, n, k) or ("cnn", size, in_c, out_c, kernel, stride)."""

    config: str
    overrides: tuple[tuple[str, float], ...]
    workload: tuple


# -- building and simulating ------------------------------------------------------------------


@cache
def _base(config: str) -> pysim.Hardware:
    return pysim.load_hardware(ROOT / "configs" / f"{config}.yaml")


@cache
def _hardware(config: str, overrides: tuple[tuple[str, float], ...]) -> pysim.Hardware:
    return _base(config).with_overrides(dict(overrides)) if overrides else _base(config)


def _cnn(size: int, in_c: int, out_c: int, kernel: int, stride: int) -> pysim.Workload:
    pad = kernel // 2
    out = (size + 2 * pad - kernel) // stride + 1
    shape = [1, out, out, out_c]
    return workload_from_dict({
        "name": "small_cnn",
        "inputs": [{"name": "image", "shape": [1, size, size, in_c]}],
        "ops": [
            {"name": "c1", "type": "conv2d", "inputs": ["image"], "in_h": size, "in_w": size,
             "in_c": in_c, "out_c": out_c, "kernel": kernel, "stride": stride, "padding": pad,
             "bias": True},
            {"name": "r1", "type": "elementwise", "op": "relu", "inputs": ["c1"], "shape": shape},
            {"name": "c2", "type": "conv2d", "inputs": ["r1"], "in_h": out, "in_w": out,
             "in_c": out_c, "out_c": out_c, "kernel": 3, "padding": 1, "bias": True},
            {"name": "add", "type": "elementwise", "op": "add", "inputs": ["c2", "r1"],
             "shape": shape},
            {"name": "pool", "type": "pool", "mode": "max", "inputs": ["add"], "in_h": out,
             "in_w": out, "channels": out_c, "kernel": 2},
            {"name": "gap", "type": "pool", "mode": "avg", "global_pool": True,
             "inputs": ["pool"], "in_h": out // 2, "in_w": out // 2, "channels": out_c},
            {"name": "fc", "type": "linear", "inputs": ["gap"], "m": 1, "n": 10, "k": out_c,
             "bias": True},
        ],
    })


@cache
def _workload(spec: tuple) -> pysim.Workload:
    kind, *args = spec
    if kind == "gemm":
        m, n, k = args
        return zoo.load("gemm", m=m, n=n, k=k, bits=8)
    return _cnn(*args)


@cache
def _simulate(case: Case) -> pysim.Result:
    return pysim.simulate(_hardware(case.config, case.overrides), _workload(case.workload))


def _run(case: Case) -> pysim.Result:
    """Simulate, rejecting the example (hypothesis ``assume``) if its tiles fit nowhere."""
    try:
        return _simulate(case)
    except ConfigError:
        assume(False)
        raise  # unreachable


def _with(case: Case, **changes: float | str) -> Case:
    """The case with some overrides set (keeps them sorted, so equal cases compare equal)."""
    merged = dict(case.overrides)
    merged.update(changes)
    return case._replace(overrides=tuple(sorted(merged.items())))


def _hw(case: Case) -> pysim.Hardware:
    return _hardware(case.config, case.overrides)


# -- strategies -------------------------------------------------------------------------------

GEMMS = st.tuples(st.just("gemm"), st.integers(1, 160), st.integers(1, 160),
                  st.integers(1, 160))


@st.composite
def _cnns(draw) -> tuple:
    kernel = draw(st.sampled_from([1, 3, 5]))
    stride = draw(st.integers(1, 2))
    size = draw(st.integers(2 * stride + 2, 16))
    return ("cnn", size, draw(st.integers(1, 16)), draw(st.integers(1, 32)), kernel, stride)


WORKLOADS = st.one_of(GEMMS, _cnns())


@st.composite
def cases(draw, workloads=WORKLOADS) -> Case:
    """A shipped config with random overrides (each may be left out, so shrinking drops the
    ones a failure does not need) and a random small workload."""
    config = draw(st.sampled_from(CONFIGS))
    hw = _base(config)
    out: dict[str, float | str] = {}

    def maybe(path: str, strategy) -> None:
        value = draw(st.one_of(st.none(), strategy))
        if value is not None:
            out[path] = value

    maybe("clock_ghz", st.integers(1, 20).map(lambda x: x / 10))
    for i, s in enumerate(hw.scratchpads):
        row = s.banks * s.word_bytes  # sizes must be whole rows of banks x words
        lo, hi = max(1, 2048 // row), max(2, 262144 // row)
        maybe(f"scratchpads.{i}.size_kib", st.integers(lo, hi).map(lambda x, r=row: x * r / 1024))
    peak = hw.dram.peak_bandwidth_gb_per_s
    maybe("dram.bandwidth_gb_per_s", st.integers(1, 100).map(lambda x: round(peak * x / 100, 6)))
    for t in ("t_rcd_ns", "t_rp_ns", "t_cl_ns"):
        maybe(f"dram.{t}", st.integers(1, 60).map(float))
    if out.get("dram.t_rcd_ns", 0) > hw.dram.t_ras_ns:
        out["dram.t_ras_ns"] = out["dram.t_rcd_ns"]  # validation: tRAS >= tRCD
    maybe("units.0.rows", st.integers(1, 64))
    maybe("units.0.cols", st.integers(1, 64))
    maybe("units.0.arrays", st.integers(1, 4))  # unit 0 is a systolic array in every config
    maybe("units.0.pe_weights", st.integers(1, 16))
    maybe("units.0.dataflow", st.sampled_from(["os", "ws", "is", "rs"]))
    return Case(config, tuple(sorted(out.items())), draw(workloads))


def _no_larger(new: float, old: float) -> bool:
    return new <= old * (1 + REL)


def _assert_no_larger(what: str, base: Case, changed: Case) -> None:
    """``what`` (a Result attribute) of ``changed`` is no larger than of ``base``."""
    old, new = getattr(_run(base), what), getattr(_run(changed), what)
    assert _no_larger(new, old), _explain(what, base, changed, old, new)


def _explain(what: str, base: Case, changed: Case, old: float, new: float) -> str:
    return (f"{what}: {old} -> {new}\n  base:    _simulate({base!r})\n"
            f"  changed: _simulate({changed!r})")


# -- (a) monotonicity -------------------------------------------------------------------------


# Known counterexamples, pinned as expected failures (their reasons are on the examples) and
# kept out of generation, which would find them again.
PINNED_GRAIN = Case("eyeriss", (("scratchpads.1.size_kib", 1.96875), ("units.0.dataflow", "ws")),
                    ("gemm", 1, 73, 80))
PINNED_ROUNDING = Case("edge_npu", (("scratchpads.0.size_kib", 2.0), ("units.0.cols", 5)),
                       ("gemm", 10, 41, 34))
PINNED_ROUNDING_K = Case("edge_npu", (("clock_ghz", 0.1), ("scratchpads.0.size_kib", 8.5),
                                      ("units.0.rows", 24)), ("gemm", 23, 32, 33))
PINNED_CONTEXT = Case("lowp_edge", (("dram.t_rp_ns", 1.0), ("scratchpads.0.size_kib", 2.25),
                                    ("units.0.dataflow", "rs")), ("cnn", 7, 9, 12, 3, 2))


def _doubled_scratchpad(case: Case, spad: int) -> Case:
    """The case with scratchpad ``spad`` (modulo their count) twice as large."""
    hw = _hw(case)
    i = spad % len(hw.scratchpads)
    return _with(case, **{f"scratchpads.{i}.size_kib": hw.scratchpads[i].size_kib * 2})


# ``pinned`` (never drawn: st.just leaves the example stream as it was) marks a pinned
# example, which runs (and fails, as its xfail expects) where a drawn case equal to it is
# rejected: an ``assume`` alone would skip the pinned example too, and its xfail with it.
PINNED = st.just(False)


@SETTINGS
@given(case=cases(), spad=st.integers(0, 2), pinned=PINNED)
@example(case=Case("lowp_edge", (("scratchpads.0.size_kib", 8.25),), ("gemm", 33, 27, 21)),
         spad=0, pinned=False)  # 387 -> 390 cycles: tile 32x27x21 (2 steps) -> 33x27x21 (1)
@example(case=Case("lowp_edge", (("scratchpads.1.size_kib", 2.0), ("units.0.rows", 54)),
                   ("cnn", 4, 1, 18, 1, 1)),
         spad=1, pinned=False)  # 1145 -> 1147 while the search priced c2's output write, kept
# on chip
@example(case=PINNED_CONTEXT, spad=0, pinned=True).xfail(raises=AssertionError, reason=(
    "966 -> 968: with room for it, c1 takes 81-deep K tiles (457.7 cycles alone, against "
    "458.2), whose DRAM-bound loads end 2.2 cycles later, and c2's loads wait for them (the "
    "read channel serves ops in order): an op timed alone, not in the run"))
def test_larger_scratchpad_never_slower(case, spad, pinned):
    assume(pinned or case != PINNED_CONTEXT)  # the pinned example; generation looks elsewhere
    bigger = _doubled_scratchpad(case, spad)
    _assert_no_larger("latency_cycles", case, bigger)


@SETTINGS
@given(case=cases(), spad=st.integers(0, 2))
@example(case=Case("eyeriss", (("scratchpads.1.size_kib", 1.96875),),
                   ("cnn", 13, 12, 7, 5, 1)),
         spad=1)  # 4865 -> 5462 B: conv c1 tile 169x7x150 -> 96x7x300, halo re-reads
@example(case=Case("edge_npu", (("scratchpads.0.size_kib", 2.0),), ("cnn", 15, 1, 7, 1, 2)),
         spad=0)  # 1662 -> 4414 B: c2's kept output still wrote its 4-column tiles' bursts
def test_larger_scratchpad_never_more_dram_traffic_under_traffic_objective(case, spad):
    case = _with(case, **{"mapper.objective": "traffic"})  # the search minimises DRAM bytes
    bigger = _doubled_scratchpad(case, spad)
    _assert_no_larger("dram_bytes", case, bigger)


@SETTINGS
@given(case=cases(), share=st.integers(1, 100))
def test_more_dram_bandwidth_never_slower_nor_more_traffic(case, share):
    """``share``: the percentage of the headroom up to the pin bandwidth added."""
    hw = _hw(case)
    bw, peak = hw.dram.bandwidth_gb_per_s, hw.dram.peak_bandwidth_gb_per_s
    faster = _with(case, **{"dram.bandwidth_gb_per_s": min(peak, bw + (peak - bw) * share / 100)})
    assume(_hw(faster).dram.bandwidth_gb_per_s > bw)
    _assert_no_larger("latency_cycles", case, faster)
    # Under the latency objective more bandwidth may buy time with bytes; under the traffic
    # objective the mapping does not depend on bandwidth at all.
    case, faster = (_with(c, **{"mapper.objective": "traffic"}) for c in (case, faster))
    _assert_no_larger("dram_bytes", case, faster)


@SETTINGS
@given(case=cases(), names=st.sets(st.sampled_from(["t_rcd_ns", "t_rp_ns", "t_cl_ns"]),
                                   min_size=1), tenths=st.integers(1, 9))
@example(case=Case("edge_npu", (("dram.t_rcd_ns", 1.0), ("dram.t_rp_ns", 1.0)),
                   ("gemm", 37, 2, 112)),
         names={"t_rp_ns"}, tenths=1)  # was 654 -> 655 cycles, refresh in the DRAM sample
@example(case=Case("edge_npu", (("dram.bandwidth_gb_per_s", 0.128), ("units.0.rows", 1)),
                   ("cnn", 9, 1, 7, 1, 1)),
         names={"t_rcd_ns"}, tenths=1).xfail(raises=AssertionError, reason=(
    "7397 -> 7447: fc, timed alone, is faster in two steps (1219 -> 1187 cycles); in the run "
    "its weights load during c2's 5135 cycles, which one step hides whole (found at 3000 "
    "draws; a search that priced the prefetch fixed it and broke other cases)"))
def test_faster_dram_timing_never_slower(case, names, tenths):
    """The timings in ``names`` scaled by ``tenths`` / 10."""
    hw = _hw(case)
    faster = _with(case, **{f"dram.{t}": getattr(hw.dram, t) * tenths / 10
                            for t in sorted(names)})
    _assert_no_larger("latency_cycles", case, faster)


def _pipeline_allowance(res: pysim.Result, unit: str, d_rows: int, d_cols: int) -> float:
    """Cycles a larger array may add to ``res``'s mappings: SCALE-Sim's fold pays a preload of
    R, a skew fill and drain of R + C (docs/systolic_timing.md), and a pipelined fold issues
    max(T, R) after the previous one, so each fold of the small array's tiling, and the one
    exposed fill and drain per op, grow by at most 2 dR + dC on the larger array. The engine's
    schedule is max-plus in the ops' compute times: latency grows by at most their sum."""
    per_fold = 2 * d_rows + d_cols
    ops = res.layers[(res.layers["unit"] == unit) & res.layers["mapping"].notna()]
    return float(sum((m.folds + 1) * per_fold for m in ops["mapping"]))


@SETTINGS
@given(case=cases(), dim=st.sampled_from(["rows", "cols"]), grow=st.integers(1, 64),
       pinned=PINNED)
@example(case=Case("edge_npu", (("scratchpads.0.size_kib", 2.0), ("units.0.cols", 54),
                                ("units.0.dataflow", "rs"), ("units.0.rows", 64)),
                   ("gemm", 105, 95, 145)),
         dim="cols", grow=56, pinned=False)
         # 1.0e6 -> 6.4e6 cycles: no tile below the 110-wide grain
@example(case=Case("edge_npu", (("scratchpads.0.size_kib", 6.75), ("units.0.dataflow", "is")),
                   ("gemm", 62, 159, 54)),
         dim="rows", grow=62, pinned=False)  # 17050 -> 41485 cycles: K forced whole, N tile 10 -> 5
@example(case=Case("tpu_v1", (("units.0.cols", 9), ("units.0.dataflow", "os")),
                   ("gemm", 1, 130, 159)),
         dim="rows", grow=1, pinned=False)
         # 4006 -> 6406: bank conflicts counted on 257 lanes, 1 in use
@example(case=Case("edge_npu", (("dram.t_cl_ns", 1.0),), ("gemm", 1, 7, 133)),
         dim="rows", grow=1, pinned=False)
         # 299 -> 312: K tiles of 66 (the grain), no 64 among them
@example(case=Case("edge_npu", (), ("gemm", 1, 1, 34)),
         dim="rows", grow=1, pinned=False)
         # 219 -> 227: the 32-wide K tile pruned as dominated by 33
@example(case=Case("edge_npu", (("scratchpads.0.size_kib", 7.25),), ("gemm", 41, 20, 129)),
         dim="rows", grow=1, pinned=False)
         # 1792 -> 1884: no 96-wide K tile (3 x 32) among 33's multiples
@example(case=Case("eyeriss", (("scratchpads.0.size_kib", 1.8984375), ("units.0.cols", 52)),
                   ("cnn", 11, 1, 8, 1, 1)),
         dim="cols", grow=42, pinned=False)
         # 5843 -> 17347: a grain of 11 x 94 output rows halved M = 121
# only down to an eighth of the grain (129), losing the 61-row tiles 52 columns have
@example(case=Case("edge_npu", (("clock_ghz", 0.1), ("scratchpads.0.size_kib", 5.25),
                                ("units.0.rows", 42)), ("gemm", 37, 16, 97)),
         dim="rows", grow=1, pinned=False).xfail(raises=AssertionError, reason=(
    "367 -> 459: the 42-deep K tile that just fits 5.25 KiB is no candidate of a 43-row array "
    "(its K tiles are 43's halvings and 32's), and the 43-deep one does not fit; a candidate "
    "set holding every smaller array's would be unbounded (found at 3000 draws)"))
@example(case=Case("edge_npu", (("dram.bandwidth_gb_per_s", 0.128),
                                ("scratchpads.0.size_kib", 2.0), ("units.0.cols", 47)),
                   ("gemm", 10, 35, 53)),
         dim="cols", grow=17, pinned=False)
         # 31811 -> 36811: 64 columns (a power of two wider than N = 35) lacked 47's 8-wide
         # N tiles, and wrote the output in 5-byte runs (found at 1500 draws)
@example(case=PINNED_ROUNDING, dim="cols", grow=3, pinned=True).xfail(
    raises=AssertionError, reason=(
        "1380 -> 1496 (allowance 111): 5 columns tile N = 41 as 15 (11 rounded up to 5's "
        "multiple) and fit K = 34 whole in 2 KiB; 8 columns' candidates (16, 24, 41) have no "
        "15, and 16 x 34 does not fit, so K splits into 32 + 2 and A is read again: the class "
        "of the rows=42 example above (found at 1500 draws)"))
@example(case=PINNED_ROUNDING_K, dim="rows", grow=2, pinned=True).xfail(
    raises=AssertionError, reason=(
        "139 -> 175 (allowance 12): 24 rows tile K = 33 as 24 + 9 in 8.5 KiB; 26 rows' "
        "candidates (26, 16, 13, ...) have no 24 and 26 does not fit, so K takes three tiles of "
        "16 and A is read three times: the same class (found at 1500 draws)"))
@example(case=Case("lowp_edge", (("units.0.rows", 1),), ("gemm", 30, 130, 36)),
         dim="cols", grow=1, pinned=False)
         # 4544 -> 4547 while dispatch (fastest) scored units by the closed-form cycles of the
         # whole GEMM: a 33rd column made the 1-row int8 array score below the bit-serial
         # array, whose tiled mapping computes 3 cycles less; now by the mapped time (found
         # at 1500 draws)
@example(case=PINNED_GRAIN, dim="rows", grow=1, pinned=True).xfail(raises=AssertionError, reason=(
    "3114 -> 3205 (allowance 86): the same class: 12 rows tile K = 80 as 48 (4 x 12), whose "
    "48 x 42 weight tile just fits the 1.97 KiB filter memory; 13 rows offer 52 (4 x 13) and "
    "40, so N drops to 28 and the output's runs take a third burst (found at 1000 draws)"))
def test_larger_array_never_slower_than_its_pipeline_depth(case, dim, grow, pinned):
    """A larger array (rows or cols) is never slower, but for the fill and drain it adds to
    every fold: a longer pipeline is physics, not a mapping loss (issue 11)."""
    # the pinned examples; generation looks elsewhere
    assume(pinned or case not in (PINNED_GRAIN, PINNED_ROUNDING,
                                  PINNED_ROUNDING_K))
    hw = _hw(case)
    bigger = _with(case, **{f"units.0.{dim}": getattr(hw.units[0], dim) + grow})
    small, big = _run(case), _run(bigger)
    allowance = _pipeline_allowance(small, hw.units[0].name, grow if dim == "rows" else 0,
                                    grow if dim == "cols" else 0)
    assert big.latency_cycles <= small.latency_cycles * (1 + REL) + allowance, _explain(
        f"latency_cycles (allowance {allowance:.0f})", case, bigger, small.latency_cycles,
        big.latency_cycles)


@SETTINGS
@given(case=cases(), arrays=st.integers(1, 3))
@example(case=Case("lowp_edge", (("units.0.cols", 1),), ("cnn", 4, 1, 10, 1, 1)),
         arrays=1)  # 1055 -> 1084 when fc's early weight load held the bus ahead of c1's
@example(case=Case("tpu_v1", (("scratchpads.1.size_kib", 2.0),), ("gemm", 7, 33, 129)),
         arrays=1)  # 2690 -> 2696 while two arrays' 512-column grain lost the 17-column tiles
@example(case=Case("edge_npu", (), ("gemm", 1, 33, 1)),
         arrays=1)  # 262 -> 286: 32 + 1 columns in two steps pruned as dominated by 33 in one
@example(case=Case("lowp_edge", (("units.0.cols", 1),), ("cnn", 4, 1, 3, 1, 1)),
         arrays=1).xfail(raises=AssertionError, reason=(
    "816 -> 833: with two arrays the int8 array is the faster unit for c1 and c2 (111 vs 136 "
    "cycles of compute), but in the run c2 takes 341 cycles there against 294 on the "
    "bit-serial unit while fc's weights load beside it: dispatch is per op, by compute "
    "(found at 3000 draws)"))
def test_more_arrays_never_slower(case, arrays):
    """More arrays side by side add no pipeline depth: never slower. (The second array
    makes the int8 array faster than the bit-serial one for c1 and c2, leaving the
    bit-serial unit idle, so its reader prefetches fc's weights at once: a list-scheduling
    anomaly, Graham 1969, while that prefetch could hold the DRAM bus ahead of c1's own
    loads. Demand transfers now preempt prefetches, engine/simulator.py ``_Bus``.)"""
    hw = _hw(case)
    _assert_no_larger("latency_cycles", case,
                      _with(case, **{"units.0.arrays": hw.units[0].arrays + arrays}))


# -- (b) energy adds up, (c) traffic >= compulsory, (d) latency bounds -------------------------


@st.composite
def with_overheads(draw) -> Case:
    """A case with a clock network and a control share drawn too (each may be left out)."""
    case = draw(cases())
    out = dict(case.overrides)
    for path, strategy in (("energy.clock_pj_per_cycle", st.integers(0, 2000).map(float)),
                           ("energy.control_fraction", st.integers(0, 50).map(lambda x: x / 100))):
        value = draw(st.one_of(st.none(), strategy))
        if value is not None:
            out[path] = value
    return case._replace(overrides=tuple(sorted(out.items())))


@SETTINGS
@given(case=with_overheads())
def test_energy_is_the_sum_of_its_parts(case):
    res = _run(case)
    parts = res.energy_breakdown_j
    assert all(v >= 0 for v in parts.values()), parts
    assert res.energy_j == pytest.approx(sum(parts.values()), rel=REL)
    dynamic = res.energy_j - sum(parts[c] for c in RUN_COMPONENTS)
    assert res.layers["energy_j"].sum() == pytest.approx(dynamic, rel=REL, abs=1e-18)
    for comp in parts.keys() - set(RUN_COMPONENTS):
        assert res.layers[f"{comp}_j"].sum() == pytest.approx(parts[comp], rel=REL,
                                                              abs=1e-18), comp
    # the run-level parts: the clock every cycle, control a fixed share of the on-chip energy
    hw = _hardware(case.config, case.overrides)
    assert parts["clock"] == pytest.approx(
        hw.energy.clock_pj_per_cycle * res.latency_cycles * 1e-12, rel=REL)
    on_chip = sum(parts[c] for c in ON_CHIP) + parts["clock"] + parts["control"]
    assert parts["control"] == pytest.approx(hw.energy.control_fraction * on_chip, rel=REL,
                                             abs=1e-18)


@SETTINGS
@given(case=cases())
def test_dram_traffic_at_least_compulsory(case):
    res = _run(case)
    assert res.dram_read_bytes + res.dram_write_bytes >= res.compulsory_dram_bytes
    layers = res.layers
    moved = layers["dram_read_bytes"] + layers["dram_write_bytes"]
    short = layers[moved < layers["compulsory_bytes"]]
    assert short.empty, short[["op", "dram_read_bytes", "dram_write_bytes", "compulsory_bytes"]]
    # ... and per tensor (Result.tensors), whose rows sum to the totals
    tensors = res.tensors
    assert tensors["dram_read_bytes"].sum() == res.dram_read_bytes
    assert tensors["dram_write_bytes"].sum() == res.dram_write_bytes
    assert tensors["compulsory_bytes"].sum() == res.compulsory_dram_bytes
    assert (tensors["non_compulsory_bytes"] >= 0).all(), tensors


@SETTINGS
@given(case=cases())
def test_every_level_moves_at_least_its_compulsory_bytes(case):
    """Per memory level, transfers in and out each at least their compulsory part
    (pysim/mapping/level_flows.py), over the run (a kept output's move, in its producer,
    serves its reader's compulsory fill)."""
    from pysim.mapping.planner import map_workload

    hw, wl = _hw(case), _workload(case.workload)
    sums: dict[str, list[int]] = {}
    for m in map_workload(hw, wl):
        for level, row in m.level_flows.items():
            sums[level] = [a + b for a, b in zip(sums.get(level, [0, 0, 0, 0]), row,
                                                 strict=True)]
    for level, (into, out, must_in, must_out) in sums.items():
        assert into >= must_in and out >= must_out, (level, sums[level])
    res = _run(case)
    for level, v in res.level_bytes.items():
        assert v["non_compulsory"] >= 0, (level, v)
    assert res.level_bytes["dram"]["compulsory"] == res.compulsory_dram_bytes


@SETTINGS
@given(case=cases(), pattern=st.sampled_from([
    "2:4", "1:4", 0.3, {"pattern": "block", "density": 0.5}, {"density": 0.2, "format": "csr"},
    {"density": 0.6, "format": "rle"}]),
       mode=st.sampled_from(["skipping", "gating", "none"]))
def test_dram_traffic_at_least_compulsory_with_sparse_weights(case, pattern, mode):
    """Weights a sparse unit reads compressed are compulsory at their compressed size (they
    were counted dense, so a 2:4 GEMM on a skipping array moved less than "compulsory")."""
    from pysim.workload.sparsity import sparsify

    hw = _hw(case)
    assume(hasattr(hw.units[0], "sparsity"))
    hw = hw.with_overrides({"units.0.sparsity": mode})
    try:
        res = pysim.simulate(hw, sparsify(_workload(case.workload), weights=pattern))
    except pysim.WorkloadError as exc:  # N:M over an N not a multiple of M: refused by name
        assert "weight sparsity" in str(exc) and "\n" not in str(exc)
        assume(False)
    assert res.dram_read_bytes + res.dram_write_bytes >= res.compulsory_dram_bytes
    tensors = res.tensors
    assert tensors["compulsory_bytes"].sum() == res.compulsory_dram_bytes
    assert (tensors["non_compulsory_bytes"] >= 0).all(), tensors


@SETTINGS
@given(case=cases())
def test_latency_at_least_per_unit_compute_and_dram_time(case):
    hw, res = _hw(case), _run(case)
    layers = res.layers
    assert res.latency_cycles == math.ceil(layers["end_cycle"].max())
    # What the bound rests on: each op lasts at least its compute cycles, and ops on one
    # unit do not overlap.
    assert ((layers["end_cycle"] - layers["start_cycle"])
            >= layers["compute_cycles"] * (1 - REL)).all()
    for unit, ops in layers.groupby("unit"):
        ops = ops.sort_values("start_cycle")
        assert (ops["start_cycle"].iloc[1:].to_numpy()
                >= ops["end_cycle"].iloc[:-1].to_numpy() * (1 - REL)).all(), unit
    busiest = layers.groupby("unit")["compute_cycles"].sum().max()
    assert res.latency_cycles >= busiest * (1 - REL)
    bytes_per_cycle = hw.dram.bandwidth_bytes_per_s / hw.clock_hz
    assert res.latency_cycles >= res.dram_bytes / bytes_per_cycle * (1 - REL), (
        f"{res.latency_cycles} cycles < {res.dram_bytes} B / {bytes_per_cycle:g} B per cycle")
