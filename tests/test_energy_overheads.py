"""The run-level clock-network and control energy (``energy.clock_pj_per_cycle``,
``energy.control_fraction``): what they add, and what they leave alone."""

from __future__ import annotations

from pathlib import Path

import pytest

import pysim
from pysim.energy import COMPONENTS, ON_CHIP

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def runs() -> tuple[pysim.Result, pysim.Result]:
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml")
    wl = pysim.zoo.load("resnet18", image_size=64)
    with_overheads = hw.with_overrides({"energy.clock_pj_per_cycle": 250.0,
                                        "energy.control_fraction": 0.25})
    return pysim.simulate(hw, wl), pysim.simulate(with_overheads, wl)


def test_shipped_configs_without_them_price_none(runs) -> None:
    plain, _ = runs
    assert plain.energy_breakdown_j["clock"] == plain.energy_breakdown_j["control"] == 0.0


def test_they_add_energy_and_change_nothing_else(runs) -> None:
    plain, more = runs
    assert more.latency_cycles == plain.latency_cycles
    assert more.dram_bytes == plain.dram_bytes
    for c in COMPONENTS:  # the per-action parts are the same
        assert more.energy_breakdown_j[c] == pytest.approx(plain.energy_breakdown_j[c])
    parts = more.energy_breakdown_j
    # 250 pJ every cycle of the run, at the edge NPU's clock
    assert parts["clock"] == pytest.approx(250e-12 * more.latency_cycles)
    # control is a quarter of the on-chip energy without leakage: 1/3 of the rest
    rest = sum(parts[c] for c in ON_CHIP) + parts["clock"]
    assert parts["control"] == pytest.approx(rest / 3)
    assert parts["control"] / (rest + parts["control"]) == pytest.approx(0.25)


def test_the_clock_costs_the_same_power_at_any_frequency() -> None:
    # pJ per cycle is C V^2: at half the clock, the same energy per cycle is half the power
    hw = pysim.load_hardware(ROOT / "configs" / "eyeriss.yaml")
    wl = pysim.zoo.load("gemm")
    fast = pysim.simulate(hw, wl)
    slow = pysim.simulate(hw.with_overrides({"clock_ghz": 0.1}), wl)
    watts = [r.energy_breakdown_j["clock"] / r.latency_s for r in (fast, slow)]
    assert watts[0] == pytest.approx(531.3e-12 * 0.2e9)
    assert watts[1] == pytest.approx(watts[0] / 2)


def test_eyeriss_clock_energy_is_cnnergys_h_tree() -> None:
    # configs/eyeriss.yaml's clock_pj_per_cycle is the H-tree model's C V^2, computed by
    # benchmarks/eyeriss_clock_tree.py from CNNergy's capacitances, not fitted to the chip
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "eyeriss_clock_tree", ROOT / "benchmarks" / "eyeriss_clock_tree.py")
    assert spec is not None and spec.loader is not None
    tree = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tree)
    hw = pysim.load_hardware(ROOT / "configs" / "eyeriss.yaml")
    assert hw.energy.clock_pj_per_cycle == pytest.approx(tree.clock_pj_per_cycle_65nm(), abs=0.05)
    assert tree.clock_watts_45nm() * (65 / 45) / 1.1**2 == pytest.approx(0.1063, rel=1e-3)
