"""Pipeline-parallel training (pysim.training.pipeline_step): the 1F1B schedule against its
closed form on equal stages and its rules on any; the stages' cut is the linear partition's
optimum; one stage is the accumulating single-device step; each stage's boundary sends its
activations and receives their gradients; the memory holds 1F1B's micro batches in flight;
a slower link is never faster; bad input names the field."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pysim
from pysim import training
from pysim.errors import ConfigError, WorkloadError
from pysim.training.pipeline import _cuts, order, schedule, split
from tests.one_line import one_line
from tests.test_training_data_parallel import NPU, linked

A100 = pysim.gpu.preset("a100")
GPT2 = pysim.zoo.load("gpt2", batch=2, seq_len=256, attention="flash")


@pytest.mark.parametrize("p,m", [(1, 1), (2, 4), (4, 4), (4, 16), (8, 3)])
def test_equal_stages_take_m_plus_p_minus_1_slots(p, m):
    tf, tb, upd = 1.0, 2.0, 0.5
    slots, latency = schedule([[tf] * m] * p, [[tb] * m] * p, [0.0] * (p - 1),
                              [0.0] * (p - 1), [upd] * p)
    assert latency == pytest.approx((m + p - 1) * (tf + tb) + upd)
    # the bubble: (p - 1) / (m + p - 1) of each device's time (Narayanan et al. 2021)
    busy = sum(s.end_s - s.start_s for s in slots)
    assert 1 - busy / (p * (latency - upd)) == pytest.approx((p - 1) / (m + p - 1))


@settings(max_examples=60, deadline=None)
@given(p=st.integers(1, 6), m=st.integers(1, 8), seed=st.integers(0, 10_000))
def test_any_schedule_keeps_its_rules(p, m, seed):
    rng = random.Random(seed)
    fwd = [[rng.uniform(0.1, 2) for _ in range(m)] for _ in range(p)]
    bwd = [[rng.uniform(0.1, 4) for _ in range(m)] for _ in range(p)]
    send = [rng.uniform(0, 1) for _ in range(p - 1)]
    back = [rng.uniform(0, 1) for _ in range(p - 1)]
    upd = [rng.uniform(0, 1) for _ in range(p)]
    slots, latency = schedule(fwd, bwd, send, back, upd)
    at = {(s.kind, s.stage, s.micro): s for s in slots}
    assert len(at) == 2 * p * m
    for s in range(p):
        mine = [x for x in slots if x.stage == s]
        assert [(x.kind, x.micro) for x in mine] == order(p, s, m)  # 1F1B, in order
        for a, b in itertools.pairwise(sorted(mine, key=lambda x: x.start_s)):
            assert b.start_s >= a.end_s - 1e-12  # one thing at a time
        assert latency >= mine[-1].end_s + upd[s] - 1e-12
        for i in range(m):
            f, b = at[("F", s, i)], at[("B", s, i)]
            assert b.start_s >= f.end_s - 1e-12
            if s:
                assert f.start_s >= at[("F", s - 1, i)].end_s + send[s - 1] - 1e-12
            if s < p - 1:
                assert b.start_s >= at[("B", s + 1, i)].end_s + back[s] - 1e-12
    busiest = max(sum(fwd[s]) + sum(bwd[s]) + upd[s] for s in range(p))
    assert busiest - 1e-9 <= latency <= sum(map(sum, fwd)) + sum(map(sum, bwd)) + sum(
        send) + sum(back) + sum(upd) + 1e-9


@pytest.mark.parametrize("p,m", [(1, 3), (2, 5), (4, 2), (4, 9)])
def test_1f1b_holds_at_most_p_minus_s_micro_batches(p, m):
    for s in range(p):
        live, most = 0, 0
        for kind, _ in order(p, s, m):
            live += 1 if kind == "F" else -1
            most = max(most, live)
        assert most == min(p - s, m)


def test_the_cut_is_the_linear_partitions_optimum():
    rng = random.Random(3)
    for _ in range(300):
        n = rng.randint(1, 9)
        p = rng.randint(1, n)
        costs = [rng.choice([0, 0, 1, 4, 9, 30]) for _ in range(n)]
        cuts = _cuts(costs, p)
        assert cuts[0] == 0 and cuts[-1] == n and len(cuts) == p + 1
        assert all(a < b for a, b in itertools.pairwise(cuts))
        best = min(max(sum(costs[b[i]:b[i + 1]]) for i in range(p))
                   for c in itertools.combinations(range(1, n), p - 1)
                   for b in [[0, *c, n]])
        assert max(sum(costs[cuts[i]:cuts[i + 1]]) for i in range(p)) == best


def test_stages_cover_the_model_and_pass_their_boundaries():
    parts = split(GPT2, 4)
    assert [op.name for st_ in parts for op in st_.workload.ops] == [op.name for op in GPT2.ops]
    sent = set()
    for st_ in parts:
        assert set(st_.receives) <= sent  # everything received was sent by an earlier stage
        sent |= set(st_.sends)
    assert not parts[-1].sends and not parts[0].receives


def test_one_stage_is_the_accumulating_step():
    one = training.pipeline_step(A100, GPT2, 1, 4)
    acc = training.step(A100, GPT2, "adam", "mixed_bf16", grad_accum=4)
    assert one.latency_s == pytest.approx(acc.latency_s, rel=1e-12)
    assert one.energy_j == pytest.approx(acc.energy_j, rel=1e-12)
    assert one.bubble == pytest.approx(0, abs=1e-9)
    assert one.memory == acc.memory


@pytest.mark.parametrize("d,zero", [(2, 0), (4, 1), (2, 3)])
def test_one_stage_on_several_devices_is_the_data_parallel_step(d, zero):
    one = training.pipeline_step(A100, GPT2, 1, 3, data_parallel=d, zero_stage=zero)
    acc = training.step(A100, GPT2, "adam", "mixed_bf16", grad_accum=3, data_parallel=d,
                        zero_stage=zero)
    assert one.latency_s == pytest.approx(acc.latency_s, rel=1e-12)
    assert one.memory == acc.memory
    assert one.summary()["devices"] == d


def test_stages_of_a_split_model():
    wl = pysim.zoo.load("gpt", batch=2, seq_len=256, layers=4, hidden=512, heads=8)
    one = training.pipeline_step(A100, wl, 1, 3, tensor_parallel=4)
    acc = training.step(A100, wl, grad_accum=3, tensor_parallel=4)
    assert one.latency_s == pytest.approx(acc.latency_s, rel=1e-12)
    three_d = training.pipeline_step(A100, wl, 2, 4, tensor_parallel=2, data_parallel=2,
                                     zero_stage=1)
    assert three_d.summary()["devices"] == 8
    # the split model's all-reduces, each on the stage that holds its op
    per_stage = [r.step.tensor_parallel.summary()["tp_allreduces"] for r in three_d.stages]
    whole = training.step(A100, wl, tensor_parallel=2).tensor_parallel
    assert sum(per_stage) == whole.summary()["tp_allreduces"]


def test_stages_on_several_devices_reduce_their_own_gradients():
    ps = training.pipeline_step(A100, GPT2, 2, 4, data_parallel=4, zero_stage=1)
    sent = [r.step.data_parallel.grad_bytes for r in ps.stages]
    whole = training.step(A100, GPT2, data_parallel=4, zero_stage=1).data_parallel.grad_bytes
    assert sum(sent) == whole and all(sent)  # each stage's gradients, every one once
    alone = training.pipeline_step(A100, GPT2, 2, 4)
    assert ps.memory.peak < alone.memory.peak  # ZeRO 1 partitions each stage's states


def test_stage_graphs_receive_gradients_and_send_theirs_back():
    ps = training.pipeline_step(A100, GPT2, 3, 2)
    for r in ps.stages:
        g = r.step.graph
        assert set(g.grads_in) == set(r.stage.sends)
        assert all(g.workload.tensors[t].role == "input" for t in g.grads_in.values())
        assert set(g.grads_out) == set(r.stage.receives)
        losses = [o for o in g.ops if o.role == "loss"]
        assert bool(losses) == (r.stage.index == 2)  # the loss on the last stage only
    # every MAC of the model, forward, dX and dW, on some stage, each micro batch
    total = training.step(A100, GPT2, "adam", "mixed_bf16", input_grads=False, grad_accum=2)
    assert ps.macs == total.macs


def test_memory_holds_the_micro_batches_in_flight():
    ps = training.pipeline_step(A100, GPT2, 4, 8)
    for r in ps.stages:
        assert r.in_flight == min(4 - r.stage.index, 8)
    peaks = [r.step.memory.peak + r.step.memory.saved_activations * (r.in_flight - 1)
             for r in ps.stages]
    assert ps.memory.peak == max(peaks)
    assert ps.memory.peak < training.step(A100, GPT2, grad_accum=8).memory.peak


def test_checkpointed_stages_hold_boundaries_per_micro_batch_and_one_block():
    ps = training.pipeline_step(A100, GPT2, 2, 4, checkpoint=True)
    r = ps.stages[0]
    g = r.step.graph
    assert g.segment_saved and r.in_flight == 2
    held = g.boundary_bytes * 2 + max(g.segment_saved.values())
    assert held < 2 * r.step.memory.saved_activations
    mem = r.step.memory
    assert ps.memory.peak >= mem.peak - mem.saved_activations + held


@pytest.mark.parametrize("gb", [1.0, 10.0, 100.0])
def test_a_faster_link_is_never_slower(gb):
    slow = training.pipeline_step(linked(NPU, gb), pysim.zoo.load("resnet18", batchnorm=True,
                                                                   batch=2), 3, 4, recipe="int8")
    fast = training.pipeline_step(linked(NPU, 2 * gb), pysim.zoo.load(
        "resnet18", batchnorm=True, batch=2), 3, 4, recipe="int8")
    assert fast.latency_s <= slow.latency_s


@pytest.mark.parametrize("m", [1, 2, 3])
def test_few_micro_batches_run(m):
    ps = training.pipeline_step(A100, GPT2, 3, m)
    assert len(ps.slots) == 2 * 3 * m and all(len(r.forward_s) == m for r in ps.stages)
    # one micro batch crosses every stage and back: no overlap at all
    if m == 1:
        assert ps.latency_s >= sum(r.forward_s[0] + r.backward_s[0] for r in ps.stages)


def test_more_micro_batches_shrink_the_bubble_to_the_stages_imbalance():
    runs = [training.pipeline_step(A100, GPT2, 4, m) for m in (2, 8, 32)]
    bubbles = [r.bubble for r in runs]
    assert bubbles[0] > bubbles[1] > bubbles[2]
    # what is left is the stages' imbalance: the others wait for the busiest (the LM head's)
    busy = [sum(r.forward_s) + sum(r.backward_s) + r.update_s for r in runs[-1].stages]
    assert bubbles[-1] >= 1 - sum(busy) / (len(busy) * max(busy)) - 1e-9


@pytest.mark.parametrize("field,call", [
    ("stages", lambda: training.pipeline_step(A100, GPT2, 0, 4)),
    ("stages", lambda: training.pipeline_step(A100, GPT2, 10**6, 4)),
    ("stages", lambda: training.pipeline_step(A100, GPT2, 2.5, 4)),
    ("grad_accum", lambda: training.pipeline_step(A100, GPT2, 2, 0)),
    ("interconnect", lambda: training.pipeline_step(NPU, "resnet18", 2, 2, recipe="int8")),
])
def test_bad_input_is_one_line_naming_it(field, call):
    one_line(call, field, error=ConfigError)


def test_unknown_layer_and_overflow_are_named():
    one_line(lambda: training.pipeline_step(A100, GPT2, 2, 2, layer_formats={"nope": "fp8"}),
             "nope", error=WorkloadError)
    one_line(lambda: training.pipeline_step(A100, GPT2, 2, 4, memory_gib=0.01),
             "pipeline stage", "in flight", error=WorkloadError)


def test_cli_train_pipeline(capsys):
    from pysim.cli import main

    assert main(["train", "gpu:a100", "gpt2", "--pipeline-stages", "2", "--grad-accum",
                 "4"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "pipeline_stages 2" in out and "bubble" in out
    assert main(["train", "gpu:a100", "gpt2", "--pipeline-stages", "2", "--data-parallel",
                 "2", "--zero-stage", "1"]) == 0
    assert "devices 4" in " ".join(capsys.readouterr().out.split())
    assert main(["train", "gpu:a100", "gpt2", "--pipeline-stages", "2", "--save-graph",
                 "g.yaml"]) == 2
