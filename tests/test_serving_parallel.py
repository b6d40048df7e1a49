"""Tensor and pipeline parallelism in the serving simulation (pysim/serving/parallel.py): one
device is today's model bit for bit, the all-reduce and pipeline terms follow their formulas,
memory pools across devices, and throughput grows with tp less than linearly."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import pysim
import pysim.serving as sv
from pysim.errors import ConfigError
from pysim.interconnect import NCCL_PROTOCOLS
from pysim.serving.cost import Cost, IterationShape
from pysim.serving.parallel import Link, ParallelConfig, shard

A100 = pysim.gpu.preset("a100")
SPEC = sv.model("llama2_7b")


@pytest.fixture(scope="module")
def cost() -> sv.CostModel:
    return sv.CostModel(A100, SPEC)


def _reqs(n: int = 40, rate: float = 8.0) -> list[sv.Request]:
    return sv.poisson(rate, n=n, prompt_tokens=("uniform", 32, 512),
                      output_tokens=("uniform", 8, 96), seed=5)


@pytest.mark.parametrize("scheduler", ["continuous", "chunked", "static"])
def test_one_device_is_todays_model_exactly(cost: sv.CostModel, scheduler: str) -> None:
    reqs = _reqs()
    today = sv.serve(A100, SPEC, reqs, cost_model=cost, scheduler=scheduler)
    one = sv.serve(A100, SPEC, reqs, scheduler=scheduler,
                   parallel=ParallelConfig(tp=1, pp=1, micro_batches=8))
    pd.testing.assert_frame_equal(today.requests, one.requests, check_exact=True)
    pd.testing.assert_frame_equal(today.iterations, one.iterations, check_exact=True)
    assert today.kv_blocks == one.kv_blocks
    # and an iteration is the sum of its pieces x layers + head + one launch, as before
    shape = IterationShape(300, 4, decode_batch=3, decode_kv_mean=700.0,
                           prefills=((297, 297),))
    layer = (cost.block(300) + cost.ffn(300) + cost.attention(3, 1, 700.0)
             + cost.attention(1, 297, 297))
    want = layer.scale(32) + cost.head(4) + Cost(cost._launch, 0.0)
    assert cost.iteration(shape) == want


def test_ring_allreduce_formula() -> None:
    link = Link(300e9, 1.9e-6)
    nbytes = 8 * 4096 * 2
    for n in (2, 4, 8):
        assert link.allreduce_s(nbytes, n) == pytest.approx(
            2 * (n - 1) / n * nbytes / 300e9 + 2 * (n - 1) * 1.9e-6, rel=1e-12)
    assert link.allreduce_s(nbytes, 1) == 0.0
    # NVLink 600 GB/s bidirectional: 300 per direction; NCCL's protocols, no extra call cost
    nvlink = sv.parallel.link_of(A100)
    assert nvlink is not None and nvlink.protocols == NCCL_PROTOCOLS["nvlink"]
    assert (nvlink.bytes_per_s, nvlink.call_s) == pytest.approx((300e9, 0.0), rel=1e-12)
    ring = sv.parallel.link_of(A100.replace(collectives="ring"))
    assert ring is not None and ring.protocols == ()
    assert (ring.bytes_per_s, ring.latency_s) == pytest.approx((300e9, 1.9e-6), rel=1e-12)
    # one kernel launch per collective call (the preset's launch_overhead_us, a floor)
    assert ring.call_s == pytest.approx(A100.launch_overhead_us * 1e-6, rel=1e-12)


def test_nccl_call_overhead_is_paid_once_per_call() -> None:
    link = sv.parallel.link_of(A100.replace(collectives="ring"))
    assert link is not None
    tiny = 2.0  # one fp16 value: the bytes' time is ~1e-11 s
    # two devices: the call + 2 ring steps (reduce-scatter, all-gather): 4 + 2 x 1.9 us, NCCL's
    # own LL prediction for a tiny all-reduce on two GPUs (6.6 + 2 x 0.6, tuning.cc)
    assert link.allreduce_s(tiny, 2) == pytest.approx(7.8e-6, rel=1e-5)
    # once per call, not per step: 4 + 14 x 1.9 on 8 devices (per step: 14 x 5.9 = 82.6)
    assert link.allreduce_s(tiny, 8) == pytest.approx(4e-6 + 14 * 1.9e-6, rel=1e-5)
    bare = Link(link.bytes_per_s, link.latency_s)
    for n in (2, 4, 8):
        assert link.allreduce_s(1e6, n) - bare.allreduce_s(1e6, n) == pytest.approx(4e-6)
        assert link.allgather_s(1e6, n) - bare.allgather_s(1e6, n) == pytest.approx(4e-6)
    assert link.p2p_s(1e6) - bare.p2p_s(1e6) == pytest.approx(4e-6)
    assert link.allreduce_s(tiny, 1) == link.allgather_s(tiny, 1) == 0.0  # no call at all
    # a hand-written interconnect states none unless told
    hw = A100.replace(collectives="ring").hardware.with_overrides(
        {"interconnect.call_overhead_us": 0.0})
    assert sv.parallel.link_of(hw) == bare
    # a preset can state its own (e.g. NCCL's LL128 base latency, 14 us)
    nccl = sv.parallel.link_of(A100.replace(collectives="ring", nccl_call_overhead_us=14.0))
    assert nccl is not None and nccl.call_s == pytest.approx(14e-6)
    with pytest.raises(ConfigError, match="nccl_call_overhead_us must be >= 0, got -1"):
        A100.replace(nccl_call_overhead_us=-1.0)


def test_tp_iteration_is_the_shards_pieces_plus_two_allreduces_per_layer() -> None:
    tp = 4
    cm = sv.CostModel(A100, SPEC, parallel=ParallelConfig(tp=tp))
    assert cm._piece == shard(SPEC, tp)
    assert (cm._piece.heads, cm._piece.kv_heads, cm._piece.ffn) == (8, 8, 2752)
    tokens, dec, kv = 64, 64, 900.0
    shape = IterationShape(tokens, dec, decode_batch=dec, decode_kv_mean=kv)
    link = sv.parallel.link_of(A100)
    assert link is not None
    act = tokens * SPEC.hidden * 2
    layer = cm.block(tokens) + cm.ffn(tokens) + cm.attention(dec, 1, kv)
    per_layer = layer.seconds + 2 * link.allreduce_s(act, tp)
    head = cm.head(dec).seconds + link.allgather_s(dec * SPEC.vocab * 2, tp)
    got = cm.iteration(shape)
    assert got.seconds == pytest.approx(32 * per_layer + head + cm._launch, rel=1e-12)
    assert got.joules == pytest.approx(tp * (32 * layer.joules + cm.head(dec).joules),
                                       rel=1e-12)
    # the all-reduce's share of the iteration grows with tp
    one = sv.CostModel(A100, SPEC).iteration(shape).seconds
    assert one / 4 < got.seconds < one


def test_pipeline_is_gpipe_schedule() -> None:
    pp, m = 4, 4
    cm = sv.CostModel(A100, SPEC, parallel=ParallelConfig(pp=pp, micro_batches=m))
    shape = IterationShape(128, 128, decode_batch=128, decode_kv_mean=500.0)
    mb = 128 / m
    stage = (cm.block(mb) + cm.ffn(mb) + cm.attention(mb, 1, 500.0)).seconds * 32 / pp
    p2p = cm.link.p2p_s(mb * SPEC.hidden * 2)  # type: ignore[union-attr]
    want = (pp - 1) * (stage + p2p) + m * (stage + cm.head(mb).seconds) + cm._launch
    assert cm.iteration(shape).seconds == pytest.approx(want, rel=1e-12)
    # the bubble: with no transfer or head, (m + pp - 1) stage slots of which pp - 1 idle
    assert (want - cm._launch - m * cm.head(mb).seconds - (pp - 1) * p2p) == pytest.approx(
        (m + pp - 1) * stage, rel=1e-12)
    # a lone decode sequence cannot be split: one micro-batch, pp stages in a row
    one = IterationShape(1, 1, decode_batch=1, decode_kv_mean=500.0)
    assert ParallelConfig(pp=pp).micro_batches_for(one.sequences) == 1


def test_memory_pools_across_devices_and_a_big_model_fits_with_tp2() -> None:
    gpu = pysim.gpu.preset("a100_40gb")
    spec = sv.model("llama2_13b")
    req = [sv.Request(0, 0.0, 64, 8)]
    with pytest.raises(ConfigError, match=r"model does not fit \(llama2_13b on a100_40gb\)"):
        sv.serve(gpu, spec, req, memory_gb=20.0)
    res = sv.serve(gpu, spec, req, memory_gb=20.0, parallel=ParallelConfig(tp=2))
    assert res.kv_blocks == math.floor((0.9 * 40e9 - spec.weight_bytes)
                                       / (16 * spec.kv_bytes_per_token))
    with pytest.raises(ConfigError, match=r"model does not fit \(llama2_13b on a100_40gb, tp 2 "
                                          r"x pp 1 = 2 devices\): weights 26\.\d\d GB \+ reserve "
                                          r"0\.00 GB vs 0\.9 x 20\.00 GB"):
        sv.serve(gpu, spec, req, memory_gb=10.0, parallel=ParallelConfig(tp=2))
    # llama2_70b (138 GB) on 80 GB A100s: two devices hold it
    big = sv.model("llama2_70b")
    assert big.weight_bytes / 1e9 == pytest.approx(138, abs=1)
    with pytest.raises(ConfigError, match="weights 137.9"):
        sv.capacity_blocks(80 * 2**30, big.weight_bytes, big.kv_bytes_per_token, 16)
    assert sv.capacity_blocks(2 * 80 * 2**30, big.weight_bytes, big.kv_bytes_per_token, 16) > 0


def test_throughput_grows_with_tp_less_than_linearly() -> None:
    reqs = [sv.Request(i, 0.0, 128, 64) for i in range(96)]  # saturated; fits one device
    thr = {}
    for tp in (1, 2, 4):
        res = sv.serve(A100, SPEC, reqs, parallel=ParallelConfig(tp=tp))
        assert res.summary().preemptions == 0
        thr[tp] = res.summary().throughput_tokens_per_s
    assert thr[1] < thr[2] < thr[4]
    assert thr[2] < 2 * thr[1] and thr[4] < 4 * thr[1]
    # a slow link (PCIe-like, 32 GB/s, 10 us per step) makes the all-reduce matter more
    slow = A100.hardware.with_overrides({"interconnect.bandwidth_gb_per_s": 32.0,
                                         "interconnect.collectives": "ring",
                                         "interconnect.latency_us": 10.0})
    res = sv.serve(slow, SPEC, reqs, parallel=ParallelConfig(tp=4))
    assert res.summary().throughput_tokens_per_s < thr[4]


@pytest.mark.parametrize(("kw", "match"), [
    ({"tp": 0}, r"parallel: tp must be an int >= 1, got 0"),
    ({"pp": 1.5}, r"parallel: pp must be an int >= 1, got 1.5"),
    ({"micro_batches": 0}, r"parallel: micro_batches must be an int >= 1, got 0"),
])
def test_bad_parallel_settings(kw: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ParallelConfig(**kw)


def test_unsplittable_models_and_links_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"tp 3 must divide llama2_7b's heads \(32\)"):
        sv.CostModel(A100, SPEC, parallel=ParallelConfig(tp=3))
    with pytest.raises(ConfigError, match=r"pp 40 exceeds llama2_7b's 32 layers"):
        sv.serve(A100, SPEC, [sv.Request(0, 0.0, 8, 8)], parallel=ParallelConfig(pp=40))
    with pytest.raises(ConfigError, match=r"hardware 'l40s' states no interconnect"):
        sv.CostModel(pysim.gpu.preset("l40s"), SPEC, parallel=ParallelConfig(tp=2))
    with pytest.raises(ConfigError, match="cost_model prices"):
        sv.serve(A100, SPEC, [sv.Request(0, 0.0, 8, 8)], cost_model=sv.CostModel(A100, SPEC),
                 parallel=ParallelConfig(tp=2))


def test_cli_takes_parallel_and_speculative_flags(capsys) -> None:
    from pysim.cli import main

    argv = ["serve", "gpu:a100", "llama2_7b", "--rate", "2", "--duration", "2", "--seed", "1",
            "--no-progress", "--prompt-tokens", "32", "64", "--output-tokens", "8", "16"]
    assert main([*argv, "--tp", "2", "--pp", "2"]) == 0
    assert "tp 2 x pp 2" in capsys.readouterr().out
    assert main([*argv, "--draft", "llama_68m", "--gamma", "3", "--alpha", "0.5"]) == 0
    assert "draft llama_68m gamma 3 alpha 0.5 (1.88 tokens/step expected)" in \
        capsys.readouterr().out
    assert main([*argv, "--draft", "llama_68m", "--alpha", "1.5"]) != 0
    assert "speculative: alpha must be a number in [0, 1), got 1.5" in capsys.readouterr().err
