"""The newer zoo models (VGG-16, ViT-B/16, BERT-large, GPT-2, LLaMA-2-7B prefill and decode,
MoE FFN): MACs pinned exactly against hand derivations and near published figures, parameter
counts against the reference models, KV-cache traffic per decoded token, routing, errors, and
that each simulates."""

from __future__ import annotations

import pytest

import pysim
from pysim import zoo
from pysim.errors import WorkloadError
from pysim.zoo.moe import expert_tokens

HW = "configs/edge_npu.yaml"


def weight_values(wl: pysim.Workload) -> int:
    return sum(t.elements for t in wl.tensors.values() if t.role == "weight")


def test_vgg16():
    # 13 convs at 224: sum over layers of H*W*Cout*Cin*9 = 15,346,630,656; classifier
    # 25088*4096 + 4096*4096 + 4096*1000 = 123,633,664. torchvision: 15.47 GFLOPS (MACs),
    # 138,357,544 parameters.
    wl = zoo.load("vgg16")
    assert wl.macs == 15_346_630_656 + 123_633_664 == 15_470_264_320
    assert abs(wl.macs - 15.47e9) < 0.001 * 15.47e9
    assert weight_values(wl) == 138_357_544
    assert sum(op.type == "conv2d" for op in wl.ops) == 13
    assert sum(op.type == "pool" for op in wl.ops) == 5
    assert zoo.load("vgg16", batch=2).macs == 2 * wl.macs


def test_vit_b16():
    # Patch embedding 196 x 768 x (3*16*16) = 115,605,504; 12 layers over 197 tokens of
    # 4*197*768^2 + 2*197^2*768 + 2*197*768*3072 = 1,453,954,560; head 768*1000 on the class
    # token. torchvision vit_b_16: 17.56 GFLOPS (MACs); 86,567,656 parameters, of which the
    # class token (768) and position embeddings (197*768) are not weights of any op here.
    wl = zoo.load("vit_b16")
    layer = 4 * 197 * 768**2 + 2 * 197**2 * 768 + 2 * 197 * 768 * 3072
    assert layer == 1_453_954_560
    assert wl.macs == 196 * 768 * 768 + 12 * layer + 768 * 1000 == 17_563_828_224
    assert abs(wl.macs - 17.56e9) < 0.001 * 17.56e9
    assert weight_values(wl) == 86_567_656 - 768 - 197 * 768
    assert wl.op("patch_embed").output_shape == (1, 14, 14, 768)
    assert wl.op("layer0.scores").gemm_view() == (12, 197, 197, 64)
    assert zoo.load("vit_b16", image_size=384).op("layer0.scores").gemm_view().m == 577


def test_bert_large():
    # 24 x (4*128*1024^2 + 2*128^2*1024 + 2*128*1024*4096) = 24 x 1,644,167,168; 3.53x BERT-base.
    # Weights: bert-large-uncased's 335,141,888 parameters less the word/position/type
    # embeddings (31,254,528 + 524,288 + 2,048) and the pooler (1,049,600).
    wl = zoo.load("bert_large")
    per_layer = 4 * 128 * 1024**2 + 2 * 128**2 * 1024 + 2 * 128 * 1024 * 4096
    assert wl.macs == 24 * per_layer == 39_460_012_032
    assert round(wl.macs / zoo.load("bert_base").macs, 2) == 3.53
    assert weight_values(wl) == 335_141_888 - 31_254_528 - 524_288 - 2_048 - 1_049_600
    assert zoo.load("bert_large", seq_len=16).macs == 24 * (
        4 * 16 * 1024**2 + 2 * 16**2 * 1024 + 2 * 16 * 1024 * 4096)


def test_gpt2_prefill():
    # Per token: 12 x (4*768^2 + 2*768*3072) linear + the tied LM head 768*50257 = 123,532,032
    # MACs; attention 12 x 2 * T^2 * 768. At T = 1024: 126,496,800,768 + 19,327,352,832.
    # Rule of thumb: 2 * N * T FLOPs = N * T MACs with N = 124,439,808 (GPT-2 small's
    # parameters): the linear part is within 1% of it (the difference is the position
    # embeddings, biases and norms, which are not multiplied).
    t = 1024
    wl = zoo.load("gpt2")
    linear = t * (12 * (4 * 768**2 + 2 * 768 * 3072) + 768 * 50257)
    attention = 12 * 2 * t * t * 768
    assert linear == 126_496_800_768 and attention == 19_327_352_832
    assert wl.macs == linear + attention == 145_824_153_600
    assert abs(linear - 124_439_808 * t) < 0.01 * 124_439_808 * t
    assert weight_values(wl) == 124_439_808 - 1024 * 768  # less the position embeddings
    assert zoo.load("gpt2", seq_len=8, batch=2).macs == 2 * (
        8 * (12 * (4 * 768**2 + 2 * 768 * 3072) + 768 * 50257) + 12 * 2 * 64 * 768)


