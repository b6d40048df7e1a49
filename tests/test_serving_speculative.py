"""Speculative decoding in the serving simulation (pysim/serving/speculative.py): the tokens
per step have Leviathan et al.'s closed-form mean, alpha = 0 is one token at a higher cost,
and a lone request's per-token latency is (gamma draft steps + verification) / E[tokens]."""

from __future__ import annotations

import math

import numpy as np
import pytest

import pysim
import pysim.serving as sv
from pysim.errors import ConfigError, WorkloadError
from pysim.serving.cost import IterationShape
from pysim.serving.speculative import (
    SpeculativeConfig,
    expected_tokens,
    speedup,
    step_tokens,
    tokens_variance,
)

A100 = pysim.gpu.preset("a100")
SPEC = sv.model("llama2_7b")
DRAFT = sv.model("llama_68m")


@pytest.fixture(scope="module")
def cost() -> sv.CostModel:
    return sv.CostModel(A100, SPEC)


@pytest.fixture(scope="module")
def draft() -> sv.CostModel:
    return sv.CostModel(A100, DRAFT)


@pytest.mark.parametrize(("gamma", "alpha"), [(1, 0.5), (4, 0.8), (7, 0.75), (3, 0.3)])
def test_tokens_per_step_have_the_closed_form_mean(gamma: int, alpha: float) -> None:
    n = 200_000
    got = step_tokens(np.random.default_rng(7), n, gamma, alpha)
    assert got.min() >= 1 and got.max() <= gamma + 1
    mean = expected_tokens(gamma, alpha)
    assert mean == pytest.approx(sum(alpha**i for i in range(gamma + 1)))  # eq. 1 as a sum
    # 4 standard errors of the mean (a false failure about once in 16,000 seeds)
    assert got.mean() == pytest.approx(mean, abs=4 * math.sqrt(tokens_variance(gamma, alpha) / n))
    assert got.var() == pytest.approx(tokens_variance(gamma, alpha), rel=0.03)


def test_a_served_run_emits_the_expected_tokens_per_step(cost, draft) -> None:
    reqs = [sv.Request(i, 0.0, 64, 400) for i in range(8)]
    sp = SpeculativeConfig("llama_68m", gamma=4, alpha=0.8)
    res = sv.serve(A100, SPEC, reqs, cost_model=cost, draft_cost_model=draft, speculative=sp)
    it = res.iterations.query("decode_batch > 0 and prefill_seqs == 0")
    per_seq = it["emitted"] / it["decode_batch"]
    assert it["emitted"].sum() + 8 == 8 * 400  # the prefills emit the first token each
    # steps near a request's end are cut short: compare the unclipped ones
    full = per_seq[it["decode_batch"] == 8].iloc[:-5]
    sd = math.sqrt(tokens_variance(4, 0.8) / (8 * len(full)))
    assert full.mean() == pytest.approx(sp.expected_tokens, abs=4 * sd)


def test_alpha_zero_is_one_token_per_step_at_a_higher_cost(cost, draft) -> None:
    req = [sv.Request(0, 0.0, 200, 40)]
    plain = sv.serve(A100, SPEC, req, cost_model=cost)
    spec = sv.serve(A100, SPEC, req, cost_model=cost, draft_cost_model=draft,
                    speculative=SpeculativeConfig("llama_68m", gamma=3, alpha=0.0))
    assert spec.iterations["emitted"].tolist() == [1] * 40
    assert (spec.iterations["seconds"].iloc[1:].to_numpy()
            > plain.iterations["seconds"].iloc[1:].to_numpy()).all()
    assert spec.requests["tpot_s"].iloc[0] > plain.requests["tpot_s"].iloc[0]


