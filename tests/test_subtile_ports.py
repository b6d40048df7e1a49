"""A C tile kept at an outer level is walked in sub-tiles at its inner level unless walking it
whole costs less energy (pysim/mapping/subtile.py) - and never where the whole tile's partial
sums would make the outer level's ports the bottleneck: the tiling search priced the op's
port time with the sub-tiles (tiling.py, ``slice_port_cycles``).

Found by doubling tpu_v1's accumulators under VGG-16 at batch 4: its conv4 (M = 50,176 output
positions, N = 128, K = 1,152) keeps 12,544 x 128 int32 partial sums in the unified buffer; at
8 MiB the accumulators' larger access energy made walking the whole tile "cheaper", every
partial sum crossed the unified buffer's ports, and the layer took 1.88x its cycles at 4 MiB
(the run 3.8 % longer with twice the accumulators)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import pysim
from pysim.mapping.tiling import LATENCY_TIE
from pysim.workload import workload_from_dict

ROOT = Path(__file__).resolve().parent.parent

CONV4 = workload_from_dict({
    "name": "vgg16_conv4_batch4",
    "inputs": [{"name": "x", "shape": [4, 112, 112, 128]}],
    "ops": [{"name": "conv4", "type": "conv2d", "inputs": ["x"], "batch": 4, "in_h": 112,
             "in_w": 112, "in_c": 128, "out_c": 128, "kernel": 3, "padding": 1}]})


def _with_accumulators(factor: int) -> pysim.Hardware:
    hw = pysim.load_hardware(ROOT / "configs" / "tpu_v1.yaml")
    acc = hw.scratchpads[2]
    assert acc.name == "accumulators"
    return hw.with_overrides({"scratchpads.2.size_kib": acc.size_kib * factor})


def test_more_accumulator_memory_is_never_slower() -> None:
    runs = [pysim.simulate(_with_accumulators(f), CONV4) for f in (1, 2, 4)]
    cycles = [r.latency_cycles for r in runs]
    assert cycles == sorted(cycles, reverse=True), cycles
    assert cycles[1] < 1.01 * cycles[0]  # was 1.88x


def test_the_partial_sums_stay_in_the_accumulators() -> None:
    """At twice the accumulators the 12,544 x 128 tile (6.4 MB of int32) still lives in the
    unified buffer, walked in sub-tiles the accumulators hold: they take the array's partial
    sums, and the unified buffer's ports bound the layer no more than at 4 MiB."""
    small, big = (pysim.simulate(_with_accumulators(f), CONV4) for f in (1, 2))
    for res in (small, big):
        mapping = res.layers.iloc[0]["mapping"]
        assert mapping.output_level == "unified_buffer" and mapping.c_subtile, mapping
        assert res.level_bytes["accumulators"]["write"] > 0
    stalls = [r.layers.iloc[0]["port_stall_cycles"] for r in (small, big)]
    assert stalls[1] <= stalls[0]


@settings(derandomize=True, database=None, deadline=None, max_examples=40,
          suppress_health_check=[HealthCheck.too_slow])
@given(acc_kib=st.sampled_from([1024, 2048, 4096]), batch=st.integers(1, 4),
       size=st.sampled_from([28, 56, 112]), in_c=st.sampled_from([64, 128, 256]),
       out_c=st.sampled_from([64, 128, 256]), kernel=st.sampled_from([1, 3]))
@example(acc_kib=1024, batch=2, size=56, in_c=64, out_c=256, kernel=3)  # 52,243 -> 52,642
# while the search's port model left out C's DRAM bytes passing the unified buffer behind the
# accumulators: 33,012 port cycles priced, 39,284 charged
def test_doubling_the_accumulators_is_never_slower(acc_kib: int, batch: int, size: int,
                                                   in_c: int, out_c: int, kernel: int) -> None:
    """tpu_v1 with smaller and larger accumulators under convolutions whose partial sums
    outgrow them (C tiles kept in the unified buffer, walked in sub-tiles or whole)."""
    hw = pysim.load_hardware(ROOT / "configs" / "tpu_v1.yaml")
    wl = workload_from_dict({
        "name": "conv", "inputs": [{"name": "x", "shape": [batch, size, size, in_c]}],
        "ops": [{"name": "conv", "type": "conv2d", "inputs": ["x"], "batch": batch,
                 "in_h": size, "in_w": size, "in_c": in_c, "out_c": out_c,
                 "kernel": kernel, "padding": kernel // 2}]})
    small, big = (pysim.simulate(hw.with_overrides({"scratchpads.2.size_kib": kib}), wl)
                  for kib in (acc_kib, 2 * acc_kib))
    assert big.latency_cycles <= small.latency_cycles * (1 + LATENCY_TIE), (
        small.latency_cycles, big.latency_cycles)
