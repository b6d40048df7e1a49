"""A vector op's steps (pysim/mapping/planner.py ``_vector_steps``): at least its data over half
the input scratchpad, else as many (up to MAX_STEPS) as pipeline it fastest. The estimate it
minimises is held to the SimPy engine on one op; a larger scratchpad no longer makes the op
slower by streaming it in fewer, larger steps (BERT-base on lowp_edge was 0.05 % slower with a
1.25x activation buffer: its GELUs in 5 steps instead of 6)."""

from __future__ import annotations

from pathlib import Path
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

import pysim
from pysim.engine.simulator import StepPlan, run_plans
from pysim.mapping import planner
from pysim.mapping.planner import MAX_STEPS

ROOT = Path(__file__).resolve().parents[1]


class _Timing:
    def __init__(self, bytes_per_cycle: float, latency: float) -> None:
        self.bytes_per_cycle, self.latency_cycles = bytes_per_cycle, latency


class _Scratchpad:
    def __init__(self, double: bool) -> None:
        self.double_buffered = double


class _Hw:
    def __init__(self, double: bool) -> None:
        self.scratchpads = (_Scratchpad(double),)


def _engine_cycles(steps: int, read: int, write: int, compute: int, bpc: float, latency: float,
                   double: bool) -> float:
    plan = StepPlan("v", "vpu", (), steps, float(compute), read, write, double_buffered=double)
    return run_plans([plan], bpc, latency)[0].end_cycle


@settings(max_examples=200, deadline=None)
@given(read=st.integers(0, 10**6), write=st.integers(0, 10**6), compute=st.integers(1, 10**6),
       bpc=st.floats(0.5, 64), latency=st.floats(0, 300), least=st.integers(1, MAX_STEPS),
       double=st.booleans())
def test_the_steps_chosen_run_as_fast_as_any_allowed(read: int, write: int, compute: int,
                                                     bpc: float, latency: float, least: int,
                                                     double: bool) -> None:
    """On one op in the engine the steps chosen run within 0.5 % of the fastest allowed
    (least..MAX_STEPS) and never slower than ``least``, the steps before the choice."""
    with patch.object(planner, "transfer_timing", lambda hw, streams: _Timing(bpc, latency)):
        chosen = planner._vector_steps(_Hw(double), read, write, compute,
                                       2 * (read + write) + 1, least)
    assert least <= chosen <= MAX_STEPS
    cycles = {s: _engine_cycles(s, read, write, compute, bpc, latency, double)
              for s in range(least, MAX_STEPS + 1)}
    assert cycles[chosen] <= cycles[least] * (1 + 1e-9)
    assert cycles[chosen] <= min(cycles.values()) * 1.005


def test_a_larger_activation_buffer_no_longer_slows_bert_on_lowp_edge() -> None:
    hw = pysim.load_hardware(ROOT / "configs" / "lowp_edge.yaml")
    spad = next(i for i, s in enumerate(hw.scratchpads) if "input" in s.holds)
    bigger = hw.with_overrides({f"scratchpads.{spad}.size_kib":
                                hw.scratchpads[spad].size_kib * 1.25})
    wl = pysim.zoo.load("bert_base")
    small, large = pysim.simulate(hw, wl), pysim.simulate(bigger, wl)
    assert large.latency_cycles <= small.latency_cycles
    gelu = small.layers[small.layers["op"].str.endswith(".gelu")]
    assert (gelu["steps"] == MAX_STEPS).all()  # compute-bound: as finely as the engine steps