@pytest.mark.parametrize("layers,hidden,heads", [(40, 1536, 16), (72, 3072, 32), (2, 64, 4)])
def test_gpt_of_any_size(layers, hidden, heads):
    """Megatron-LM's GPT: per token layers x 12 h^2 linear MACs (Q, K, V, output, 4h MLP) +
    the h x vocab LM head; the fused causal attention's computed blocks (flash) beside the
    naive form's full T^2 (2 T^2 h per layer)."""
    t, vocab = 128, 51200
    naive = zoo.load("gpt", seq_len=t, layers=layers, hidden=hidden, heads=heads,
                     attention="naive")
    linear = t * (layers * 12 * hidden**2 + hidden * vocab)
    assert naive.macs == linear + layers * 2 * t * t * hidden
    flash = zoo.load("gpt", seq_len=t, layers=layers, hidden=hidden, heads=heads)
    assert linear < flash.macs < naive.macs
    assert weight_values(naive) == layers * (12 * hidden**2 + 13 * hidden) + 2 * hidden \
        + hidden * vocab  # biases and norms beside, the tied LM head once
    # GPT-2 small's dimensions: gpt2 but for the padded vocabulary
    assert zoo.load("gpt", seq_len=t, vocab=50257, attention="naive").macs == \
        zoo.load("gpt2", seq_len=t).macs


@pytest.mark.parametrize("field,value", [("layers", 0), ("hidden", -1), ("heads", 5),
                                         ("ffn", -2), ("vocab", 1.5)])
def test_gpt_refuses_bad_sizes_by_name(field, value):
    with pytest.raises(pysim.WorkloadError, match=field):
        zoo.load("gpt", **{field: value})


# LLaMA-2-7B linear MACs per token: 32 x (4 * 4096^2 + 3 * 4096 * 11008) + LM head
# 4096 * 32000 = 6,607,077,376 = its 6,738,415,616 parameters less the embedding table
# (32000 * 4096) and the 65 RMSNorm gains (65 * 4096). Attention: 2 * 32 layers * n * 4096 per
# query token over n keys.
LLAMA_LINEAR = 32 * (4 * 4096**2 + 3 * 4096 * 11008) + 4096 * 32000


def test_llama_linear_matches_parameter_count():
    assert LLAMA_LINEAR == 6_738_415_616 - 32000 * 4096 - 65 * 4096 == 6_607_077_376


@pytest.mark.parametrize("seq_len", [1, 128, 512])
def test_llama_prefill_macs(seq_len):
    wl = zoo.load("llama2_7b", seq_len=seq_len)
    assert wl.macs == seq_len * LLAMA_LINEAR + 32 * 2 * seq_len**2 * 4096
    assert wl.weight_bytes == LLAMA_LINEAR + 65 * 4096  # int8; RMS norms: gamma only


def test_llama_decode_macs_and_kv_cache():
    # Step i reads a cache of context_len + i + 1 rows per layer for K and for V:
    # 2 * 32 layers * (c + i + 1) * 4096 bytes (int8, 32 KV heads of 128).
    c, tokens = 64, 3
    wl = zoo.load("llama2_7b", phase="decode", context_len=c, tokens=tokens)
    keys = [c + i + 1 for i in range(tokens)]
    assert wl.macs == tokens * LLAMA_LINEAR + sum(2 * 32 * n * 4096 for n in keys)
    caches = [t for t in wl.inputs if t.name.endswith("_cache")]
    assert len(caches) == 2 * 32 * tokens
    assert wl.tensors["t2.layer5.k_cache"].shape == (1, 32, c + 3, 128)
    assert sum(t.bytes for t in caches) == sum(2 * 32 * n * 4096 for n in keys)
    # Weight matrices are shared by the steps (declared once); each step owns its norm gains.
    assert wl.weight_bytes == LLAMA_LINEAR + tokens * 65 * 4096
    # The new K and V rows are written out (graph outputs): the cache append.
    assert {"t0.layer0.k_rope", "t0.layer0.v_proj"} <= set(wl.outputs)
    assert wl.op("t1.layer0.scores").gemm_view() == (32, 1, c + 2, 128)


