"""Pre-norm transformers: GPT-2 small (prefill), a GPT decoder of any size and ViT-B/16.

A pre-norm block is LayerNorm, Q/K/V projections (gemm + bias), Q K^T (matmul over (batch,
heads)), softmax, P V, output projection, residual add; LayerNorm, feed-forward gemm, GELU,
gemm, residual add. As in the BERT model, the 1/sqrt(head_dim) scale is folded into the query
weights and masks are not modelled: GPT-2's causal attention computes the full seq_len x
seq_len scores, as the naive (unfused) form does. Lookups (token and position embeddings) are
not modelled: the model reads the summed embeddings.
"""

from __future__ import annotations

from pysim.errors import WorkloadError
from pysim.workload import Workload
from pysim.zoo._builder import GraphBuilder, check_attention


def prenorm_block(g: GraphBuilder, x: str, p: str, batch: int, seq: int, hidden: int,
                  heads: int, ffn: int, attention: str = "naive", causal: bool = False) -> str:
    """One pre-norm block over `x` (batch*seq, hidden); returns its output's name."""
    rows, head_dim = batch * seq, hidden // heads
    h = g.layernorm(x, f"{p}.ln_1", rows, hidden)
    q = g.gemm(h, f"{p}.query", hidden)
    k = g.gemm(h, f"{p}.key", hidden)
    v = g.gemm(h, f"{p}.value", hidden)
    if attention == "flash":  # fused; a causal mask skips the masked scores
        c = g.attention(q, k, v, f"{p}.attention", batch, heads, seq, seq, head_dim,
                        causal=causal)
    else:
        s = g.matmul(q, k, f"{p}.scores", (batch, heads), seq, seq, head_dim)
        s = g.softmax(s, f"{p}.softmax", batch * heads * seq, seq)
        c = g.matmul(s, v, f"{p}.context", (batch, heads), seq, head_dim, seq)
    a = g.gemm(c, f"{p}.attn_out", hidden, k=hidden)
    x = g.elementwise("add", (a, x), f"{p}.attn_add")
    h = g.layernorm(x, f"{p}.ln_2", rows, hidden)
    f = g.gemm(h, f"{p}.fc", ffn)
    f = g.elementwise("gelu", (f,), f"{p}.gelu")
    f = g.gemm(f, f"{p}.proj", hidden)
    return g.elementwise("add", (f, x), f"{p}.ffn_add")


def gpt2(batch: int = 1, seq_len: int = 1024, attention: str = "naive",
         vocab: int = 50257) -> Workload:
    """GPT-2 small (124M) prefill of `seq_len` tokens: 12 layers, hidden 768, 12 heads,
    feed-forward 3072, final LayerNorm and the (tied) ``vocab``-way LM head on every position
    (GPT-2's 50257; Megatron-LM and nanoGPT pad it to 50304, a multiple of 64 and 128, which
    keeps the logits' rows 16-byte aligned for the GPU's fast GEMM kernels).
    ``attention="flash"`` fuses attention into one causal op (masked scores skipped)."""
    check_attention("gpt2", attention)
    g = GraphBuilder("gpt2")
    x = g.input("embeddings", (batch * seq_len, 768))
    for i in range(12):
        x = prenorm_block(g, x, f"h{i}", batch, seq_len, 768, 12, 3072, attention,
                          causal=True)
    x = g.layernorm(x, "ln_f", batch * seq_len, 768)
    g.gemm(x, "lm_head", vocab, bias=False)
    return g.build()


def gpt(batch: int = 1, seq_len: int = 1024, layers: int = 12, hidden: int = 768,
        heads: int = 12, ffn: int = 0, vocab: int = 51200, attention: str = "flash") -> Workload:
    """A GPT decoder of any size: ``layers`` pre-norm blocks of width ``hidden`` with ``heads``
    heads and a ``ffn``-wide feed-forward (0: 4 x hidden), a final LayerNorm and the
    ``vocab``-way LM head (default 51200, Megatron-LM's padded GPT-2 vocabulary); the
    configurations of Megatron-LM's scaling tables (Narayanan et al., SC 2021, Table 1) are
    this model. ``attention`` as ``gpt2``'s (default fused, causal)."""
    check_attention("gpt", attention)
    for field, value in (("batch", batch), ("seq_len", seq_len), ("layers", layers),
                         ("hidden", hidden), ("heads", heads), ("vocab", vocab)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise WorkloadError(f"zoo model 'gpt': {field} must be an int >= 1, got {value!r}")
    if isinstance(ffn, bool) or not isinstance(ffn, int) or ffn < 0:
        raise WorkloadError(f"zoo model 'gpt': ffn must be an int >= 0 (0: 4 x hidden), got "
                            f"{ffn!r}")
    if hidden % heads:
        raise WorkloadError(f"zoo model 'gpt': heads ({heads}) must divide hidden ({hidden})")
    g = GraphBuilder("gpt")
    x = g.input("embeddings", (batch * seq_len, hidden))
    for i in range(layers):
        x = prenorm_block(g, x, f"h{i}", batch, seq_len, hidden, heads, ffn or 4 * hidden,
                          attention, causal=True)
    x = g.layernorm(x, "ln_f", batch * seq_len, hidden)
    g.gemm(x, "lm_head", vocab, bias=False)
    return g.build()


def vit_b16(batch: int = 1, image_size: int = 224) -> Workload:
    """ViT-B/16 (Dosovitskiy et al. 2021; torchvision `vit_b_16`): 16x16 patch embedding
    (conv, stride 16), (image_size/16)^2 patches + the class token, 12 pre-norm layers
    (hidden 768, 12 heads, MLP 3072), final LayerNorm, 1000-way head on the class token.

    pysim has no concatenation or slicing op, so the graph has three parts: the patch
    embedding conv (its output a graph output), the encoder reading `tokens` (patches, class
    token and position embeddings, as a graph input), and the head reading the class token's
    final state `cls` (a graph input)."""
    g = GraphBuilder("vit_b16")
    image = g.input("image", (batch, image_size, image_size, 3))
    g.conv(image, "patch_embed", 768, 16, stride=16, padding=0)
    patches = (image_size // 16) ** 2
    tokens = patches + 1
    x = g.input("tokens", (batch * tokens, 768))
    for i in range(12):
        x = prenorm_block(g, x, f"layer{i}", batch, tokens, 768, 12, 3072)
    g.layernorm(x, "ln", batch * tokens, 768)
    cls = g.input("cls", (batch, 768))
    g.gemm(cls, "head", 1000)
    return g.build()

