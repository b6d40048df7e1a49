"""Tensor-parallel training (pysim.training.step(..., tensor_parallel=T)): one device is the
step exactly; the split is Megatron-LM's (column-parallel GEMMs feeding a region, row-parallel
ones reading it; every MAC on 1 / T); four all-reduces per block each step of the block's
activations (Shoeybi et al. 2019, section 3), six when checkpointing recomputes; the ops
wait for them; it composes with data parallelism and accumulation; bad input names the
field."""

from __future__ import annotations

import pytest

import pysim
from pysim import training
from pysim.errors import ConfigError, WorkloadError
from pysim.training.step import check_options
from pysim.training.tensor_parallel import shard
from tests.one_line import one_line
from tests.test_training_data_parallel import NPU

A100 = pysim.gpu.preset("a100")
GPT2 = pysim.zoo.load("gpt2", batch=2, seq_len=256, attention="flash", vocab=50304)
BERT = pysim.zoo.load("bert_base", seq_len=64)  # naive attention: batched matmuls, softmax


def test_one_device_is_the_step_exactly():
    base = training.step(A100, GPT2)
    one = training.step(A100, GPT2, tensor_parallel=1)
    assert one.tensor_parallel is None and one.summary() == base.summary()


@pytest.mark.parametrize("wl,blocks", [(GPT2, 12), (BERT, 12)])
@pytest.mark.parametrize("tp", [2, 4])
def test_the_split_is_megatrons(wl, blocks, tp):
    s = shard(wl, tp)
    ops = {op.name: op for op in wl.ops}
    assert len(s.row) == 2 * blocks  # attention's output projection and the MLP's last GEMM
    for name in s.column:
        assert s.workload.op(name).n * tp == ops[name].n
    for name in s.row:
        assert s.workload.op(name).k * tp == ops[name].k
    # every MAC split: one device computes exactly 1 / tp of the model's
    assert s.workload.macs * tp == wl.macs
    # the norms and residual adds whole
    for op in wl.ops:
        if op.type in ("layernorm",) or (op.type == "elementwise" and op.op == "add"):
            assert s.workload.op(op.name) == op


@pytest.mark.parametrize("wl,blocks,head", [(GPT2, 12, 1), (BERT, 12, 0)])
def test_four_allreduces_per_block_of_the_blocks_activations(wl, blocks, head):
    tp = 4
    s = training.step(A100, wl, "adam", "mixed_bf16", tensor_parallel=tp)
    t = s.tensor_parallel
    hidden = wl.op(shard(wl, tp).row[0]).n  # a row-parallel GEMM's output: tokens x hidden
    tokens = wl.op(shard(wl, tp).row[0]).m
    size = tokens * hidden * 2  # bf16 activations and gradients
    count = 4 * blocks + head  # f and g per attention and MLP; the LM head's input gradient
    assert t.summary()["tp_allreduces"] == count
    assert t.comm_bytes_per_device == pytest.approx(count * 2 * (tp - 1) / tp * size)
    assert s.macs * tp == training.step(A100, wl, "adam", "mixed_bf16").macs


def test_recomputation_reduces_again():
    s = training.step(A100, GPT2, checkpoint=True, tensor_parallel=2)
    assert s.tensor_parallel.summary()["tp_allreduces"] == 6 * 12 + 1


def test_ops_wait_for_their_allreduce():
    s = training.step(A100, GPT2, tensor_parallel=2)
    layers = s.result.layers.set_index("op")
    wl = s.graph.workload
    for c in s.tensor_parallel.timings:
        produced = c.name.removeprefix("tp.allreduce.")
        tensor = (produced.removeprefix("grad.") if produced.startswith("grad.")
                  else wl.op(produced).output)
        if produced.startswith("grad."):
            tensor = s.graph.grad_of[tensor]
        for reader in wl.consumers.get(tensor, ()):
            assert layers.loc[reader, "start_cycle"] >= c.end_cycle - 1e-6


def test_weights_and_memory_split():
    one = training.step(A100, GPT2)
    four = training.step(A100, GPT2, tensor_parallel=4)
    assert four.memory.master_weights < 0.3 * one.memory.master_weights
    assert four.memory.peak < one.memory.peak


def test_a_faster_link_is_never_slower():
    slow = training.step(A100.replace(nvlink_gb_per_s=100.0), GPT2, tensor_parallel=4)
    fast = training.step(A100, GPT2, tensor_parallel=4)
    assert fast.latency_s <= slow.latency_s
    assert fast.tensor_parallel.comm_s < slow.tensor_parallel.comm_s


def test_with_data_parallelism_and_accumulation():
    s = training.step(A100, GPT2, data_parallel=4, zero_stage=1, tensor_parallel=2,
                      grad_accum=3)
    d, t = s.data_parallel, s.tensor_parallel
    assert not any(c.name.startswith("tp.") for c in d.timings)
    assert all(c.name.startswith("tp.") for c in t.timings)
    assert t.comm_bytes_per_device == pytest.approx(
        3 * training.step(A100, GPT2, tensor_parallel=2).tensor_parallel.comm_bytes_per_device)
    alone = training.step(A100, GPT2, data_parallel=4, zero_stage=1)
    assert d.grad_bytes < alone.data_parallel.grad_bytes  # each device's share of the layers
    row = pysim.sweep(A100, GPT2, {"clock_ghz": [A100.hardware.clock_ghz]},
                      training={"tensor_parallel": 2}).iloc[0]
    assert row["latency_s"] == pytest.approx(
        training.step(A100, GPT2, tensor_parallel=2).latency_s, rel=1e-12)


@pytest.mark.parametrize("wl,tp,words", [
    (GPT2, 8, ("heads", "12", "h0.attention")),
    (pysim.zoo.load("gpt2", batch=1, seq_len=64), 2, ("lm_head", "50257", "pad")),
    (pysim.zoo.load("resnet18", batchnorm=True), 2, ("no attention or MLP block",)),
])
def test_a_split_that_cannot_be_made_is_named(wl, tp, words):
    one_line(lambda: training.step(A100, wl, tensor_parallel=tp), *words, error=WorkloadError)


@pytest.mark.parametrize("bad", [0, -1, 2.0, "2", True, None, 5000])
def test_bad_tensor_parallel_is_one_line_naming_it(bad):
    one_line(lambda: training.step(A100, GPT2, tensor_parallel=bad), "tensor_parallel",
             error=ConfigError)
    one_line(lambda: check_options(GPT2, {"tensor_parallel": bad}), "tensor_parallel",
             error=ConfigError)


def test_no_link_no_split():
    one_line(lambda: training.step(NPU, BERT, recipe="int8", tensor_parallel=2),
             "interconnect", error=ConfigError)


def test_cli_train_tensor_parallel(capsys):
    from pysim.cli import main

    assert main(["train", "gpu:a100", "bert_base", "--tensor-parallel", "4"]) == 0
    assert "tp_allreduces 48" in " ".join(capsys.readouterr().out.split())
    assert main(["train", "gpu:a100", "resnet18", "--tensor-parallel", "2"]) == 2
