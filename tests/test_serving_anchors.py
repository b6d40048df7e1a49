"""The serving anchors of docs/serving.md built as examples/serving/*.py (CAKE's decode
speed-up at 128K, Mixtral-8x7B's decode rate): each pysim figure pinned to the band the doc
states; each band is one a wrong model falls outside of (named beside each assert)."""

from __future__ import annotations

from functools import cache
from types import ModuleType
from typing import Any

import pytest

import pysim
import pysim.serving as sv
from tests.example_scripts import load


def _script(name: str) -> ModuleType:
    return load("serving", name)


@cache
def _rows(name: str) -> Any:
    return {(r.gpu, getattr(r, "budget", getattr(r, "precision", None))): r
            for r in _script(name).compute()}


def test_model_specs_match_their_papers() -> None:
    mix = sv.model("mixtral_8x7b")
    # Jiang et al. 2024, section 2: 46.7B parameters, 12.9B active
    assert mix.params / 1e9 == pytest.approx(46.7, rel=0.005)
    assert mix.active_params / 1e9 == pytest.approx(12.9, rel=0.005)
    dense = sv.model("llama2_7b")
    assert dense.active_params == dense.params
    llama31 = sv.model("llama3_1_8b")
    # Llama 3.1 8B: 8.03B parameters (model card), a 128K context, GQA 8 K/V heads
    assert llama31.params / 1e9 == pytest.approx(8.03, rel=0.005)
    assert llama31.max_context == 131072 and llama31.kv_bytes_per_token == 131072


def test_cake_decode_speedup_at_128k() -> None:
    rows = _rows("cake_decode")
    a100, h100 = rows[("a100", 0.032)], rows[("h100", 0.032)]
    # pysim 2.01x on an A100 at a 3.2 % budget (paper: > 10x). Band [1.8, 2.3]: no eviction
    # gives 1.0, a decode step bound by HBM bytes alone 2.0, the attention kernels alone 22x;
    # without split-KV (Flash-Decoding) the full cache walks 128K keys on 32 of 108 SMs: 6.8x;
    # without GQA packing (a block per query head, 4x the attention work): 2.94x
    assert 1.8 <= a100.speedup <= 2.3
    assert a100.kept_tokens == pytest.approx(0.032 * (131072 - 64), abs=1)
    assert 1.8 <= h100.speedup <= 2.3
    for r in rows.values():
        # the documented gap: pysim's decode sits at the HBM-bytes bound, under the paper's 10x
        assert r.speedup == pytest.approx(r.hbm_bound_speedup, rel=0.05)
        assert r.speedup < 10.0 < r.attention_speedup
        assert r.hbm_bound_speedup == pytest.approx(2.0, abs=0.1)
    # a smaller budget decodes faster (the 1,024-token budget of CAKE's scripts)
    assert rows[("a100", 1024)].speedup > a100.speedup


def test_mixtral_decode_rate() -> None:
    mod = _script("mixtral_decode")
    rows = _rows("mixtral_decode")
    pub = rows[("a100", "int8")]
    # published 81 tokens/s (Baseten, int8 TensorRT-LLM, one A100); pysim 123, ratio 1.52.
    # Band [1.3, 1.75]: every expert read per token (46.7B) gives ~0.45, top-1 ~2.6
    assert 1.3 <= pub.tokens_per_s / mod.PUBLISHED_TOKENS_PER_S <= 1.75
    for r in rows.values():
        # under the HBM bound, within pysim's sustained 0.86 of it; launches, the router and
        # attention take the rest (0.63-0.77 here)
        assert 0.6 <= r.efficiency <= 0.86
    # two A100s in fp16 reach about one A100 in int8: the same bytes per device
    assert rows[("a100", "fp16")].tokens_per_s == pytest.approx(pub.tokens_per_s, rel=0.1)


def test_tensor_parallel_llama2_70b_against_tensorrt_llm() -> None:
    mod = _script("tp_llama70b")
    pub = mod.published()
    # the fixture is TensorRT-LLM's table (docs/source/performance.md @ 77d24b5), as cited
    assert (pub["model"], pub["gpu"], pub["tp"], pub["precision"]) == (
        "llama2_70b", "a100", 4, "fp16")
    rows = {r.what: r for r in mod.compute()}
    thr = [r for r in rows.values() if r.unit == "out tok/s/GPU"]
    ttft = [r for r in rows.values() if r.unit == "TTFT ms"]
    assert len(thr) == 3 and len(ttft) == 2
    # pysim 1.26-1.29x the published per-GPU throughput on the short-output rows, band
    # [1.0, 1.4]: no scheduler / sampling overhead, kernels at 0.86 of HBM. The decode-heavy
    # row 1.82x, band [1.5, 2.1]: pysim's decode packs LLaMA-2-70B's 8 query heads per KV head
    # into one block (1.12x without: TensorRT-LLM v0.6's kernel presumably did not pack them)
    for r in thr:
        low, high = (1.5, 2.1) if r.what == "batch 240, 128 / 2048" else (1.0, 1.4)
        assert low <= r.ratio <= high, r
    # first-token latency 0.57x (128 in) and 0.77x (2048 in): TensorRT-LLM v0.5's context
    # phase ran below pysim's GEMM efficiency. Band [0.45, 0.9]
    for r in ttft:
        assert 0.45 <= r.ratio <= 0.9, r
    # a longer prompt costs more, closer to compute-bound, so closer to the published figure
    short, long = rows["batch 1, 128 in"], rows["batch 1, 2048 in"]
    assert short.simulated < long.simulated and short.ratio < long.ratio


