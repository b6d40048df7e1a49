"""benchmarks/validate_dispatch.py: on random GEMMs on lowp_edge the unit dispatch picks is
never beaten in the run by pinning the op to another unit (docs/low_precision_units.md,
"Dispatch"); the closed-form rules it replaced were."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

import pysim

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "validate_dispatch.py"


def _module() -> Any:
    spec = importlib.util.spec_from_file_location("validate_dispatch", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize(("policy", "objective"), [
    ("fastest", "latency"), ("lowest_energy", "latency"), ("lowest_energy", "edp")])
def test_the_mapped_dispatch_is_never_beaten_by_pinning(policy: str, objective: str) -> None:
    """Under EDP the search's energy holds the MACs and registers (``fixed_pj``), which the
    dispatch's estimate must not count twice."""
    got = _module().tally(policy, cases=80, seed=11, objective=objective)
    mapped = got["mapped"]
    assert mapped.cases >= 60
    assert mapped.beaten == 0 and mapped.worst == pytest.approx(1.0, abs=1e-9)
    if policy == "lowest_energy":  # the MAC energy alone chose a costlier unit often
        assert got["closed form"].beaten > 0.2 * got["closed form"].cases


@pytest.mark.parametrize("policy", ["fastest", "lowest_energy"])
def test_fused_attention_is_dispatched_by_its_mapping_too(policy: str) -> None:
    got = _module().tally(policy, cases=50, seed=5, attention=True)
    assert got["mapped"].cases >= 40
    assert got["mapped"].beaten == 0
    assert got["closed form"].beaten > 0  # the whole-GEMM closed form / MAC energy were not


def test_earliest_finish_spreads_independent_ops_over_twin_arrays() -> None:
    """Two independent GEMMs on edge_npu with a second copy of its array: fastest runs both on
    the first array, earliest_finish one on each, 19 % sooner (they share the DRAM channel:
    not half); a chain runs alike under both."""
    mod = _module()
    from pysim.workload import workload_from_dict

    def graph(second_input: str) -> Any:
        gemm = {"type": "gemm", "m": 512, "n": 512, "k": 512, "weight_bits": 8,
                "act_bits": 8}
        return workload_from_dict({"name": "g", "inputs": [
            {"name": "x", "shape": [512, 512], "bits": 8}], "ops": [
            {**gemm, "name": "a", "inputs": ["x"]},
            {**gemm, "name": "b", "inputs": [second_input]}]})

    runs = {p: mod.twin("edge_npu", p) for p in ("fastest", "earliest_finish")}
    fan = {p: pysim.simulate(hw, graph("x")) for p, hw in runs.items()}
    assert set(fan["fastest"].layers["unit"]) == {"mac_array"}
    assert set(fan["earliest_finish"].layers["unit"]) == {"mac_array", "mac_array_twin"}
    assert fan["earliest_finish"].latency_cycles < 0.9 * fan["fastest"].latency_cycles
    chain = {p: pysim.simulate(hw, graph("a")) for p, hw in runs.items()}
    assert chain["fastest"].latency_cycles == chain["earliest_finish"].latency_cycles
    assert set(chain["earliest_finish"].layers["unit"]) == {"mac_array"}


def test_earliest_finish_is_faster_on_most_random_graphs_and_never_much_slower() -> None:
    ratios = _module().balance(graphs=60, seed=3)
    every = [x for r in ratios.values() for x in r]
    assert len(every) == 60
    assert max(every) <= 1.03  # greedy list scheduling: a few graphs a little slower
    twins = ratios["edge_npu"] + ratios["tpu_v1"]
    assert sum(x < 1 - 1e-9 for x in twins) > 0.5 * len(twins)
    assert sum(twins) / len(twins) < 0.99