@pytest.mark.parametrize(("gamma", "alpha"), [(4, 0.8), (2, 0.5)])
def test_a_lone_request_per_token_latency(cost, draft, gamma: int, alpha: float) -> None:
    prompt, out = 256, 1200
    sp = SpeculativeConfig("llama_68m", gamma=gamma, alpha=alpha)
    res = sv.serve(A100, SPEC, [sv.Request(0, 0.0, prompt, out)], cost_model=cost,
                   draft_cost_model=draft, speculative=sp)
    ctx = prompt + out / 2  # costs grow slowly with the context: price at its middle
    verify = cost.iteration(IterationShape(gamma + 1, gamma + 1, decode_batch=1,
                                           decode_kv_mean=ctx + gamma + 1,
                                           decode_q_len=gamma + 1)).seconds
    drafts = sum(draft.iteration(IterationShape(1, 1, decode_batch=1,
                                                decode_kv_mean=ctx + 1 + i)).seconds
                 for i in range(gamma))
    want = (drafts + verify) / sp.expected_tokens
    steps = len(res.iterations) - 1
    # tolerance: 4 standard errors of the mean tokens per step, plus 2 % for the context
    rel = 4 * math.sqrt(tokens_variance(gamma, alpha) / steps) / sp.expected_tokens + 0.02
    assert res.requests["tpot_s"].iloc[0] == pytest.approx(want, rel=rel)


def test_the_walltime_formula() -> None:
    assert speedup(7, 0.75, 0.0) == pytest.approx(expected_tokens(7, 0.75))
    assert speedup(3, 0.6, 0.05) == pytest.approx((1 - 0.6**4) / (0.4 * 1.15))


def test_the_draft_holds_memory_and_must_hold_the_context(cost, draft) -> None:
    reqs = [sv.Request(0, 0.0, 64, 8)]
    plain = sv.serve(A100, SPEC, reqs, cost_model=cost)
    spec = sv.serve(A100, SPEC, reqs, cost_model=cost, draft_cost_model=draft,
                    speculative=SpeculativeConfig())
    assert spec.kv_blocks == sv.capacity_blocks(
        80 * 2**30, SPEC.weight_bytes + DRAFT.weight_bytes,
        SPEC.kv_bytes_per_token + DRAFT.kv_bytes_per_token, 16)
    assert spec.kv_blocks < plain.kv_blocks
    with pytest.raises(WorkloadError, match=r"exceeds llama_68m's context of 2048"):
        sv.serve(A100, SPEC, [sv.Request(0, 0.0, 2000, 100)], speculative=SpeculativeConfig())


@pytest.mark.parametrize(("kw", "match"), [
    ({"gamma": 0}, r"speculative: gamma must be an int >= 1, got 0"),
    ({"gamma": 2.0}, r"speculative: gamma must be an int >= 1, got 2.0"),
    ({"alpha": 1.0}, r"speculative: alpha must be a number in \[0, 1\), got 1.0"),
    ({"alpha": -0.1}, r"speculative: alpha must be a number in \[0, 1\), got -0.1"),
    ({"draft": "gpt5"}, r"speculative: draft: no serving model 'gpt5'"),
])
def test_bad_speculative_settings(kw: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        SpeculativeConfig(**kw)


def test_speculation_needs_an_iteration_level_scheduler() -> None:
    with pytest.raises(ConfigError, match="speculative decoding needs scheduler 'continuous' "
                                          "or 'chunked', got 'static'"):
        sv.ServeConfig(scheduler="static", speculative=SpeculativeConfig())


def test_chunked_with_speculation_counts_verified_tokens_in_the_budget(cost, draft) -> None:
    reqs = sv.poisson(20.0, n=40, prompt_tokens=("uniform", 32, 600), output_tokens=64,
                      seed=2)
    res = sv.serve(A100, SPEC, reqs, cost_model=cost, draft_cost_model=draft,
                   scheduler="chunked", token_budget=256, speculative=SpeculativeConfig())
    it = res.iterations
    assert (it["tokens"] <= np.maximum(256, 5 * it["decode_batch"])).all()
    assert it["emitted"].sum() == 40 * 64