def test_vllm_anchor_batched_requests_match_figure_13a() -> None:
    """The Orca baselines' concurrency is set by what they reserve and how a buddy allocator
    places it: pysim's average batch at overload against the vLLM paper's Fig. 13a (OPT-13B,
    ShareGPT, 2 requests/s, where every Orca queue is full and vLLM is near its knee)."""
    mod = _script("vllm_anchor")
    cost = sv.CostModel(pysim.gpu.preset(mod.GPU), sv.model(mod.MODEL))
    got = {k: mod.mean_batched(mod.SYSTEMS[k], cost, duration_s=60.0)
           for k in mod.PUBLISHED_BATCHED}
    ratio = {k: got[k] / mod.PUBLISHED_BATCHED[k] for k in got}
    # 2,048-token reservations: 7 fit the 15,824 slots (buddy: 512 + 256 + 128 blocks)
    assert 6.5 <= got["orca max"] <= 7.0
    # pysim 9.4 (published 9.81) and 12.1 (13.62); exact, unrounded Oracle reservations
    # batched 20.8 (ratio 1.53) and the old Pow2 of the whole length 10.0 before the buddy
    assert 0.85 <= ratio["orca pow2"] <= 1.1
    assert 0.8 <= ratio["orca oracle"] <= 1.1
    # vLLM holds what its sequences have written: 32 (published 30.42 at 2 req/s)
    assert 0.9 <= ratio["vllm"] <= 1.25
    assert got["orca max"] < got["orca pow2"] < got["orca oracle"] < got["vllm"]


def test_vllm_anchor_bisection_brackets_a_monotone_crossing() -> None:
    """The bisection's bracket: deterministic, within the stated tolerance, and around a known
    crossing (a stand-in latency, linear in the rate, that crosses 0.2 at 2.5 req/s)."""
    mod = _script("vllm_anchor")

    def measure(rate: float) -> float:
        return 0.2 * rate / 2.5

    c = mod.bisect_crossing(measure, 0.2, start=1.0, tolerance=0.01)
    assert c.passing <= 2.5 < c.failing and c.failing / c.passing <= 1.01
    assert [r for r, _ in c.probes[:3]] == [1.0, 2.0, 4.0]  # doubling to bracket it
    assert c == mod.bisect_crossing(measure, 0.2, start=1.0, tolerance=0.01)
    down = mod.bisect_crossing(measure, 0.2, start=8.0, tolerance=0.001)  # halving
    assert down.passing <= 2.5 < down.failing <= 1.001 * down.passing


def test_vllm_anchor_rate_at_equal_latency() -> None:
    """vLLM's request rate over Orca's at a normalized latency of 0.2 s/token, bisected to
    5 %, on 300 s traces (CI's budget: 14 s; 3.36x and 1.92x. The 1-hour protocol of
    examples/serving/vllm_anchor.py gives 3.08x and 1.87x, 900 s traces at 2 % 3.1x and
    1.9x)."""
    mod = _script("vllm_anchor")
    out = mod.compute(("vllm", "orca max", "orca oracle"), duration_s=300.0, tolerance=0.05,
                      batched=False)
    c = out["crossings"]
    for x in c.values():
        assert x.failing / x.passing <= 1.05
    over_max = c["vllm"].rate / c["orca max"].rate
    over_oracle = c["vllm"].rate / c["orca oracle"].rate
    # pysim 3.1x; published 2.7-8x over Orca (Max) (Sec. 6.2, three OPT sizes; 13B the
    # smallest gain) and the abstract's 2-4x. A fixed count of 600 requests, which let vLLM's
    # queue build for only two minutes, gave 4.16x (4.91 vs 1.18 req/s)
    assert 2.7 <= over_max <= 4.0, over_max
    # pysim 1.9x; published 1.7-2.7x. Exact (no buddy) Oracle reservations gave 1.26x
    assert 1.7 <= over_oracle <= 2.7, over_oracle
