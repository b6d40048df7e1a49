"""A training step's memory is checked once, by its own account (``Memory``: master weights,
copies, gradients, optimizer states, saved activations, each once), not again by the generic
DRAM footprint of its graph, which counts a layer's weight a second time for the dX GEMM that
reads it transposed (and fp32 master weights beside the forward weights they are) and misses
the saved activations: fp32 Adam on LLaMA-2-7B (16 B a parameter, ~104 GiB) fits an H200's
141 GiB, which the graph's footprint put at ~148 GiB."""

from __future__ import annotations

import pytest

import pysim
from pysim import training
from pysim.mapping.capacity import GIB, accounted, check_capacity


def test_fp32_adam_llama2_7b_trains_on_an_h200() -> None:
    hw = pysim.gpu.preset("h200")
    wl = pysim.zoo.load("llama2_7b", seq_len=32, context_len=32)
    step = training.step(hw, wl, "adam", "fp32")
    mem = step.memory
    assert mem.capacity == 141 * GIB
    assert 16 * 6.6e9 < mem.peak <= mem.capacity  # 16 B per parameter, and the rest
    assert mem.weight_copies == 0  # fp32: the master weights are the weights
    fp = step.graph.workload.footprint
    assert fp.weight_bytes + fp.inputs + fp.live > mem.capacity  # what the generic check saw
    assert step.latency_s > 0


def test_the_step_still_refuses_what_its_own_account_does_not_fit() -> None:
    hw = pysim.gpu.preset("a100")
    wl = pysim.zoo.load("llama2_7b", seq_len=32, context_len=32)
    with pytest.raises(pysim.WorkloadError, match=r"needs .* GiB .* but .* has 80\.00 GiB"):
        training.step(hw, wl, "adam", "fp32")


def test_accounted_skips_only_that_workload_inside_the_block() -> None:
    hw = pysim.gpu.preset("a100").hardware
    big = pysim.zoo.load("llama2_7b")  # 6.2 GiB of int8 weights ...
    small_hw = hw.with_overrides({"dram.capacity_gib": 4})  # ... on 4 GiB
    other = pysim.zoo.load("llama2_7b", seq_len=64)
    with pytest.raises(pysim.WorkloadError, match="needs"):
        check_capacity(small_hw, big)
    with accounted(big):
        check_capacity(small_hw, big)  # its caller's account stands
        with pytest.raises(pysim.WorkloadError, match="needs"):
            check_capacity(small_hw, other)  # another workload is checked as ever
        with accounted(other):
            check_capacity(small_hw, other)
            check_capacity(small_hw, big)
        with pytest.raises(pysim.WorkloadError):
            check_capacity(small_hw, other)
    with pytest.raises(pysim.WorkloadError, match="needs"):
        check_capacity(small_hw, big)  # the block's end restores the check
