"""Serving simulation: hand-computable cases, conservation, Little's law, scheduler order,
KV capacity and policies (pysim/serving)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pysim
import pysim.serving as sv
from pysim.serving.cost import IterationShape

DATA = Path(__file__).parent / "data" / "serving"
A100 = pysim.gpu.preset("a100")
SPEC = sv.model("llama2_7b")


@pytest.fixture(scope="module")
def cost() -> sv.CostModel:
    return sv.CostModel(A100, SPEC)  # one cache for the module: simulate runs once per shape


def test_one_request_alone_is_prefill_plus_decodes(cost: sv.CostModel) -> None:
    prompt, out = 300, 5
    res = sv.serve(A100, SPEC, [sv.Request(0, 1.0, prompt, out)], cost_model=cost)
    r = res.requests.iloc[0]
    prefill = cost.iteration(IterationShape(prompt, 1, prefills=((prompt, prompt),))).seconds
    decodes = [cost.iteration(IterationShape(1, 1, decode_batch=1,
                                             decode_kv_mean=prompt + i + 1)).seconds
               for i in range(out - 1)]
    assert r.scheduled_s == 1.0  # no queueing
    assert r.ttft_s == pytest.approx(prefill, rel=1e-12)
    assert r.e2e_s == pytest.approx(prefill + sum(decodes), rel=1e-12)
    assert r.tpot_s == pytest.approx(sum(decodes) / (out - 1), rel=1e-12)
    assert res.iterations["emitted"].tolist() == [1] * out


def test_single_stream_matches_the_zoo_model_simulated_whole(cost: sv.CostModel) -> None:
    """The per-piece, per-layer decomposition reproduces simulate() on pysim.zoo's
    LLaMA-2-7B (int8, naive attention, as the zoo builds it) within 5 %."""
    spec = SPEC.with_(precision="int8", attention="naive")
    cm = sv.CostModel(A100, spec)
    for seq_len in (256, 1000):
        whole = pysim.simulate(A100, pysim.zoo.load("llama2_7b", seq_len=seq_len))
        mine = cm.iteration(IterationShape(seq_len, 1, prefills=((seq_len, seq_len),)))
        assert mine.seconds == pytest.approx(whole.latency_s, rel=0.05)
    whole = pysim.simulate(A100, pysim.zoo.load("llama2_7b", phase="decode", batch=8,
                                                context_len=700))
    mine = cm.iteration(IterationShape(8, 8, decode_batch=8, decode_kv_mean=701))
    assert mine.seconds == pytest.approx(whole.latency_s, rel=0.05)
    assert mine.joules == pytest.approx(whole.energy_j, rel=0.1)


def _run(cost: sv.CostModel, rate: float, n: int = 150, seed: int = 3,
         **kw: object) -> sv.ServingResult:
    reqs = sv.poisson(rate, n=n, prompt_tokens=("uniform", 32, 1024),
                      output_tokens=("uniform", 8, 256), seed=seed)
    return sv.serve(A100, SPEC, reqs, cost_model=cost, **kw)


@pytest.mark.parametrize("scheduler", sv.SCHEDULERS)
def test_conservation_and_littles_law(cost: sv.CostModel, scheduler: str) -> None:
    res = _run(cost, 6.0, scheduler=scheduler)
    r, it = res.requests, res.iterations
    assert len(r) == 150 and r["id"].tolist() == list(range(150))
    assert it["emitted"].sum() == r["output_tokens"].sum()  # every token emitted once
    assert (r["arrival_s"] <= r["scheduled_s"]).all()
    assert (r["scheduled_s"] < r["first_token_s"]).all()
    assert (r["first_token_s"] <= r["finish_s"]).all()
    # one iteration at a time: busy time fits in the makespan
    ends = it["start_s"] + it["seconds"]
    assert (it["start_s"].iloc[1:].to_numpy() >= ends.iloc[:-1].to_numpy() - 1e-12).all()
    assert it["seconds"].sum() <= res.makespan_s + r["arrival_s"].min() + 1e-9
    # Little's law: time-average in system (event log) = arrival rate x mean time in system
    lam = len(r) / res.makespan_s
    assert res.mean_in_system() == pytest.approx(lam * r["e2e_s"].mean(), rel=1e-9)
    assert (it["kv_blocks_used"] <= res.kv_blocks + 1e-9).all()


def test_throughput_never_exceeds_what_iterations_allow(cost: sv.CostModel) -> None:
    res = _run(cost, 50.0)  # saturated
    s, it = res.summary(), res.iterations
    best = (it["emitted"] / it["seconds"]).max()  # fastest any iteration emitted tokens
    assert s.throughput_tokens_per_s <= best
    # and each decode iteration is at least the weights' read time at HBM bandwidth
    floor = SPEC.weight_bytes / (A100.hbm_bandwidth_gb_per_s * 1e9)
    assert it.loc[it["decode_batch"] > 0, "seconds"].min() >= 0.9 * floor


def test_continuous_batching_beats_static_at_load(cost: sv.CostModel) -> None:
    static = _run(cost, 20.0, scheduler="static").summary()
    cont = _run(cost, 20.0, scheduler="continuous").summary()
    assert cont.throughput_tokens_per_s > 1.2 * static.throughput_tokens_per_s
    assert cont.e2e_p50_s < static.e2e_p50_s


def test_low_load_latency_tends_to_the_single_stream(cost: sv.CostModel) -> None:
    reqs = [sv.Request(i, 10.0 * i, 256, 32) for i in range(5)]  # far apart
    res = sv.serve(A100, SPEC, reqs, cost_model=cost)
    alone = sv.serve(A100, SPEC, [reqs[0]], cost_model=cost).requests["e2e_s"].iloc[0]
    assert res.requests["e2e_s"].to_numpy() == pytest.approx([alone] * 5, rel=1e-9)


def test_deterministic_with_a_seed(cost: sv.CostModel) -> None:
    a = _run(cost, 10.0, n=60, scheduler="chunked")
    b = _run(cost, 10.0, n=60, scheduler="chunked")
    pd.testing.assert_frame_equal(a.requests, b.requests)
    pd.testing.assert_frame_equal(a.iterations, b.iterations)
    c = _run(cost, 10.0, n=60, seed=4, scheduler="chunked")
    assert not a.requests["arrival_s"].equals(c.requests["arrival_s"])


def test_chunked_prefill_keeps_to_its_token_budget(cost: sv.CostModel) -> None:
    res = _run(cost, 20.0, scheduler="chunked", token_budget=256)
    it = res.iterations
    assert (it["tokens"] <= np.maximum(256, it["decode_batch"])).all()
    assert it["prefill_tokens"].max() <= 256


@settings(max_examples=6, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(memory_gb=st.floats(15.4, 17.0), preemption=st.sampled_from(["recompute", "swap"]))
def test_preemptions_vanish_once_the_cache_holds_every_request(
        cost: sv.CostModel, memory_gb: float, preemption: str) -> None:
    """Scarce memory preempts; a cache that holds every request's whole footprint never
    does. Between the two the count is NOT monotone in capacity (docs/serving.md: a larger
    cache admits more sequences that then outgrow it), so that is not asserted."""
    reqs = [sv.Request(i, 0.0, 200, 300) for i in range(40)]  # all at once: decode-heavy
    scarce = sv.serve(A100, SPEC, reqs, cost_model=cost, memory_gb=memory_gb,
                      preemption=preemption)
    whole = 40 * math.ceil(500 / 16) * 16 * SPEC.kv_bytes_per_token
    ample = sv.serve(A100, SPEC, reqs, cost_model=cost, preemption=preemption,
                     memory_gb=(SPEC.weight_bytes + whole) / 0.9 / 1e9 * 1.02)
    assert scarce.kv_blocks < ample.kv_blocks
    assert scarce.summary().preemptions > 0
    assert ample.summary().preemptions == 0
    for run in (scarce, ample):
        assert run.iterations["emitted"].sum() == 40 * 300


def test_preemption_happens_when_memory_is_short_and_swap_costs_time(
        cost: sv.CostModel) -> None:
    reqs = [sv.Request(i, 0.0, 200, 400) for i in range(48)]
    rec = sv.serve(A100, SPEC, reqs, cost_model=cost, memory_gb=15.5)
    swap = sv.serve(A100, SPEC, reqs, cost_model=cost, memory_gb=15.5, preemption="swap")
    assert rec.summary().preemptions > 0 and swap.summary().preemptions > 0
    assert swap.iterations["swap_s"].sum() > 0
    assert rec.iterations["swap_s"].sum() == 0


def test_kv_compression_cuts_decode_attention_and_memory(cost: sv.CostModel) -> None:
    reqs = [sv.Request(i, 0.0, 3000, 64) for i in range(16)]
    full = sv.serve(A100, SPEC, reqs, cost_model=cost)
    h2o = sv.serve(A100, SPEC, reqs, cost_model=cost, kv_policy=sv.HeavyHitter(0.032))
    win = sv.serve(A100, SPEC, reqs, cost_model=cost, kv_policy=sv.RecentWindow(92, sink=4))
    for small in (h2o, win):
        d_full = full.iterations.query("decode_batch > 0")
        d_small = small.iterations.query("decode_batch > 0")
        assert d_small["seconds"].mean() < d_full["seconds"].mean()
        assert d_small["kv_blocks_used"].max() < d_full["kv_blocks_used"].max()


def test_cake_splits_the_total_budget_across_layers() -> None:
    prefs = [1.0 + (i % 4) for i in range(32)]
    cake = sv.Cake(0.032, preference=prefs)
    budgets = cake.layer_budgets(10_000, 32)
    assert sum(budgets) == pytest.approx(32 * 320, abs=32)
    assert budgets[3] > budgets[0]  # preferred layers keep more
    assert cake.kept(10_000, 10_000, 32) == pytest.approx(320, abs=1)
    assert cake.kept(100, 10_000, 32) == 100  # never more than the context


def test_capacity_is_memory_minus_weights_over_block_bytes() -> None:
    blocks = sv.capacity_blocks(80e9, SPEC.weight_bytes, SPEC.kv_bytes_per_token, 16)
    assert blocks == math.floor((0.9 * 80e9 - SPEC.weight_bytes)
                                / (16 * SPEC.kv_bytes_per_token))
    assert SPEC.kv_bytes_per_token == 2 * 32 * 4096 * 2  # 0.5 MiB per token (vLLM sec. 3)


def test_moe_fractional_top_k_is_an_average() -> None:
    rng = np.random.default_rng(0)
    counts = sv.Routing().expert_tokens(20_000, 8, 1.7, rng)
    assert sum(counts) == pytest.approx(1.7 * 20_000, rel=0.01)
    assert max(counts) <= 20_000
    skew = sv.Routing(("zipf", 1.5)).expert_tokens(20_000, 8, 2, rng)
    assert sum(skew) == 40_000 and skew[0] > skew[-1]


def test_moe_serving_runs_and_prices_the_routed_experts() -> None:
    mix = sv.model("mixtral_8x7b", precision="int8")
    reqs = sv.poisson(2.0, n=12, prompt_tokens=256, output_tokens=16, seed=0)
    h100 = pysim.gpu.preset("h100")
    one = sv.serve(h100, mix.with_(top_k=1), reqs)
    two = sv.serve(h100, mix, reqs)
    assert two.summary().e2e_p50_s > one.summary().e2e_p50_s


def test_early_exit_straggler_costs_more_than_rebatching(cost: sv.CostModel) -> None:
    exits = [0.0] * 15 + [0.5] + [0.0] * 16  # half the tokens leave after layer 16
    reqs = [sv.Request(i, 0.0, 128, 64) for i in range(32)]
    full = sv.serve(A100, SPEC, reqs, cost_model=cost)
    strag = sv.serve(A100, SPEC, reqs, cost_model=cost, exit_profile=sv.ExitProfile(exits))
    rebatch = sv.serve(A100, SPEC, reqs, cost_model=cost,
                       exit_profile=sv.ExitProfile(exits, rebatch=True))
    e2e = [r.summary().e2e_p50_s for r in (full, strag, rebatch)]
    assert e2e[2] < e2e[1] <= e2e[0]
    assert strag.iterations["layers"].min() == 16 or strag.iterations["layers"].max() == 32


def test_trace_csv_and_jsonl_round_trip(tmp_path: Path) -> None:
    reqs = sv.load_trace(DATA / "small_trace.csv")
    assert [r.prompt_tokens for r in reqs][:3] == [128, 512, 64]
    back = sv.load_trace(sv.write_trace(reqs, tmp_path / "t.csv"))
    assert back == reqs
    jl = tmp_path / "t.jsonl"
    jl.write_text("\n".join(f'{{"arrival_s": {r.arrival_s}, "prompt_tokens": '
                            f'{r.prompt_tokens}, "output_tokens": {r.output_tokens}}}'
                            for r in reqs))
    assert sv.load_trace(jl) == reqs


def test_poisson_rate_and_duration() -> None:
    reqs = sv.poisson(5.0, duration_s=400.0, seed=1)
    assert len(reqs) == pytest.approx(2000, rel=0.1)
    assert max(r.arrival_s for r in reqs) < 400.0
    gaps = np.diff([r.arrival_s for r in reqs])
    assert gaps.mean() == pytest.approx(0.2, rel=0.1)


def _gb(blocks: int) -> float:
    """memory_gb that leaves about ``blocks`` KV blocks of 16 tokens beside the weights."""
    return (SPEC.weight_bytes + blocks * 16 * SPEC.kv_bytes_per_token) / 0.9 / 1e9


@pytest.mark.parametrize("reservation", ["max", "pow2", "oracle"])
def test_orca_reserves_at_admission_and_never_preempts(cost: sv.CostModel,
                                                       reservation: str) -> None:
    res = _run(cost, 6.0, scheduler="orca", reservation=reservation, memory_gb=_gb(1200))
    assert res.summary().preemptions == 0
    assert len(res.requests) == 150 and res.requests["output_tokens"].sum() > 0
    # a request's whole reservation is held from admission to the end
    assert (res.iterations["kv_blocks_used"] <= res.kv_blocks).all()


def test_tighter_orca_reservations_admit_more_and_vllm_admits_most(cost: sv.CostModel) -> None:
    # scarce memory: what each scheduler holds per request sets how many run at once
    kw = dict(memory_gb=_gb(1200), n=120)
    peak = {}
    for label, chosen in {"max": dict(scheduler="orca", reservation="max"),
                            "pow2": dict(scheduler="orca", reservation="pow2"),
                            "oracle": dict(scheduler="orca", reservation="oracle"),
                            "vllm": dict(scheduler="continuous")}.items():
        res = _run(cost, 20.0, **chosen, **kw)
        peak[label] = int(res.iterations["running"].max())
    assert peak["max"] < peak["pow2"] <= peak["oracle"] <= peak["vllm"]


def test_a_bad_reservation_names_the_choices() -> None:
    with pytest.raises(pysim.ConfigError, match="reservation must be one of.*max.*pow2.*oracle"):
        sv.ServeConfig(scheduler="orca", reservation="all")
