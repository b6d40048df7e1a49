"""LLaMA-2-7B (Touvron et al. 2023): prefill of a prompt, and decode token by token with a
KV cache, optionally with grouped-query attention.

32 layers, hidden 4096, 32 heads of 128, SwiGLU feed-forward 11008, vocabulary 32000, no
biases. Per layer: RMSNorm (a layernorm op with `rms: true`: 4 vector ops per element, 4096
weights), Q/K/V projections, rotary embeddings on Q and K (elementwise `rope`), Q K^T, softmax,
P V, output projection, residual add; RMSNorm, gate and up projections, SiLU(gate) * up, down
projection, residual add. Then the final norm and the LM head. Token embeddings are lookups,
not modelled: each phase reads them as a graph input. The 1/sqrt(128) score scale is folded
into the query weights and the causal mask is not modelled (the naive form computes every
score).

Grouped-query attention (`kv_heads` < 32): K and V have `kv_heads` heads; the 32 / kv_heads
query heads sharing one are stacked, so Q K^T is a matmul over (batch, kv_heads) of
(group*q_len x 128) @ (128 x kv_len): the same MACs as multi-head attention, K/V smaller.

Decode: step i (0-based) of `tokens` runs one token through all layers with M = batch rows.
Its new K and V rows are graph outputs (appended to the cache in DRAM); attention then reads
the cache of context_len + i + 1 rows (its own included, as a cache update followed by
attention over the whole cache does) as graph inputs ``t<i>.layer<l>.k_cache`` /
``v_cache``, so every decoded token pays its KV-cache bytes in DRAM traffic. The weight
matrices are declared once (role "weight") and read by matmuls in every step: the workload's
weight_bytes counts them once, and each step reads them from DRAM again. The steps are not
chained (sampling and the next lookup are not modelled).
"""

from __future__ import annotations

from collections.abc import Callable

from pysim.errors import WorkloadError
from pysim.workload import Workload
from pysim.zoo._builder import GraphBuilder, check_attention

HIDDEN, LAYERS, HEADS, HEAD_DIM, FFN, VOCAB = 4096, 32, 32, 128, 11008, 32000

Linear = Callable[[str, str, int, int], str]   # (x, op name, n, k) -> output
KV = Callable[[str, str, str], tuple[str, str]]  # (layer prefix, k, v) -> tensors attention reads


def _layer(g: GraphBuilder, x: str, p: str, batch: int, q_len: int, kv_len: int,
           kv_heads: int, linear: Linear, kv: KV, attention: str = "naive") -> str:
    rows, group, kv_dim = batch * q_len, HEADS // kv_heads, kv_heads * HEAD_DIM
    h = g.layernorm(x, f"{p}.attn_norm", rows, HIDDEN, rms=True)
    q = g.elementwise("rope", (linear(h, f"{p}.q_proj", HIDDEN, HIDDEN),), f"{p}.q_rope")
    k = g.elementwise("rope", (linear(h, f"{p}.k_proj", kv_dim, HIDDEN),), f"{p}.k_rope")
    v = linear(h, f"{p}.v_proj", kv_dim, HIDDEN)
    k, v = kv(p, k, v)
    if attention == "flash":  # fused, causal: each query sees the cache and itself
        c = g.attention(q, k, v, f"{p}.attention", batch, HEADS, q_len, kv_len, HEAD_DIM,
                        kv_heads=kv_heads, causal=True)
    else:
        s = g.matmul(q, k, f"{p}.scores", (batch, kv_heads), group * q_len, kv_len, HEAD_DIM)
        s = g.softmax(s, f"{p}.softmax", batch * HEADS * q_len, kv_len)
        c = g.matmul(s, v, f"{p}.context", (batch, kv_heads), group * q_len, HEAD_DIM, kv_len)
    x = g.elementwise("add", (linear(c, f"{p}.o_proj", HIDDEN, HIDDEN), x), f"{p}.attn_add")
    h = g.layernorm(x, f"{p}.ffn_norm", rows, HIDDEN, rms=True)
    gate = g.elementwise("silu", (linear(h, f"{p}.gate_proj", FFN, HIDDEN),), f"{p}.silu")
    f = g.elementwise("mul", (gate, linear(h, f"{p}.up_proj", FFN, HIDDEN)), f"{p}.swiglu")
    return g.elementwise("add", (linear(f, f"{p}.down_proj", HIDDEN, FFN), x), f"{p}.ffn_add")


