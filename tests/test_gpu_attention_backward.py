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


@pytest.mark.parametrize("d", [64, 128])
def test_the_backward_takes_about_the_measured_multiple_of_the_forward(d: int) -> None:
    """On the H200 PyTorch's FA2 backward took 2.5-2.8x its forward on the long non-causal
    rows (sdpa.csv, after the eager call's other kernels): five MMAs would give 2.5x at most
    if the backward ran as fast per MMA as the forward; its shared-memory traffic makes it
    slower. With the MMAs at the main loop's measured 0.87 of their peak (``mma_efficiency``,
    which brought the forward from 0.87 to 0.97 of its measured time) the forward is slower
    and the shared-memory-bound backward is not: 2.3x (head dim 128) and 2.5x (64), 2.5-2.8x
    at the MMAs' full rate."""
    gpu = pysim.gpu.preset("h200").replace(launch_overhead_us=0.0)
    op = attention(1, 2048 // d, 16384, d)
    fwd = fused_attention_cost(gpu, op, "fp16")
    bwd = fused_attention_cost(gpu, backward(op), "fp16")
    assert bwd.bound == "compute" and 2.2 <= bwd.compute_s / fwd.compute_s <= 2.9
    full = gpu.replace(mma_efficiency=1.0)
    ratio = (fused_attention_cost(full, backward(op), "fp16").compute_s
             / fused_attention_cost(full, op, "fp16").compute_s)
    assert 2.5 <= ratio <= 2.9
    assert bwd.issued_macs == pytest.approx(2.5 * fwd.issued_macs, rel=0.01)


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
