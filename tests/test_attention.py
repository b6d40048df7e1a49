"""The fused attention op: exact counts, FlashAttention tiling and traffic, vs the naive form."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import pysim
from pysim.mapping.attention import block_sizes, visible_blocks
from pysim.workload import workload_from_dict

ROOT = Path(__file__).resolve().parent.parent
H, D = 4, 16


def wl(form: str, q: int, kv: int, causal: bool = False, kv_heads: int | None = None):
    kvh = kv_heads or H
    inputs = [{"name": "q", "shape": [1, q, H * D]}, {"name": "k", "shape": [1, kv, kvh * D]},
              {"name": "v", "shape": [1, kv, kvh * D]}]
    if form == "flash":
        op = {"name": "attn", "type": "attention", "inputs": ["q", "k", "v"], "heads": H,
              "q_len": q, "kv_len": kv, "head_dim": D, "causal": causal}
        if kv_heads:
            op["kv_heads"] = kv_heads
        ops = [op]
    else:
        ops = [{"name": "s", "type": "matmul", "inputs": ["q", "k"], "batch": [H], "m": q,
                "n": kv, "k": D},
               {"name": "p", "type": "softmax", "inputs": ["s"], "rows": H * q, "cols": kv},
               {"name": "o", "type": "matmul", "inputs": ["p", "v"], "batch": [H], "m": q,
                "n": D, "k": kv}]
    return workload_from_dict({"name": form, "inputs": inputs, "ops": ops})


@pytest.fixture(scope="module")
def edge() -> pysim.Hardware:
    return pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml")


def test_macs_equal_the_naive_form() -> None:
    # 2 x heads x q x kv x d: Q K^T and P V
    assert wl("flash", 64, 96).macs == wl("naive", 64, 96).macs == 2 * H * 64 * 96 * D


def test_causal_pairs_and_macs() -> None:
    # decode-aligned causal mask: query i sees kv - q + i + 1 keys; q = kv: q (q + 1) / 2 pairs
    op = wl("flash", 8, 8, causal=True).ops[0]
    assert op.pairs == 8 * 9 // 2
    assert op.macs == 2 * H * 36 * D
    op = wl("flash", 2, 10, causal=True).ops[0]
    assert op.pairs == 9 + 10


def test_vector_work_counts_scores_and_normalisation() -> None:
    op = wl("flash", 32, 48).ops[0]
    assert op.vector_work() == H * (5 * 32 * 48 + 32 * D)


def test_block_sizes_follow_flashattention_and_fit() -> None:
    op = wl("flash", 4096, 4096).ops[0]
    br, bc = block_sizes(op, 1 << 16, 8, 32, double_buffered=True)
    # Alg. 1: Bc = ceil(M / 4d), Br = min(Bc, d), halved until the working set fits
    assert br <= D and bc <= math.ceil((1 << 16) / (4 * D))
    need = br * D + 2 * 2 * bc * D + br * bc * 4 + br * D * 4
    assert need <= 1 << 16


def test_visible_blocks_cover_every_pair_once() -> None:
    for causal in (False, True):
        op = wl("flash", 37, 53 if not causal else 53, causal=causal).ops[0]
        covered = sum(n * rows * keys for n, rows, keys in visible_blocks(op, 8, 16))
        assert covered >= op.pairs
        if not causal:
            assert covered == op.pairs


def test_flash_reads_q_once_and_kv_once_per_row_block(edge: pysim.Hardware) -> None:
    res = pysim.simulate(edge, wl("flash", 256, 256))
    row = res.layers.iloc[0]
    br = int(row["tiling"].split("Br=")[1].split()[0])
    qkv = 256 * H * D  # int8 bytes of each of Q, K, V
    assert res.dram_read_bytes == qkv + 2 * math.ceil(256 / br) * qkv
    assert res.dram_write_bytes == qkv


def test_flash_moves_fewer_bytes_than_naive_when_scores_spill(edge: pysim.Hardware) -> None:
    big = edge.with_overrides({"scratchpads.0.size_kib": 64})
    flash = pysim.simulate(big, wl("flash", 1024, 1024))
    naive = pysim.simulate(big, wl("naive", 1024, 1024))
    assert flash.macs == naive.macs
    assert flash.dram_bytes < naive.dram_bytes
    assert flash.energy_breakdown_j["dram"] < naive.energy_breakdown_j["dram"]
    # (not latency: with head_dim 16 the fused blocks are small GEMMs that fill a 32 x 32
    # array poorly, while the naive form runs two large GEMMs -- a real trade-off)


def test_gqa_reads_each_kv_head_per_query_head(edge: pysim.Hardware) -> None:
    mha = pysim.simulate(edge, wl("flash", 64, 512))
    gqa = pysim.simulate(edge, wl("flash", 64, 512, kv_heads=1))
    assert gqa.macs == mha.macs
    assert gqa.compulsory_dram_bytes < mha.compulsory_dram_bytes  # K, V 4x smaller


@pytest.mark.parametrize("bad, match", [
    ({"kv_heads": 3}, "kv_heads"),
    ({"causal": True, "q_len": 20, "kv_len": 10}, "q_len"),
    ({"head_dim": 0}, "head_dim"),
])
def test_bad_attention_fields(bad: dict, match: str) -> None:
    op = {"name": "attn", "type": "attention", "inputs": ["q", "k", "v"], "heads": H,
          "q_len": 10, "kv_len": 20, "head_dim": D, **bad}
    q, kv = op["q_len"], op["kv_len"]
    inputs = [{"name": "q", "shape": [1, q, H * max(1, op["head_dim"])]},
              {"name": "k", "shape": [1, kv, H * max(1, op["head_dim"])]},
              {"name": "v", "shape": [1, kv, H * max(1, op["head_dim"])]}]
    with pytest.raises(pysim.WorkloadError, match=match):
        workload_from_dict({"name": "bad", "inputs": inputs, "ops": [op]})


def test_zoo_flash_option() -> None:
    # BERT (no mask): the fused form has exactly the naive form's MACs
    assert pysim.zoo.load("bert_base", seq_len=64, attention="flash").macs == \
        pysim.zoo.load("bert_base", seq_len=64).macs
    # GPT-2 (causal): the fused form skips the masked half of Q K^T and P V:
    # per layer 2 x 12 heads x 64 x (S^2 - S (S + 1) / 2) fewer MACs
    s = 32
    naive = pysim.zoo.load("gpt2", seq_len=s).macs
    flash = pysim.zoo.load("gpt2", seq_len=s, attention="flash").macs
    assert naive - flash == 12 * 2 * 12 * 64 * (s * s - s * (s + 1) // 2)
    with pytest.raises(pysim.WorkloadError, match="attention must be one of"):
        pysim.zoo.load("llama2_7b", attention="fast")
