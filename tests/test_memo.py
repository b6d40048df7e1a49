"""pysim.memo.clear_caches: every module-level functools cache of pysim, cleared at once."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import pysim
from pysim import training
from pysim.mapping.mac_memo import MAPPED
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


def test_mac_memo_gives_the_figures_of_mapping_every_op(monkeypatch: pytest.MonkeyPatch) -> None:
    """A network's repeated layers and a sweep's repeated runs hit the MAC-op memo
    (pysim/mapping/mac_memo.py); the figures are those of mapping every op, to the last bit."""
    from pysim.mapping.mac_memo import ByRoom, Remembered

    for config, name in (("tpu_v1", "resnet50"), ("eyeriss", "resnet18"),
                         ("edge_npu", "mobilenet_v2"), ("tpu_v1", "bert_base")):
        hw = pysim.load_hardware(ROOT / "configs" / f"{config}.yaml")
        wl = pysim.zoo.load(name)
        clear_caches()
        assert not MAPPED.of(hw)
        first = pysim.simulate(hw, wl)
        mac_ops = sum(op.runs_on == "mac" for op in wl.ops)
        assert 0 < len(MAPPED.of(hw)) < mac_ops  # repeated layers share an entry
        warm = pysim.simulate(hw, wl)
        with monkeypatch.context() as patch:
            patch.setattr(Remembered, "recall", lambda self, key: None)
            patch.setattr(ByRoom, "recall_at", lambda self, key, room: None)
            every = pysim.simulate(hw, wl)
        for other in (warm, every):
            pd.testing.assert_frame_equal(first.layers, other.layers)
            assert (first.latency_cycles, first.energy_j, first.level_bytes) == \
                (other.latency_cycles, other.energy_j, other.level_bytes)
    clear_caches()
    assert not MAPPED.of(hw)


def test_mac_memo_keys_ops_by_their_fields_not_their_names() -> None:
    from pysim.mapping.mac_memo import op_signature
    from pysim.workload import Gemm

    a = Gemm(name="a", inputs=("x",), m=64, n=32, k=16)
    assert op_signature(a) == op_signature(Gemm(name="b", inputs=("y",), m=64, n=32, k=16))
    assert op_signature(a) != op_signature(Gemm(name="a", inputs=("x",), m=64, n=32, k=16,
                                                act_bits=4))
    assert op_signature(a) != op_signature(Gemm(name="a", inputs=("x",), m=64, n=32, k=16,
                                                bias=True))


def test_mac_memo_keeps_a_bounded_number_of_hardware_objects() -> None:
    from pysim.mapping import mac_memo

    base = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml")
    wl = pysim.zoo.load("gemm", m=32, n=32, k=32)
    clear_caches()
    kept = [base.with_overrides({"clock_ghz": 1.0 + i / 10}) for i in range(mac_memo.HARDWARE + 3)]
    for hw in kept:
        pysim.simulate(hw, wl)
    # the least recently used go first; each kept object is held, so its id stays its own
    assert [id(held) for held, _ in MAPPED._by_hw.values()] == \
        [id(hw) for hw in kept[-mac_memo.HARDWARE:]]


def test_gpu_gemm_searches_are_remembered_per_gpu_and_shape() -> None:
    """A GPU's GEMM tile search runs once per (GPU, GEMM): BERT-base's twelve layers search
    each shape once, and their kernels are made once per distinct layer (the per-hardware
    kernel memo, pysim/gpu/kernels.py's ``kernel_key``); the figures equal a fresh search,
    and clear_caches forgets them."""
    from pysim.gpu import presets
    from pysim.mapping.mac_memo import MAPPED

    clear_caches()
    gpu = pysim.gpu.preset("a100")
    first = pysim.simulate(gpu, pysim.zoo.load("bert_base"))
    info = presets._searched_cost.cache_info()
    assert 0 < info.currsize < 20 and info.misses == info.currsize  # 96 GEMMs, few shapes
    kernels = sum(len(m.kernels) for _, m in MAPPED._by_hw.values())
    assert 0 < kernels < 20  # 96 MAC ops (12 x 8 per layer), a few distinct kernels
    again = pysim.simulate(gpu, pysim.zoo.load("bert_base"))
    assert again.latency_cycles == first.latency_cycles
    assert presets._searched_cost.cache_info().misses == info.misses  # nothing searched anew
    a, b = gpu.gemm_cost(512, 768, 768, "fp16"), gpu.gemm_cost(512, 768, 768, "fp16")
    assert a is b  # read-only, shared
    clear_caches()
    assert presets._searched_cost.cache_info().currsize == 0
    fresh = gpu.gemm_cost(512, 768, 768, "fp16")
    assert (fresh.time_s, fresh.tile_m, fresh.tile_n, fresh.split_k) == \
        (a.time_s, a.tile_m, a.tile_n, a.split_k)
    # another GPU object (a changed field) searches anew
    other = gpu.replace(sms=54)
    assert other.gemm_cost(512, 768, 768, "fp16").time_s != a.time_s


def test_gpu_kernels_are_remembered_by_their_epilogue_too() -> None:
    """BERT's query and attention-output projections are the same 768 x 768 GEMM, but the
    second absorbs the residual add in its epilogue: two kernels in the per-hardware memo; a
    run whose kernels all come from the memo gives the first run's figures, op for op."""
    clear_caches()
    gpu = pysim.gpu.preset("a100")
    wl = pysim.zoo.load("bert_base")
    layers = pysim.simulate(gpu, wl).layers.set_index("op")
    q, o = layers.loc["layer0.query"], layers.loc["layer0.attn_out"]
    assert "epilogue add" in o.tiling and "epilogue" not in q.tiling
    assert o.dram_read_bytes > q.dram_read_bytes  # the residual, read once
    for name in ("layer5.query", "layer5.attn_out"):  # remembered, not mixed up
        assert layers.loc[name].tiling == layers.loc[name.replace("5", "0")].tiling
    again = pysim.simulate(gpu, wl).layers.set_index("op")  # every kernel remembered
    assert again.equals(layers)