def test_llama_grouped_query_attention():
    # kv_heads = 8: K and V projections 4096 -> 1024; the 4 query heads of a group stack, so
    # Q K^T is (batch, 8) x (4 x 128) @ (128 x n): the MHA MACs; the cache is 4x smaller.
    gqa = zoo.load("llama2_7b", phase="decode", context_len=100, kv_heads=8)
    linear = 32 * (2 * 4096**2 + 2 * 4096 * 1024 + 3 * 4096 * 11008) + 4096 * 32000
    assert gqa.macs == linear + 2 * 32 * 101 * 4096
    assert gqa.op("t0.layer0.scores").gemm_view() == (8, 4, 101, 128)
    assert gqa.tensors["t0.layer0.v_cache"].bytes == 101 * 1024
    pre = zoo.load("llama2_7b", seq_len=16, kv_heads=1)
    assert pre.op("layer0.context").gemm_view() == (1, 32 * 16, 128, 16)


def test_llama_decode_kv_reads_in_simulated_dram_traffic():
    hw = pysim.load_hardware(HW)
    wl = zoo.load("llama2_7b", phase="decode", context_len=32, tokens=2, kv_heads=8)
    res = pysim.simulate(hw, wl)
    kv = sum(t.bytes for t in wl.inputs if t.name.endswith("_cache"))
    matrices = LLAMA_LINEAR - 32 * 2 * 4096 * (4096 - 1024)
    assert kv == 2 * 32 * 1024 * (33 + 34)
    # Both steps read every weight matrix and their caches; weights are compulsory once.
    assert res.dram_read_bytes >= 2 * matrices + kv
    assert res.compulsory_dram_bytes < 2 * matrices
    ops = res.layers.set_index("op")
    for step, rows in ((0, 33), (1, 34)):  # the cache grows by one row per decoded token
        cache = wl.tensors[f"t{step}.layer0.k_cache"].bytes
        assert cache == 1024 * rows
        assert ops.loc[f"t{step}.layer0.scores", "dram_read_bytes"] >= cache
    # The second step re-reads the weights: DRAM traffic, but not compulsory.
    assert ops.loc["t1.layer0.q_proj", "dram_read_bytes"] >= 4096 * 4096
    assert ops.loc["t1.layer0.q_proj", "compulsory_bytes"] == 0


@pytest.mark.parametrize(("routing", "seed"), [("uniform", None), ([4, 2, 1, 1], None),
                                               ([4, 2, 1, 1], 7), ("uniform", 0)])
def test_moe_macs(routing, seed):
    # Router T*H*E, then sum over experts of t_e * 3 * H * F (SwiGLU) with sum t_e = T * k.
    t, h, f, e, k = 2 * 16, 64, 96, 4, 2
    wl = zoo.load("moe_ffn", batch=2, seq_len=16, hidden=h, ffn_hidden=f, experts=e, top_k=k,
                  routing=routing, seed=seed)
    assert wl.macs == t * h * e + t * k * 3 * h * f
    counts = expert_tokens(t, e, k, routing, seed)
    assert sum(counts) == t * k and max(counts) <= t
    for i, n in enumerate(counts):
        assert wl.op(f"expert{i}.down").gemm_view() == (1, n, h, f)
    assert zoo.load("moe_ffn", batch=2, seq_len=16, hidden=h, ffn_hidden=f, experts=e,
                    top_k=k, routing=routing, seed=seed) == wl  # deterministic


