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

import pysim
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
