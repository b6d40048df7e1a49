"""Early exit: probabilities, cumulative costs and quantiles."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import pysim
from pysim.dynamic import ExitPoint, simulate_early_exit

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def run():
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml")
    wl = pysim.zoo.load("resnet18")
    exits = [ExitPoint("layer1.1.relu_out", 0.5), ExitPoint("layer3.1.relu_out", 0.5)]
    return hw, wl, simulate_early_exit(hw, wl, exits)


def test_probabilities_are_conditional_and_sum_to_one(run) -> None:
    _, _, res = run
    p = res.outcomes["probability"].tolist()
    assert p == pytest.approx([0.5, 0.25, 0.25])


def test_costs_grow_along_the_backbone_and_include_heads(run) -> None:
    _, _, res = run
    out = res.outcomes
    assert out["latency_s"].is_monotonic_increasing
    assert out["energy_j"].is_monotonic_increasing
    # passing every exit costs the backbone plus both heads
    heads = out["head_latency_s"].iloc[:2].sum()
    assert out["latency_s"].iloc[-1] == pytest.approx(res.full.latency_s + heads)


def test_stats_are_weighted_mean_and_quantiles(run) -> None:
    _, _, res = run
    s = res.stats()
    out = res.outcomes
    assert s["latency_s_mean"] == pytest.approx((out["probability"] * out["latency_s"]).sum())
    assert s["latency_s_p50"] == pytest.approx(out["latency_s"].iloc[0])  # half leave first
    assert s["latency_s_p99"] == pytest.approx(out["latency_s"].iloc[-1])
    assert s["latency_s_mean"] < res.full.latency_s


def test_bad_exits(run) -> None:
    hw, wl, _ = run
    with pytest.raises(pysim.WorkloadError, match="no such op"):
        simulate_early_exit(hw, wl, [ExitPoint("nope", 0.1)])
    with pytest.raises(pysim.WorkloadError, match=r"probability must be in \[0, 1\]"):
        simulate_early_exit(hw, wl, [ExitPoint("layer1.1.relu_out", 1.5)])
    with pytest.raises(pysim.WorkloadError, match="execution order"):
        simulate_early_exit(hw, wl, [ExitPoint("layer3.1.relu_out", 0.1),
                                     ExitPoint("layer1.1.relu_out", 0.1)])


@pytest.mark.parametrize("script", ["early_exit.py", "attention_seq_len.py"])
def test_examples_run(script: str, capsys) -> None:
    spec = importlib.util.spec_from_file_location(script[:-3], ROOT / "examples" / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main()
    assert "latency" in capsys.readouterr().out


def test_early_exit_runs_on_a_gpu_preset() -> None:
    # a GPU preset has no static-power model: the exits pay the backbone's leakage rate (0)
    import pysim
    from pysim.dynamic import ExitPoint, simulate_early_exit

    wl = pysim.zoo.load("resnet18")
    after = wl.ops[20].name
    res = simulate_early_exit(pysim.gpu.preset("a100"), wl, [ExitPoint(after, 0.5)])
    stats = res.stats()
    assert 0 < stats["latency_s_p50"] < res.full.latency_s <= stats["latency_s_p99"]
    assert res.outcomes["probability"].sum() == 1.0


def test_an_exit_after_the_last_op_pays_the_whole_backbone_with_its_overheads() -> None:
    # leakage, clock and control are run-level parts: an exit prices its prefix's share of
    # them, so an exit after the backbone's last op pays what the full run pays
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml").with_overrides(
        {"energy.clock_pj_per_cycle": 400.0, "energy.control_fraction": 0.2})
    wl = pysim.zoo.load("resnet18", image_size=64)
    last = wl.ops[-1].name
    res = simulate_early_exit(hw, wl, [ExitPoint(last, 1.0)])
    parts = res.full.energy_breakdown_j
    assert parts["clock"] > 0 and parts["control"] > 0
    head = res.outcomes["head_energy_j"].iloc[0]
    # (within the ceil of the run's last cycle)
    assert res.outcomes["energy_j"].iloc[0] - head == pytest.approx(res.full.energy_j, rel=1e-6)