def _prefill(g: GraphBuilder, batch: int, seq_len: int, kv_heads: int,
             attention: str) -> None:
    def linear(x: str, name: str, n: int, k: int) -> str:
        return g.gemm(x, name, n, k=k, bias=False)

    x = g.input("embeddings", (batch * seq_len, HIDDEN))
    for layer in range(LAYERS):
        x = _layer(g, x, f"layer{layer}", batch, seq_len, seq_len, kv_heads, linear,
                   lambda p, k, v: (k, v), attention)
    x = g.layernorm(x, "norm", batch * seq_len, HIDDEN, rms=True)
    linear(x, "lm_head", VOCAB, HIDDEN)


def _decode(g: GraphBuilder, batch: int, context_len: int, tokens: int, kv_heads: int,
            attention: str) -> None:
    def linear(x: str, name: str, n: int, k: int) -> str:
        weight = name.split(".", 1)[1] + ".weight"  # t3.layer0.q_proj -> layer0.q_proj.weight
        if weight not in g.shapes:
            g.weight(weight, (k, n))
        return g.matmul(x, weight, name, (), batch, n, k)

    for step in range(tokens):
        kv_len = context_len + step + 1

        def cache(p: str, k: str, v: str, kv_len: int = kv_len) -> tuple[str, str]:
            shape = (batch, kv_heads, kv_len, HEAD_DIM)  # k and v: new rows, graph outputs
            return g.input(f"{p}.k_cache", shape), g.input(f"{p}.v_cache", shape)

        x = g.input(f"t{step}.embedding", (batch, HIDDEN))
        for layer in range(LAYERS):
            x = _layer(g, x, f"t{step}.layer{layer}", batch, 1, kv_len, kv_heads, linear, cache,
                       attention)
        x = g.layernorm(x, f"t{step}.norm", batch, HIDDEN, rms=True)
        linear(x, f"t{step}.lm_head", VOCAB, HIDDEN)


def llama2_7b(batch: int = 1, phase: str = "prefill", seq_len: int = 512,
              context_len: int = 512, tokens: int = 1, kv_heads: int = 32,
              attention: str = "naive", precision: str = "int8") -> Workload:
    """LLaMA-2-7B. phase="prefill": one pass over a `seq_len`-token prompt (logits at every
    position). phase="decode": `tokens` tokens generated one at a time after a context of
    `context_len` cached tokens. `kv_heads` (dividing 32) < 32 is grouped-query attention.
    ``attention="flash"`` fuses Q K^T, softmax and P V into one causal attention op.
    ``precision``: "int8" (weights and activations) or "fp16" (as the model is released).
    Raises WorkloadError on an unknown phase or precision or a kv_heads that does not divide
    32."""
    if phase not in ("prefill", "decode"):
        raise WorkloadError(f"zoo model 'llama2_7b': phase must be 'prefill' or 'decode', "
                            f"got {phase!r}")
    if HEADS % kv_heads:
        raise WorkloadError(f"zoo model 'llama2_7b': kv_heads must divide {HEADS}, "
                            f"got {kv_heads}")
    check_attention("llama2_7b", attention)
    formats = {"int8": (8, "int"), "fp16": (16, "float")}
    if precision not in formats:
        raise WorkloadError(f"zoo model 'llama2_7b': precision must be one of "
                            f"{list(formats)}, got {precision!r}")
    bits, dtype = formats[precision]
    g = GraphBuilder(f"llama2_7b_{phase}", bits, bits, dtype)
    if phase == "prefill":
        _prefill(g, batch, seq_len, kv_heads, attention)
    else:
        _decode(g, batch, context_len, tokens, kv_heads, attention)
    return g.build()
