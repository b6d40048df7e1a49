"""FlashAttention-2's backward kernel on the GPU model (pysim/gpu/attention.py,
``flash_backward_cost``): its block sizes and warp layouts as the launch template picks them,
the shared-memory traffic of its five MMAs and P / dS round trips, and the H200's measured
backward-to-forward ratio."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

import pysim
from pysim.gpu.attention import (
    bwd_smem_bytes,
    bwd_traits,
    flash_backward_cost,
    fused_attention_cost,
)
from pysim.training.ops import AttentionBackward
from pysim.workload.attention import Attention

SDPA = Path(__file__).resolve().parent.parent / "benchmarks" / "data" / "h200_kernels" / "sdpa.csv"


def attention(batch: int, heads: int, seq: int, d: int, causal: bool = False) -> Attention:
    return Attention.model_validate({
        "name": "attn", "inputs": ["q", "k", "v"], "batch": batch, "heads": heads,
        "q_len": seq, "kv_len": seq, "head_dim": d, "causal": causal, "act_bits": 16,
        "weight_bits": 16, "out_bits": 16, "dtype": "float"})


def backward(op: Attention) -> AttentionBackward:
    return AttentionBackward.of(op, "attn.bwd", ("q", "k", "v"), 16, "float", 16)


def test_traits_are_the_kernels_the_h200_ran() -> None:
    """sdpa.csv's fwd_bwd rows name PyTorch's FA2 backward kernel with its traits."""
    seen: dict[int, tuple[int, ...]] = {}
    with SDPA.open() as f:
        for row in csv.DictReader(f):
            m = re.search(r"flash_bwd_dq_dk_dv_loop_seqk_parallel_kernel<Flash_bwd_kernel_traits"
                          r"<(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", row["kernels"])
            if m:
                d, *rest = (int(x) for x in m.groups())
                seen[d] = tuple(rest)
    assert set(seen) == {64, 128}
    h200 = pysim.gpu.preset("h200")
    for d, traits in seen.items():
        assert bwd_traits(h200, d) == traits
    # below 144 KB of shared memory the launch template takes smaller tiles
    assert bwd_traits(pysim.gpu.preset("rtx4090"), 128) == (64, 64, 8, 4, 2, 2)


def test_shared_memory_bytes_of_a_block_pair() -> None:
    # head dim 128, Br 64 x Bc 128, 8 warps as 2 x 4 for S / dP, 4 x 2 for dK / dV, 2 x 4 for
    # dQ: S and dP 128 KB each, dV and dK 96 KB each, dQ 128 KB, P and dS 32 KB, Q and dO 32 KB
    assert bwd_smem_bytes(64, 128, 128, 8, 2, 4, 2, 2) == 640 * 1024
    assert bwd_smem_bytes(128, 128, 64, 8, 4, 4, 4, 2) == 672 * 1024


def flash_time_s(direction: str, seq: int, d: int, causal: bool) -> float:
    """The H200's measured time of PyTorch's FA2 (sdpa.csv's flash rows, hidden 2048)."""
    with SDPA.open() as f:
        for row in csv.DictReader(f):
            if (row["backend"], row["direction"], int(row["seq"]), int(row["head_dim"]),
                    row["causal"] == "True") == ("flash", direction, seq, d, causal):
                return float(row["time_s"])
    raise KeyError((direction, seq, d, causal))


def measured_backward_over_forward(d: int) -> float:
    """The 16k-token non-causal row's FA2 backward over its forward: the eager call's time less
    its forward and the call's other kernels as the model prices them (the copies, D pass and
    grad adds of benchmarks/validate_h200_kernels.py)."""
    from tests.example_scripts import load_benchmark

    script = load_benchmark("validate_h200_kernels")
    op = attention(1, 2048 // d, 16384, d)
    h200 = pysim.gpu.preset("h200")
    others = (script._attention_fwd_bwd_s(op) - fused_attention_cost(h200, op, "fp16").time_s
              - fused_attention_cost(h200, backward(op), "fp16").time_s)
    fwd = flash_time_s("fwd", 16384, d, False)
    return (flash_time_s("fwd_bwd", 16384, d, False) - fwd - others) / fwd


@pytest.mark.parametrize("d", [64, 128])
def test_the_backward_takes_about_the_measured_multiple_of_the_forward(d: int) -> None:
    """On the H200 PyTorch's FA2 backward took 2.56x (head dim 64) and 2.72x (128) its forward
    on the 16k-token non-causal rows (sdpa.csv, less the eager call's other kernels as the
    model prices them): five MMAs would give 2.5x if the backward ran as fast per MMA as the
    forward; its shared-memory traffic, at the fitted 90 % of the port, makes it slower. At the
    MMAs' full rate the forward speeds up and the shared-memory-bound backward does not."""
    measured = measured_backward_over_forward(d)
    gpu = pysim.gpu.preset("h200").replace(launch_overhead_us=0.0)
    op = attention(1, 2048 // d, 16384, d)
    fwd = fused_attention_cost(gpu, op, "fp16")
    bwd = fused_attention_cost(gpu, backward(op), "fp16")
    assert bwd.bound == "compute"
    assert bwd.compute_s / fwd.compute_s == pytest.approx(measured, rel=0.03)
    full = gpu.replace(mma_efficiency=1.0)
    ratio = (fused_attention_cost(full, backward(op), "fp16").compute_s
             / fused_attention_cost(full, op, "fp16").compute_s)
    assert ratio > bwd.compute_s / fwd.compute_s
    assert bwd.issued_macs == pytest.approx(2.5 * fwd.issued_macs, rel=0.01)


def test_a_short_backward_pays_each_ctas_prologue_and_epilogue() -> None:
    """One backward CTA per SM: its K / V loads and dK / dV stores are not hidden behind another
    CTA, so at 512 tokens (4 key blocks a CTA at head dim 64) a block pair costs about 1.4x
    what it does at 16k (128 a CTA); measured (sdpa.csv, fitted per pair and per CTA): 1.42x."""
    gpu = pysim.gpu.preset("h200")
    short = flash_backward_cost(gpu, backward(attention(32, 32, 512, 64)), "fp16")
    long = flash_backward_cost(gpu, backward(attention(1, 32, 16384, 64)), "fp16")
    per_pair = [c.compute_s / c.issued_macs for c in (short, long)]
    assert per_pair[0] / per_pair[1] == pytest.approx(1.42, rel=0.05)


@pytest.mark.parametrize("d", [64, 128])
def test_causal_masking_blocks_cost_about_two(d: int) -> None:
    """At 512 tokens a causal forward walks 0.625 of the non-causal blocks, yet took 0.86x and
    0.85x of the time on the H200 (sdpa.csv): each CTA's masking blocks (the diagonal) cost
    about 1.9x an unmasked one (FA2_MASKED_BLOCK_EXTRA)."""
    measured = flash_time_s("fwd", 512, d, True) / flash_time_s("fwd", 512, d, False)
    gpu = pysim.gpu.preset("h200").replace(launch_overhead_us=0.0)
    heads = 2048 // d
    full = fused_attention_cost(gpu, attention(32, heads, 512, d), "fp16")
    causal = fused_attention_cost(gpu, attention(32, heads, 512, d, True), "fp16")
    assert causal.issued_macs / full.issued_macs == pytest.approx(0.625)
    assert causal.compute_s / full.compute_s == pytest.approx(measured, rel=0.1)


def test_causal_walks_half_the_block_pairs() -> None:
    gpu = pysim.gpu.preset("h200")
    full = flash_backward_cost(gpu, backward(attention(2, 16, 4096, 128)), "fp16")
    causal = flash_backward_cost(gpu, backward(attention(2, 16, 4096, 128, True)), "fp16")
    assert 0.5 <= causal.issued_macs / full.issued_macs <= 0.55
    assert causal.time_s < full.time_s


def test_flash3_keeps_its_own_backward() -> None:
    """FlashAttention-3's backward is another kernel: under attention: flash3 the backward is
    priced as a forward of five GEMMs (head dim 2.5x), not as FA2's."""
    fa3 = pysim.gpu.preset("h100").replace(attention="flash3")
    op = backward(attention(2, 16, 4096, 128))
    as_forward = Attention.model_validate(op.model_dump(exclude={"fwd_head_dim"}))
    assert fused_attention_cost(fa3, op, "fp16") == fused_attention_cost(fa3, as_forward, "fp16")
    assert fused_attention_cost(fa3, op, "fp16") != flash_backward_cost(fa3, op, "fp16")


def test_the_forward_is_bound_by_its_mmas_unless_shared_memory_is_slow() -> None:
    """FA2's forward reads Q once and K_j, V_j once per warp: 20 B per score at head dim 128
    (Br 128, Bc 64, 4 warps), 0.16 of a clock at 128 B per clock against its MMAs' 0.19 on an
    H200, so the forward stays MMA-bound; at a quarter of that bandwidth the reads bind."""
    h200 = pysim.gpu.preset("h200")
    op = attention(1, 16, 16384, 128)
    fast = fused_attention_cost(h200, op, "fp16")
    assert fast.compute_s == fused_attention_cost(
        h200.replace(smem_bandwidth_bytes_per_clk=110.0), op, "fp16").compute_s
    assert fused_attention_cost(h200.replace(smem_bandwidth_bytes_per_clk=32.0), op,
                                "fp16").compute_s > 1.3 * fast.compute_s


def test_a_one_row_causal_query_runs_unmasked() -> None:
    """FA2's mha_fwd drops ``is_causal`` for a one-token query (every cached key is visible),
    so decode pays no masking blocks; two query rows over the cache do."""
    gpu = pysim.gpu.preset("h200")

    def op(q_len: int, causal: bool) -> Attention:
        return Attention.model_validate({
            "name": "a", "inputs": ["q", "k", "v"], "batch": 64, "heads": 32, "q_len": q_len,
            "kv_len": 1024, "head_dim": 128, "causal": causal})

    assert (fused_attention_cost(gpu, op(1, True), "fp16")
            == fused_attention_cost(gpu, op(1, False), "fp16"))
    assert (fused_attention_cost(gpu, op(2, True), "fp16").compute_s
            > fused_attention_cost(gpu, op(2, False), "fp16").compute_s)


def test_an_unknown_short_query_kernel_is_refused() -> None:
    with pytest.raises(ValueError, match="short_query_kernel must be one of"):
        fused_attention_cost(pysim.gpu.preset("h200"), attention(1, 32, 1, 128), "fp16",
                             "sdpa")  # type: ignore[arg-type]
