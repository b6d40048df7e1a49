"""Eager PyTorch's cross-entropy on a GPU without fusion: ``F.cross_entropy`` and its backward
run as five kernels (log_softmax, nll_loss, a zeroed gradient, nll_loss_backward,
log_softmax_backward) moving 6 values per logit, where a fused loss moves 2."""

from __future__ import annotations

import math

import pytest

import pysim
from pysim.gpu.kernels import eager_kernels
from pysim.training.ops import VectorWork
from pysim.workload import Tensor, Workload

TOKENS, VOCAB = 4096, 50257


def loss_graph(torch_op: str = "cross_entropy") -> Workload:
    shape = (TOKENS, VOCAB)
    op = VectorWork(name="loss.logits", inputs=("logits",), shapes=(shape,), out_shape=shape,
                    ops_per_element=6, act_bits=32, out_bits=32, dtype="float",
                    what="softmax cross-entropy", torch_op=torch_op)  # type: ignore[arg-type]
    return Workload(name="ce", ops=(op,), inputs=(Tensor(name="logits", shape=shape, bits=32,
                                                         dtype="float"),))


def test_eager_cross_entropy_moves_six_values_per_logit_in_five_kernels() -> None:
    logits = TOKENS * VOCAB
    kernels = eager_kernels(loss_graph().ops[0])
    assert [k.name for k in kernels] == ["log_softmax", "nll_loss", "zeros",
                                         "nll_loss_backward", "log_softmax_backward"]
    moved = sum(k.reads + k.writes for k in kernels)
    rows = TOKENS * (8 + 4) * 2 + 4  # int64 targets and a value per row, read twice; the loss
    assert moved == 6 * 4 * logits + rows
    assert eager_kernels(loss_graph("").ops[0]) == ()


def test_only_a_gpu_without_fusion_runs_it_eagerly() -> None:
    h200 = pysim.gpu.preset("h200")
    eager = pysim.simulate(h200.replace(fusion="none"), loss_graph())
    fused = pysim.simulate(h200, loss_graph())
    logits = TOKENS * VOCAB
    assert fused.dram_read_bytes + fused.dram_write_bytes == 2 * 4 * logits
    assert eager.dram_read_bytes + eager.dram_write_bytes == pytest.approx(6 * 4 * logits,
                                                                           rel=1e-3)
    assert "eager kernels: log_softmax" in eager.layers["tiling"].iloc[0]
    # HBM-bound: at least the bytes at the sustained bandwidth, and the five launches
    hbm = h200.hbm_sustained_gb_per_s * 1e9
    assert eager.latency_s >= 6 * 4 * logits / hbm
    assert eager.latency_s == pytest.approx(fused.latency_s * 3, rel=0.15)
    assert math.isfinite(eager.energy_j) and eager.energy_j > fused.energy_j


def test_a_training_step_prices_its_loss_eagerly_on_an_eager_gpu() -> None:
    """The zoo GPT-2 training step on an H200 without fusion: the loss row is the five
    kernels' bytes over the logits (the fp32 cast before it is a row of its own)."""
    from pysim import training

    hw = pysim.gpu.preset("h200").replace(fusion="none")
    wl = pysim.zoo.load("gpt2", batch=1, seq_len=128)
    step = training.step(hw, wl, "adamw", "amp_bf16")
    layers = step.result.layers.set_index("op")
    row = layers.loc[[n for n in layers.index if n.startswith("loss.")][0]]
    logits = 128 * VOCAB
    assert row["dram_read_bytes"] + row["dram_write_bytes"] == pytest.approx(
        6 * 4 * logits, rel=1e-2)
