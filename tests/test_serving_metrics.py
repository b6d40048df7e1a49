"""Serving metrics against independent computations (goodput, requests/s, KV utilisation over
time, energy per token), throughput saturating at the batch roofline, and a serving run on an
accelerator config (not a GPU preset) end to end."""

from __future__ import annotations

import math

import numpy as np
import pytest

import pysim
import pysim.serving as sv
from pysim.serving.cost import IterationShape

A100 = pysim.gpu.preset("a100")
SPEC = sv.model("llama2_7b")


@pytest.fixture(scope="module")
def cost() -> sv.CostModel:
    return sv.CostModel(A100, SPEC)


@pytest.fixture(scope="module")
def loaded(cost: sv.CostModel) -> sv.ServingResult:
    reqs = sv.poisson(12.0, n=120, prompt_tokens=("uniform", 32, 1024),
                      output_tokens=("uniform", 1, 200), seed=5)
    return sv.serve(A100, SPEC, reqs, cost_model=cost)


def test_requests_per_second_and_goodput_limits(loaded: sv.ServingResult) -> None:
    r = loaded.requests
    span = r["finish_s"].max() - r["arrival_s"].min()
    s = loaded.summary(math.inf, math.inf)
    assert s.throughput_requests_per_s == pytest.approx(len(r) / span, rel=1e-12)
    assert s.throughput_tokens_per_s == pytest.approx(r["output_tokens"].sum() / span,
                                                      rel=1e-12)
    # infinite targets: every request is good, goodput = requests/s
    assert s.goodput_requests_per_s == pytest.approx(s.throughput_requests_per_s, rel=1e-12)
    # zero targets: no request has a zero TTFT
    assert loaded.summary(0.0, 0.0).goodput_requests_per_s == 0.0
    assert loaded.summary(0.0, None).goodput_requests_per_s == 0.0
    # in between: the count of requests within both targets, over the makespan
    ttft, tpot = float(r["ttft_s"].median()), float(r["tpot_s"].median())
    g = loaded.summary(ttft, tpot).goodput_requests_per_s
    good = sum(1 for a, b in zip(r["ttft_s"], r["tpot_s"], strict=True)
               if a <= ttft and (math.isnan(b) or b <= tpot))
    assert g == pytest.approx(good / span, rel=1e-12)
    assert 0 < g < s.throughput_requests_per_s
    assert loaded.summary(ttft, None).goodput_requests_per_s <= s.throughput_requests_per_s


def test_kv_utilisation_over_time_and_energy_per_token(cost: sv.CostModel) -> None:
    prompt, out, block = 100, 40, 16
    res = sv.serve(A100, SPEC, [sv.Request(0, 0.0, prompt, out)], cost_model=cost,
                   block_size=block)
    it = res.iterations
    # after the prefill the sequence holds ceil(100 / 16) blocks, then one more token per
    # decode; the last iteration finishes the request and frees them
    expect = [math.ceil((prompt + i) / block) for i in range(out - 1)] + [0]
    assert it["kv_blocks_used"].tolist() == expect
    util = np.array(expect) / res.kv_blocks
    assert it["kv_utilisation"].to_numpy() == pytest.approx(util, rel=1e-12)
    s = res.summary()
    secs = it["seconds"].to_numpy()
    assert s.kv_utilisation_mean == pytest.approx(float((util * secs).sum() / secs.sum()),
                                                  rel=1e-12)
    assert s.kv_utilisation_peak == pytest.approx(util.max(), rel=1e-12)
    # energy: the prefill's and each decode step's joules from the cost model, per token
    joules = cost.iteration(IterationShape(prompt, 1, prefills=((prompt, prompt),))).joules
    joules += sum(cost.iteration(IterationShape(1, 1, decode_batch=1,
                                                decode_kv_mean=prompt + i + 1)).joules
                  for i in range(out - 1))
    assert s.energy_per_token_j == pytest.approx(joules / out, rel=1e-9)


def test_throughput_saturates_at_the_batch_roofline(cost: sv.CostModel) -> None:
    """Fixed lengths, every request at once: continuous batching holds max_batch sequences,
    so tokens/s approaches max_batch / t_decode(max_batch) at the mean context."""
    batch, prompt, out = 64, 128, 512
    reqs = [sv.Request(i, 0.0, prompt, out) for i in range(4 * batch)]
    res = sv.serve(A100, SPEC, reqs, cost_model=cost, max_batch=batch)
    t_decode = cost.iteration(IterationShape(batch, batch, decode_batch=batch,
                                             decode_kv_mean=prompt + out / 2)).seconds
    roofline = batch / t_decode
    got = res.summary().throughput_tokens_per_s
    # below it by the prefill iterations (4 x 64 prompts of 128) and the batch's ramp-down
    assert 0.75 * roofline <= got <= 1.0 * roofline, (got, roofline)
    assert res.iterations["decode_batch"].max() == batch
    # a batch of 1 is far below: the roofline is the batch's, not the hardware's peak
    t1 = cost.iteration(IterationShape(1, 1, decode_batch=1,
                                       decode_kv_mean=prompt + out / 2)).seconds
    assert got > 10 / t1


def test_serving_on_an_accelerator_config_end_to_end() -> None:
    """configs/edge_npu.yaml (a systolic NPU, LPDDR4 at 12.8 GB/s, no stated capacity) serving
    TinyLlama-1.1B int8 in 4 GB. A lone request's end-to-end latency equals its prefill plus
    its decode steps, each composed here by hand from pysim.simulate of the one-layer
    workloads x 22 layers + the LM head (within 3 %: the serving cost interpolates attention
    between grid points), and a decode step cannot beat reading the weights once."""
    npu = pysim.load_hardware("configs/edge_npu.yaml")
    spec = sv.model("tinyllama_1b", precision="int8")
    prompt, out = 64, 6
    res = sv.serve(npu, spec, [sv.Request(0, 0.0, prompt, out)], memory_gb=4.0)
    r = res.requests.iloc[0]

    def lat(w: object) -> float:
        return float(pysim.simulate(npu, w).latency_s)

    prefill = spec.layers * (lat(spec.block_workload(prompt)) + lat(spec.ffn_workload(prompt))
                             + lat(spec.attention_workload(1, prompt, prompt))) \
        + lat(spec.head_workload(1))
    per_layer = lat(spec.block_workload(1)) + lat(spec.ffn_workload(1))
    decodes = [spec.layers * (per_layer + lat(spec.attention_workload(1, 1, prompt + i + 1)))
               + lat(spec.head_workload(1)) for i in range(out - 1)]
    assert r.ttft_s == pytest.approx(prefill, rel=0.03)
    assert r.e2e_s == pytest.approx(prefill + sum(decodes), rel=0.03)
    floor = spec.weight_bytes / (npu.dram.bandwidth_gb_per_s * 1e9)
    assert r.tpot_s >= floor
    s = res.summary()
    assert s.requests == 1 and s.energy_per_token_j > 0 and res.kv_blocks > 0
    # and a loaded run: every token emitted once, Little's law on the event log
    reqs = sv.poisson(0.5, n=12, prompt_tokens=("uniform", 16, 256), output_tokens=8, seed=2)
    run = sv.serve(npu, spec, reqs, memory_gb=4.0, cost_model=res.cost)
    assert run.iterations["emitted"].sum() == 12 * 8
    lam = 12 / run.makespan_s
    assert run.mean_in_system() == pytest.approx(lam * run.requests["e2e_s"].mean(), rel=1e-9)
