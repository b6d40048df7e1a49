"""Transformer encoders: BERT-base and BERT-large.

The encoder only: the input is the sum of the token, position and segment embeddings (the
lookups are not modelled), followed by the embedding LayerNorm and the encoder layers; no pooler
or task head. Per layer: Q, K and V projections and the attention output projection as gemm
(with bias), Q K^T and P V as a matmul batched over (batch, heads), softmax over each row of
scores (the 1/sqrt(head_dim) scale is folded into the query projection's weights and the padding
mask is not modelled), residual adds, LayerNorm, and the feed-forward gemms with GELU between.
"""

from __future__ import annotations

from pysim.workload import Workload
from pysim.zoo._builder import GraphBuilder, check_attention


def _encoder(name: str, batch: int, seq_len: int, layers: int, hidden: int, heads: int,
             ffn: int, attention: str = "naive") -> Workload:
    check_attention(name, attention)
    g = GraphBuilder(name)
    tokens, head_dim = batch * seq_len, hidden // heads
    x = g.input("embeddings", (batch, seq_len, hidden))
    x = g.layernorm(x, "embeddings.norm", tokens, hidden)
    for i in range(layers):
        p = f"layer{i}"
        q = g.gemm(x, f"{p}.query", hidden)
        k = g.gemm(x, f"{p}.key", hidden)
        v = g.gemm(x, f"{p}.value", hidden)
        if attention == "flash":
            c = g.attention(q, k, v, f"{p}.attention", batch, heads, seq_len, seq_len,
                            head_dim)
        else:
            s = g.matmul(q, k, f"{p}.scores", (batch, heads), seq_len, seq_len, head_dim)
            s = g.softmax(s, f"{p}.softmax", batch * heads * seq_len, seq_len)
            c = g.matmul(s, v, f"{p}.context", (batch, heads), seq_len, head_dim, seq_len)
        a = g.gemm(c, f"{p}.attn_out", hidden, k=hidden)  # heads concatenated
        a = g.elementwise("add", (a, x), f"{p}.attn_add")
        x = g.layernorm(a, f"{p}.attn_norm", tokens, hidden)
        f = g.gemm(x, f"{p}.ffn1", ffn)
        f = g.elementwise("gelu", (f,), f"{p}.gelu")
        f = g.gemm(f, f"{p}.ffn2", hidden)
        f = g.elementwise("add", (f, x), f"{p}.ffn_add")
        x = g.layernorm(f, f"{p}.ffn_norm", tokens, hidden)
    return g.build()


def bert_base(batch: int = 1, seq_len: int = 128, attention: str = "naive") -> Workload:
    """BERT-base encoder: 12 layers, hidden 768, 12 heads of 64, feed-forward 3072.
    ``attention="flash"`` fuses Q K^T, softmax and P V into one attention op."""
    return _encoder("bert_base", batch, seq_len, layers=12, hidden=768, heads=12, ffn=3072,
                    attention=attention)


def bert_large(batch: int = 1, seq_len: int = 128, attention: str = "naive") -> Workload:
    """BERT-large encoder: 24 layers, hidden 1024, 16 heads of 64, feed-forward 4096.
    ``attention="flash"`` fuses Q K^T, softmax and P V into one attention op."""
    return _encoder("bert_large", batch, seq_len, layers=24, hidden=1024, heads=16, ffn=4096,
                    attention=attention)
