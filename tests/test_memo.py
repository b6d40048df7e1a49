"""pysim.memo.clear_caches: every module-level functools cache of pysim, cleared at once."""

from __future__ import annotations

from pathlib import Path

import pysim
from pysim import training
from pysim.mapping.tiling import _candidates, plan_gemm
from pysim.memo import clear_caches

ROOT = Path(__file__).resolve().parent.parent


def test_clear_caches_empties_the_mapping_memos() -> None:
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml")
    pysim.simulate(hw, pysim.zoo.load("gemm", m=64, n=64, k=64))
    assert plan_gemm.cache_info().currsize > 0 and _candidates.cache_info().currsize > 0
    assert clear_caches() >= 2
    assert plan_gemm.cache_info().currsize == 0 and _candidates.cache_info().currsize == 0


def test_a_training_step_reuses_its_graph_until_the_caches_clear() -> None:
    # a sweep over hardware steps one workload in one recipe: the derived graph is built once
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml")
    wl = pysim.zoo.load("gemm", m=32, n=32, k=32)
    first = training.step(hw, wl, "sgd", "int8")
    again = training.step(hw.with_overrides({"units.0.rows": 16}), wl, "sgd", "int8")
    assert again.graph is first.graph
    assert training.step(hw, wl, "adam", "int8").graph is not first.graph  # other optimizer
    clear_caches()
    fresh = training.step(hw, wl, "sgd", "int8")
    assert fresh.graph is not first.graph
    assert fresh.latency_s == first.latency_s  # the same graph, rebuilt
