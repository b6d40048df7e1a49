"""Inter-layer reuse chosen by the scratchpad planner (mapper.residency: planned, or
simulate(..., memory_plan="planned")): the plan becomes the mapper's residency, and the
simulator keeps whichever of it and FIFO leaves fewer bytes between ops (issue 13)."""

from __future__ import annotations

from pathlib import Path

import pytest

import pysim
from pysim.mapping.planned_residency import plan_residency_optimal, reuse_traffic
from pysim.workload import workload_from_dict

ROOT = Path(__file__).resolve().parents[1]


def chain() -> pysim.Workload:
    """x -> a -> b -> c, and c + a: a is read again three ops later."""
    def ew(name: str, op: str, inputs: list[str]) -> dict:
        return {"name": name, "type": "elementwise", "op": op, "inputs": inputs,
                "shape": [64, 64]}
    return workload_from_dict({
        "name": "chain", "inputs": [{"name": "x", "shape": [64, 64]}],
        "ops": [ew("a", "relu", ["x"]), ew("b", "relu", ["a"]), ew("c", "relu", ["b"]),
                ew("d", "add", ["c", "a"])]})


def test_an_ample_area_keeps_every_op_output_and_writes_only_the_graph_output() -> None:
    wl = chain()
    planned = plan_residency_optimal(wl, 1 << 20, 5.0)
    res = planned.residency
    assert res is not None and "proven optimal" in planned.note
    assert res.resident_inputs == (frozenset(), frozenset({"a"}), frozenset({"b"}),
                                   frozenset({"c", "a"}))
    assert res.writes_output == (False, False, False, True)
    assert reuse_traffic(wl, res) == 0
    # held during d: a and c, kept from before it
    assert res.resident_bytes_during[3] == 2 * 64 * 64


def test_a_two_tensor_area_spills_a_and_reloads_it() -> None:
    wl = chain()
    planned = plan_residency_optimal(wl, 64 * 64 * 2, 5.0)  # room for two tensors
    res = planned.residency
    assert res is not None
    # d reads c and a together, so a cannot stay through b and c: written back and reloaded
    assert "a" not in res.resident_inputs[3] and res.writes_output[0]
    assert reuse_traffic(wl, res) == 2 * 64 * 64


@pytest.mark.parametrize("config", ["edge_npu", "tpu_v1", "eyeriss", "lowp_edge"])
@pytest.mark.parametrize("model", ["resnet18", "mobilenet_v2"])
def test_planned_reuse_never_moves_more_dram_bytes_than_fifo(config: str, model: str) -> None:
    hw = pysim.load_hardware(ROOT / "configs" / f"{config}.yaml")
    wl = pysim.zoo.load(model)
    fifo = pysim.simulate(hw, wl)
    planned = pysim.simulate(hw, wl, memory_plan="planned")
    assert fifo.layers.attrs["residency"] == "fifo"
    note = planned.layers.attrs["residency"]
    assert note.startswith(("planned", "fifo:"))
    assert (planned.dram_read_bytes + planned.dram_write_bytes
            <= fifo.dram_read_bytes + fifo.dram_write_bytes)
    assert planned.energy_j == pytest.approx(sum(planned.energy_breakdown_j.values()))


def test_the_hardware_field_and_bad_values() -> None:
    hw = pysim.load_hardware(ROOT / "configs" / "tpu_v1.yaml")
    planned = hw.with_overrides({"mapper.residency": "planned"})
    res = pysim.simulate(planned, pysim.zoo.load("resnet18"))
    assert res.layers.attrs["residency"].startswith("planned")
    with pytest.raises(pysim.ConfigError, match="mapper.residency"):
        hw.with_overrides({"mapper.residency": "belady"})
    with pytest.raises(pysim.ConfigError, match="mapper.residency"):
        pysim.simulate(hw, pysim.zoo.load("resnet18"), memory_plan="lru")
