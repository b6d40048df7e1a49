"""Serving a model larger than the device with its last layers in host memory
(pysim/serving/offload.py): placement, per-iteration copies, errors."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pysim
import pysim.serving as sv
from pysim.errors import ConfigError
from pysim.serving.cost import Cost
from pysim.serving.offload import ServingOffload

GB = 1e9


def a100(mode: str, **host: object) -> pysim.Hardware:
    hw = pysim.gpu.preset("a100").hardware.with_overrides({"host.offload": mode})
    return hw.with_overrides({f"host.{k}": v for k, v in host.items()}) if host else hw


def requests(n: int = 3) -> list[sv.Request]:
    return [sv.Request(i, 0.1 * i, 128, 16) for i in range(n)]


def test_a_model_that_fits_serves_as_before() -> None:
    base = sv.serve(pysim.gpu.preset("a100"), "llama2_7b", requests())
    for mode in ("on_demand", "prefetch"):
        res = sv.serve(a100(mode), "llama2_7b", requests())
        assert res.cost.offload is None and res.kv_blocks == base.kv_blocks
        assert res.iterations["seconds"].tolist() == pytest.approx(
            base.iterations["seconds"].tolist(), rel=1e-12)


def test_llama2_70b_on_one_a100_keeps_a_whole_context_of_kv_cache() -> None:
    spec = sv.model("llama2_70b")
    res = sv.serve(a100("on_demand"), spec, requests())
    off = res.cost.offload
    memory = 80 * 2**30
    block = 16 * spec.kv_bytes_per_token
    # the KV cache holds one 4096-token sequence; the device keeps the rest of 0.9 x 80 GiB
    assert res.kv_blocks == math.ceil(spec.max_context / 16)
    assert off.bytes == pytest.approx(spec.weight_bytes - (0.9 * memory - res.kv_blocks * block))
    assert off.head_bytes == (spec.vocab + 1) * spec.hidden * 2  # the LM head goes first
    assert 30 < off.layers < 40 and off.layer_bytes == pytest.approx(1.713e9, rel=1e-3)
    # a decode step copies every offloaded byte over the A100's PCIe 4.0 x16 (27.7 GB/s)
    decodes = res.iterations[res.iterations["prefill_tokens"] == 0]
    assert decodes["seconds"].min() > off.bytes / off.bytes_per_s
    # a lower cap on the device's weights offloads more and frees cache for more sequences
    more = sv.serve(a100("on_demand", device_weights_gib=40), spec, requests())
    assert more.cost.offload.bytes > off.bytes and more.kv_blocks > res.kv_blocks


def test_copies_add_on_demand_and_hide_under_computation_prefetched() -> None:
    off = ServingOffload(mode="on_demand", layers=2.5, layer_bytes=1e9, head_bytes=0.5e9,
                         bytes_per_s=25e9, copy_latency_s=4e-6, pj_per_byte=200.0,
                         copies_per_layer=9)
    layer, head = Cost(0.03, 1.0), Cost(0.001, 0.1)
    demand = off.cost(layer, head, 80, 80)
    copy = 1e9 / 25e9 + 9 * 4e-6
    assert demand.seconds == pytest.approx(2.5 * copy + 0.5e9 / 25e9 + 4e-6)
    assert demand.joules == pytest.approx(3e9 * 200 * 1e-12)
    pre = ServingOffload(**{**off.__dict__, "mode": "prefetch"}).cost(layer, head, 80, 80)
    assert pre.seconds == pytest.approx(2.5 * (copy - 0.03) + (0.02 + 4e-6 - 0.001))
    assert pre.seconds < demand.seconds and pre.joules == demand.joules
    # a layer computing longer than its copy hides it
    slow = ServingOffload(**{**off.__dict__, "mode": "prefetch"}).cost(Cost(1.0), Cost(1.0),
                                                                       80, 80)
    assert slow.seconds == 0
    # early exit after layer 78 runs 0.5 of the offloaded layers (the last 2.5 start at 77.5)
    assert off.cost(layer, head, 78, 80).joules == pytest.approx(1.0e9 * 200 * 1e-12)


def test_prefetch_is_never_slower_and_faster_links_help() -> None:
    times = {}
    for mode, link in (("on_demand", "pcie4_x16"), ("prefetch", "pcie4_x16"),
                       ("on_demand", "pcie5_x16")):
        res = sv.serve(a100(mode, link=link), "llama2_70b", requests())
        times[mode, link] = res.iterations["seconds"].sum()
    assert times["prefetch", "pcie4_x16"] <= times["on_demand", "pcie4_x16"]
    assert times["on_demand", "pcie5_x16"] < times["on_demand", "pcie4_x16"]


def test_offload_errors_name_what_is_allowed() -> None:
    with pytest.raises(ConfigError, match=r"model does not fit \(llama2_70b on a100\).*host\."
                                          r"offload\)"):
        sv.serve(pysim.gpu.preset("a100"), "llama2_70b", requests())
    with pytest.raises(ConfigError, match=r"host\.offload 'prefetch' serves one device; tp x pp "
                                          r"= 2 devices"):
        sv.serve(a100("prefetch"), "llama2_70b", requests(),
                 parallel=sv.ParallelConfig(2, 1), memory_gb=40)
    with pytest.raises(ConfigError, match=r"llama2_70b does not fit a100 even with its layers "
                                          r"and LM head in host memory"):
        sv.serve(a100("on_demand"), "llama2_70b", requests(), memory_gb=1.0)


def test_w4a16_stores_linear_weights_at_four_bits_with_group_scales() -> None:
    fp16, w4 = sv.model("llama2_7b"), sv.model("llama2_7b", precision="w4a16")
    linear = w4.linear_params
    assert linear == 32 * (4 * 4096**2 + 3 * 4096 * 11008)
    # 4 bits and, per group of 128 along K, an fp16 scale and zero point: 0.53125 B a weight
    assert w4.weight_bytes == linear * 17 // 32 + (w4.params - linear) * 2
    assert w4.kv_bytes_per_token == fp16.kv_bytes_per_token  # the cache stays fp16
    wl = w4.forward_workload(1, 1, 64)
    q = next(op for op in wl.ops if op.name == "layer0.q_proj")
    head = next(op for op in wl.ops if op.name == "lm_head")
    assert (q.weight_bits, q.act_bits, q.quant.group_size, q.quant.zero_point) == (4, 16, 128,
                                                                                 True)
    assert head.weight_bits == 16 and head.quant is None  # AWQ keeps the LM head fp16
    # what the graph holds is the spec's bytes less the token embedding (a lookup's input)
    assert wl.footprint.weight_bytes == w4.weight_bytes - 32000 * 4096 * 2
    # a decode step streams its weights: about 3x faster than fp16 on an A100
    a100 = pysim.gpu.preset("a100")
    fast = pysim.simulate(a100, wl).latency_s
    slow = pysim.simulate(a100, fp16.forward_workload(1, 1, 64)).latency_s
    assert 2.5 < slow / fast < 3.5
    # LLaMA-2-70B in w4a16 fits one A100 without offloading
    res = sv.serve(a100, sv.model("llama2_70b", precision="w4a16"), requests())
    assert res.cost.offload is None and res.kv_blocks > 1000


@settings(max_examples=6, deadline=None, derandomize=True, database=None)
@given(st.sampled_from(["on_demand", "prefetch"]), st.floats(5, 100), st.floats(1.1, 4),
       st.floats(30, 60))
def test_more_host_bandwidth_or_device_weights_is_never_slower(mode, gbps, faster,
                                                              keep) -> None:
    def seconds(bandwidth: float, kept: float) -> float:
        hw = a100(mode, bandwidth_gb_per_s=bandwidth, device_weights_gib=kept)
        return float(sv.serve(hw, "llama2_70b", requests(2)).iterations["seconds"].sum())

    base = seconds(gbps, keep)
    assert seconds(gbps * faster, keep) <= base * (1 + 1e-12)
    assert seconds(gbps, keep + 5) <= base * (1 + 1e-12)


def test_the_offload_example_ranks_the_host_links() -> None:
    import runpy
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "examples" / "serving" / \
        "offload_llama70b.py"
    rows = runpy.run_path(str(script), run_name="offload_example")["rows"]()
    fp16 = {(r.gpu, r.mode): r for r in rows if r.precision == "fp16"}
    for mode in ("on_demand", "prefetch"):  # PCIe 4.0 > PCIe 5.0 > NVLink-C2C
        assert fp16["a100", mode].tpot_s > fp16["h100", mode].tpot_s > fp16["gh200",
                                                                            mode].tpot_s
    assert all(fp16[g, "prefetch"].tpot_s <= fp16[g, "on_demand"].tpot_s for g in
               ("a100", "h100", "gh200"))
    # 4-bit weights (37 GB) fit each of them: nothing in host memory
    assert all(r.host_gb == 0 for r in rows if r.precision == "w4a16")