def test_moe_routing():
    assert expert_tokens(128, 8, 2, "uniform") == [32] * 8
    assert expert_tokens(10, 4, 2, [0.7, 0.1, 0.1, 0.1]) == [10, 4, 3, 3]  # capped at 10
    assert expert_tokens(10, 4, 1, [1, 0, 0, 0]) == [10, 0, 0, 0]
    wl = zoo.load("moe_ffn", seq_len=10, hidden=8, ffn_hidden=16, experts=4, top_k=1,
                  routing=[1, 0, 0, 0], gated=False)
    assert [op.name for op in wl.ops if op.name.startswith("expert")] == [
        "expert0.fc", "expert0.gelu", "expert0.down"]
    assert wl.macs == 10 * 8 * 4 + 10 * 2 * 8 * 16
    default = zoo.load("moe_ffn")  # Mixtral-8x7B sizes, 128 tokens, top-2 of 8
    assert default.macs == 128 * 4096 * 8 + 128 * 2 * 3 * 4096 * 14336


@pytest.mark.parametrize(("name", "params"), [
    ("vgg16", {"image_size": 32}),
    ("vit_b16", {"image_size": 32, "batch": 2}),
    ("bert_large", {"seq_len": 8}),
    ("gpt2", {"seq_len": 8}),
    ("llama2_7b", {"seq_len": 4, "kv_heads": 4}),
    ("moe_ffn", {"seq_len": 8, "hidden": 64, "ffn_hidden": 128, "routing": [3, 1, 1, 1, 0, 0,
                                                                            0, 1]}),
])
def test_new_models_simulate(name, params):
    wl = zoo.load(name, **params)
    res = pysim.simulate(pysim.load_hardware(HW), wl)
    assert res.macs == wl.macs and res.latency_s > 0 and res.energy_j > 0


@pytest.mark.parametrize(("name", "params", "match"), [
    ("llama", {}, "did you mean 'llama2_7b'"),
    ("vgg", {}, "did you mean 'vgg16'"),
    ("gpt-2", {}, "did you mean 'gpt2'"),
    ("llama2_7b", {"seq_len": -1}, "seq_len must be an int >= 1, got -1"),
    ("llama2_7b", {"phase": "decode", "context_len": -5}, "context_len must be an int >= 1"),
    ("llama2_7b", {"phase": "decode", "tokens": 0}, "tokens must be an int >= 1, got 0"),
    ("llama2_7b", {"phase": "generate"}, "phase must be 'prefill' or 'decode'"),
    ("llama2_7b", {"kv_heads": 5}, "kv_heads must divide 32, got 5"),
    ("gpt2", {"seq_len": -128}, "seq_len must be an int >= 1, got -128"),
    ("bert_large", {"seq_len": 0}, "seq_len must be an int >= 1"),
    ("moe_ffn", {"top_k": 9}, "top_k must be <= experts"),
    ("moe_ffn", {"routing": [1, 2]}, "routing must list 8 non-negative shares"),
    ("moe_ffn", {"routing": "zipf"}, "routing must be 'uniform' or a list"),
    ("moe_ffn", {"experts": 4, "top_k": 2, "routing": [1, 0, 0, 0]}, "top_k=2 needs at least"),
    ("moe_ffn", {"seed": -1}, "seed must be None or an int >= 0"),
    ("vgg16", {"image_size": 16}, "zoo model 'vgg16' with image_size=16"),
])
def test_bad_parameters(name, params, match):
    with pytest.raises(WorkloadError, match=match):
        zoo.load(name, **params)


def test_describe_lists_new_models():
    table = {name: params for name, params, _ in zoo.describe()}
    assert table["llama2_7b"] == {"batch": 1, "phase": "prefill", "seq_len": 512,
                                  "context_len": 512, "tokens": 1, "kv_heads": 32,
                                  "attention": "naive", "precision": "int8"}
    assert table["moe_ffn"]["routing"] == "uniform"
    for name in ("vgg16", "vit_b16", "bert_large", "gpt2", "llama2_7b", "moe_ffn"):
        assert "batch" in table[name]


def test_llama_in_fp16_as_released() -> None:
    wl = zoo.load("llama2_7b", phase="decode", context_len=64, precision="fp16")
    weights = [t for t in wl.inputs if t.role == "weight"]
    assert all(t.bits == 16 and t.dtype == "float" for t in weights)
    assert {(op.dtype, op.act_bits) for op in wl.ops} == {("float", 16)}
    int8 = zoo.load("llama2_7b", phase="decode", context_len=64)
    assert sum(t.bytes for t in weights) == 2 * sum(t.bytes for t in int8.inputs
                                                    if t.role == "weight")
    with pytest.raises(WorkloadError, match="precision must be one of"):
        zoo.load("llama2_7b", precision="fp8")
