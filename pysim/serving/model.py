"""Decoder-only LLM architectures for serving, and the per-layer workloads their iterations
are priced with.

A serving iteration runs a batch of token rows through every layer. Its cost is split into
pieces whose shapes the batch determines (Vidur, Agrawal et al., MLSys 2024, predicts the same
split): per layer, the token-parallel block (norms, Q/K/V/O projections, rotary embeddings,
residual adds) over all T tokens of the batch, the feed-forward over T tokens (or, for a
mixture of experts, each expert over the tokens routed to it), and attention per sequence
shape; once per iteration, the final norm and LM head over one row per sequence that emits a
token. Each piece is one pysim workload of a single layer, simulated by ``pysim.simulate`` and
multiplied by the layer count (every layer has the same shapes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from pysim.errors import WorkloadError
from pysim.workload import Copy, Quant, Workload
from pysim.zoo._builder import GraphBuilder

# bits and number format of activations, the KV cache and unquantized weights
PRECISIONS = {"fp16": (16, "float"), "int8": (8, "int"), "w4a16": (16, "float")}
# Weight-only quantization of the linear layers (Q / K / V / O, FFN): 4-bit weights in groups of
# 128 along K with an fp16 scale and zero point each, as AWQ (Lin et al., MLSys 2024) and GPTQ
# store them; fp16 activations, KV cache, norms, embeddings and LM head (AWQ keeps the head).
WEIGHT_ONLY = {"w4a16": (4, Quant(granularity="group", group_size=128, scale_bits=16,
                                   zero_point=True))}
ATTENTION_FORMS = ("flash", "naive")
# normalisations: LLaMA's RMSNorm, or the GPT / OPT LayerNorm (mean and beta too)
NORM_FORMS = ("rms", "layer")
# feed-forward forms: LLaMA's SwiGLU (gate, up, down: three matrices) or the GPT / OPT MLP
# (fc1, ReLU, fc2: two matrices)
FFN_FORMS = ("swiglu", "relu")


@dataclass(frozen=True)
class LLMSpec:
    """A LLaMA-style decoder: RMSNorm (``norm`` "rms"; "layer": OPT's LayerNorm), rotary
    embeddings, grouped-query attention with ``kv_heads`` K/V heads of ``head_dim``, a
    SwiGLU feed-forward of ``ffn`` hidden units, or ``experts`` of them with ``top_k``
    routed per token (a fractional top_k is an average over tokens:
    pysim/serving/dynamic.py). ``max_context`` is the longest prompt + output the model
    accepts; ``precision`` "fp16" or "int8" sets weight, activation and KV-cache width
    ("w4a16": 4-bit linear-layer weights with group scales, the rest fp16: ``WEIGHT_ONLY``);
    ``attention`` "flash" (one fused op) or "naive" (matmul, softmax, matmul); ``ffn_form``
    "swiglu" (three matrices) or "relu" (OPT's fc1 / ReLU / fc2, two); ``tied_embeddings``:
    the LM head reuses the token embedding (OPT), so it is stored once.
    """

    name: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    vocab: int
    max_context: int
    precision: str = "fp16"
    attention: str = "flash"
    experts: int = 1
    top_k: float = 1.0
    ffn_form: str = "swiglu"
    tied_embeddings: bool = False
    norm: str = "rms"

    def __post_init__(self) -> None:
        for name in ("layers", "hidden", "heads", "kv_heads", "head_dim", "ffn", "vocab",
                     "max_context", "experts"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise WorkloadError(f"model {self.name!r}: {name} must be an int >= 1, "
                                    f"got {value!r}")
        if self.heads % self.kv_heads:
            raise WorkloadError(f"model {self.name!r}: kv_heads must divide heads "
                                f"({self.heads}), got {self.kv_heads}")
        if self.precision not in PRECISIONS:
            raise WorkloadError(f"model {self.name!r}: precision must be one of "
                                f"{list(PRECISIONS)}, got {self.precision!r}")
        if self.attention not in ATTENTION_FORMS:
            raise WorkloadError(f"model {self.name!r}: attention must be one of "
                                f"{list(ATTENTION_FORMS)}, got {self.attention!r}")
        if self.norm not in NORM_FORMS:
            raise WorkloadError(f"model {self.name!r}: norm must be one of "
                                f"{list(NORM_FORMS)}, got {self.norm!r}")
        if self.ffn_form not in FFN_FORMS:
            raise WorkloadError(f"model {self.name!r}: ffn_form must be one of "
                                f"{list(FFN_FORMS)}, got {self.ffn_form!r}")
        if not (isinstance(self.top_k, (int, float)) and 1 <= self.top_k <= self.experts):
            raise WorkloadError(f"model {self.name!r}: top_k must be in [1, experts="
                                f"{self.experts}], got {self.top_k!r}")

    def with_(self, **changes: object) -> LLMSpec:
        """A copy with ``changes`` (validated again)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def bytes_per_element(self) -> int:
        return PRECISIONS[self.precision][0] // 8

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim

    @property
    def ffn_matrices(self) -> int:
        """Weight matrices of hidden x ffn in one (expert) feed-forward: 3 SwiGLU, 2 ReLU."""
        return 3 if self.ffn_form == "swiglu" else 2

    @property
    def params(self) -> int:
        """Parameter count: per layer two norms, Q/K/V/O, the (expert) FFNs and the router;
        then the final norm, the token embedding and the LM head (once if tied). Biases and
        learned position tables (OPT's, 0.1 % of OPT-13B) are not counted."""
        q_dim = self.heads * self.head_dim
        attn = self.hidden * (2 * q_dim + 2 * self.kv_dim)
        ffn = self.experts * self.ffn_matrices * self.hidden * self.ffn
        router = self.hidden * self.experts if self.experts > 1 else 0
        tables = 1 if self.tied_embeddings else 2
        return (self.layers * (2 * self.hidden + attn + ffn + router) + self.hidden
                + tables * self.vocab * self.hidden)

    @property
    def active_params(self) -> int:
        """Parameters a token uses: ``params`` with ``top_k`` of the ``experts`` FFNs per layer
        (Mixtral's count, Jiang et al. 2024, section 2: 12.9B active of 46.7B, the whole
        embedding table included); ``params`` for a dense model."""
        idle = ((self.experts - self.top_k) * self.ffn_matrices * self.hidden * self.ffn
                * self.layers)
        return round(self.params - idle)

    @property
    def linear_params(self) -> int:
        """Parameters of the linear layers (Q / K / V / O and the expert FFNs): what weight-only
        quantization stores narrow."""
        q_dim = self.heads * self.head_dim
        attn = self.hidden * (2 * q_dim + 2 * self.kv_dim)
        return self.layers * (attn + self.experts * self.ffn_matrices * self.hidden * self.ffn)

    @property
    def weight_bytes(self) -> int:
        """Bytes of every weight: ``params`` at the element width, or under weight-only
        quantization the linear layers at its width plus their scales and zero points."""
        if self.precision not in WEIGHT_ONLY:
            return self.params * self.bytes_per_element
        bits, quant = WEIGHT_ONLY[self.precision]
        # per K x N matrix: K x N weights and ceil(K / group) x N scales (and zero points)
        per_scale = quant.scale_bits // 8 * (2 if quant.zero_point else 1) / quant.group_size
        linear = math.ceil(self.linear_params * (bits / 8 + per_scale))
        return linear + (self.params - self.linear_params) * self.bytes_per_element

    @property
    def kv_bytes_per_token(self) -> int:
        """K and V of one token in every layer (vLLM, Kwon et al., SOSP 2023, section 3)."""
        return 2 * self.layers * self.kv_dim * self.bytes_per_element

    # --- one-layer workloads (token counts >= 1) -------------------------------------------

    @property
    def rms(self) -> bool:
        """Whether the norms are RMS norms (LLaMA) rather than LayerNorms (OPT)."""
        return self.norm == "rms"

    def _builder(self, name: str) -> GraphBuilder:
        bits, dtype = PRECISIONS[self.precision]
        return GraphBuilder(f"{self.name}.{name}", bits, bits, dtype)

    def _linear(self, g: GraphBuilder, x: str, name: str, n: int, k: int | None = None) -> str:
        """A linear layer's GEMM (no bias), its weights at ``WEIGHT_ONLY``'s width if any."""
        bits, quant = WEIGHT_ONLY.get(self.precision, (None, None))
        return g.gemm(x, name, n, k=k, bias=False, weight_bits=bits, quant=quant)

    def block_workload(self, tokens: int) -> Workload:
        """One layer's token-parallel ops over ``tokens`` rows: norms, Q/K/V/O projections,
        rotary embeddings and residual adds (attention and the FFN are priced apart)."""
        g = self._builder(f"block_t{tokens}")
        q_dim = self.heads * self.head_dim
        x = g.input("x", (tokens, self.hidden))
        h = g.layernorm(x, "attn_norm", tokens, self.hidden, rms=self.rms)
        g.elementwise("rope", (self._linear(g, h, "q_proj", q_dim),), "q_rope")
        g.elementwise("rope", (self._linear(g, h, "k_proj", self.kv_dim),), "k_rope")
        self._linear(g, h, "v_proj", self.kv_dim)
        c = g.input("context", (tokens, q_dim))
        a = g.elementwise("add", (self._linear(g, c, "o_proj", self.hidden), x), "attn_add")
        g.layernorm(a, "ffn_norm", tokens, self.hidden, rms=self.rms)
        f = g.input("ffn_out", (tokens, self.hidden))
        g.elementwise("add", (f, a), "ffn_add")
        return g.build()

    def ffn_workload(self, tokens: int) -> Workload:
        """One (expert) feed-forward over ``tokens`` rows: SwiGLU, or fc1 / ReLU / fc2."""
        g = self._builder(f"ffn_t{tokens}")
        h = g.input("h", (tokens, self.hidden))
        if self.ffn_form == "relu":
            a = g.elementwise("relu", (self._linear(g, h, "fc1", self.ffn),), "relu")
            self._linear(g, a, "fc2", self.hidden)
            return g.build()
        gate = g.elementwise("silu", (self._linear(g, h, "gate_proj", self.ffn),), "silu")
        f = g.elementwise("mul", (gate, self._linear(g, h, "up_proj", self.ffn)), "swiglu")
        self._linear(g, f, "down_proj", self.hidden)
        return g.build()

    def router_workload(self, tokens: int, assignments: int) -> Workload:
        """One MoE layer's router (gemm + softmax over experts), the dispatch of ``tokens``
        rows to ``assignments`` expert slots (a gather) and the weighted combine back."""
        g = self._builder(f"router_t{tokens}_a{assignments}")
        h = g.input("h", (tokens, self.hidden))
        r = g.gemm(h, "router", self.experts, bias=False)
        g.softmax(r, "router_softmax", tokens, self.experts)
        g._add(Copy(name="dispatch", inputs=(h,), mode="broadcast",
                    shapes=((tokens, self.hidden),), out_shape=(assignments, self.hidden),
                    **g.bits))
        e = g.input("expert_out", (assignments, self.hidden))
        w = g.input("gates", (assignments, self.hidden))
        g.elementwise("mul", (e, w), "combine")
        return g.build()

    def attention_workload(self, batch: int, q_len: int, kv_len: int) -> Workload:
        """One layer's attention for ``batch`` sequences of ``q_len`` new tokens over
        ``kv_len`` keys (the cache plus the new tokens): causal when q_len > 1."""
        if q_len > kv_len:
            raise WorkloadError(f"attention: q_len {q_len} > kv_len {kv_len}")
        g = self._builder(f"attn_b{batch}_q{q_len}_kv{kv_len}")
        q_dim = self.heads * self.head_dim
        group = self.heads // self.kv_heads
        q = g.input("q", (batch, q_len, q_dim))
        k = g.input("k_cache", (batch, kv_len, self.kv_dim))
        v = g.input("v_cache", (batch, kv_len, self.kv_dim))
        if self.attention == "flash":
            g.attention(q, k, v, "attention", batch, self.heads, q_len, kv_len, self.head_dim,
                        kv_heads=self.kv_heads, causal=q_len > 1)
        else:
            s = g.matmul(q, k, "scores", (batch, self.kv_heads), group * q_len, kv_len,
                         self.head_dim)
            s = g.softmax(s, "softmax", batch * self.heads * q_len, kv_len)
            g.matmul(s, v, "context", (batch, self.kv_heads), group * q_len, self.head_dim,
                     kv_len)
        return g.build()

    def forward_workload(self, batch: int, q_len: int, kv_len: int | None = None) -> Workload:
        """One forward pass of the whole model over ``batch`` sequences of ``q_len`` new
        tokens each, attending over ``kv_len`` keys (default ``q_len``: a prefill, its K and
        V the projections' own; more: a decode or chunk step that reads the cache of
        ``kv_len`` rows, the new ones included, as graph inputs ``layer<l>.k_cache`` /
        ``v_cache``, as pysim.zoo's LLaMA decode does), then the final norm and the LM head
        for each sequence's last token. Every layer's weights are their own tensors, in the
        order a framework runs them (what host-memory offload streams, pysim/config/host.py).
        Token embeddings are lookups, read as the graph input ``embeddings``. Dense models
        only: raises WorkloadError for a mixture of experts or bad lengths."""
        kv_len = q_len if kv_len is None else kv_len
        for name, value in (("batch", batch), ("q_len", q_len), ("kv_len", kv_len)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise WorkloadError(f"model {self.name!r}: {name} must be an int >= 1, got "
                                    f"{value!r}")
        if q_len > kv_len or kv_len > self.max_context:
            raise WorkloadError(f"model {self.name!r}: need q_len <= kv_len <= max_context "
                                f"({self.max_context}), got q_len {q_len}, kv_len {kv_len}")
        if self.experts > 1:
            raise WorkloadError(f"model {self.name!r}: forward_workload builds dense models; "
                                f"this one has {self.experts} experts")
        g = self._builder(f"forward_b{batch}_q{q_len}_kv{kv_len}")
        rows, q_dim = batch * q_len, self.heads * self.head_dim
        group = self.heads // self.kv_heads
        x = g.input("embeddings", (rows, self.hidden))
        for layer in range(self.layers):
            p = f"layer{layer}"
            h = g.layernorm(x, f"{p}.attn_norm", rows, self.hidden, rms=self.rms)
            q = g.elementwise("rope", (self._linear(g, h, f"{p}.q_proj", q_dim),),
                              f"{p}.q_rope")
            k = g.elementwise("rope", (self._linear(g, h, f"{p}.k_proj", self.kv_dim),),
                              f"{p}.k_rope")
            v = self._linear(g, h, f"{p}.v_proj", self.kv_dim)
            if kv_len > q_len:  # the new rows go to the cache; attention reads all of it
                k = g.input(f"{p}.k_cache", (batch, kv_len, self.kv_dim))
                v = g.input(f"{p}.v_cache", (batch, kv_len, self.kv_dim))
            if self.attention == "flash":
                c = g.attention(q, k, v, f"{p}.attention", batch, self.heads, q_len, kv_len,
                                self.head_dim, kv_heads=self.kv_heads, causal=q_len > 1)
            else:
                s = g.matmul(q, k, f"{p}.scores", (batch, self.kv_heads), group * q_len,
                             kv_len, self.head_dim)
                s = g.softmax(s, f"{p}.softmax", batch * self.heads * q_len, kv_len)
                c = g.matmul(s, v, f"{p}.context", (batch, self.kv_heads), group * q_len,
                             self.head_dim, kv_len)
            o = self._linear(g, c, f"{p}.o_proj", self.hidden, k=q_dim)
            x = g.elementwise("add", (o, x), f"{p}.attn_add")
            h = g.layernorm(x, f"{p}.ffn_norm", rows, self.hidden, rms=self.rms)
            if self.ffn_form == "relu":
                a = g.elementwise("relu", (self._linear(g, h, f"{p}.fc1", self.ffn),),
                                  f"{p}.relu")
                f = self._linear(g, a, f"{p}.fc2", self.hidden)
            else:
                gate = g.elementwise("silu", (self._linear(g, h, f"{p}.gate_proj", self.ffn),),
                                     f"{p}.silu")
                up = self._linear(g, h, f"{p}.up_proj", self.ffn)
                f = self._linear(g, g.elementwise("mul", (gate, up), f"{p}.swiglu"),
                                 f"{p}.down_proj", self.hidden)
            x = g.elementwise("add", (f, x), f"{p}.ffn_add")
        if q_len > 1:  # the LM head reads each sequence's last row
            x = g._add(Copy(name="last_rows", inputs=(x,), mode="slice",
                            shapes=((rows, self.hidden),), out_shape=(batch, self.hidden),
                            **g.bits))
        h = g.layernorm(x, "norm", batch, self.hidden, rms=self.rms)
        g.gemm(h, "lm_head", self.vocab, bias=False)
        return g.build()

    def head_workload(self, rows: int) -> Workload:
        """The final norm and LM head over ``rows`` rows (one per sequence emitting a
        token)."""
        g = self._builder(f"head_r{rows}")
        x = g.input("x", (rows, self.hidden))
        g.gemm(g.layernorm(x, "norm", rows, self.hidden, rms=self.rms), "lm_head", self.vocab,
               bias=False)
        return g.build()


# Architectures from the model cards / papers; context is the released maximum.
MODELS: dict[str, LLMSpec] = {
    # Touvron et al., "Llama 2", 2023, Table 1 and the released config.json.
    "llama2_7b": LLMSpec("llama2_7b", layers=32, hidden=4096, heads=32, kv_heads=32,
                         head_dim=128, ffn=11008, vocab=32000, max_context=4096),
    "llama2_13b": LLMSpec("llama2_13b", layers=40, hidden=5120, heads=40, kv_heads=40,
                          head_dim=128, ffn=13824, vocab=32000, max_context=4096),
    # LLaMA-13B (Touvron et al. 2023, v1, 2048 context): vLLM's shared-prefix model (Fig. 16).
    "llama_13b": LLMSpec("llama_13b", layers=40, hidden=5120, heads=40, kv_heads=40,
                         head_dim=128, ffn=13824, vocab=32000, max_context=2048),
    # OPT-13B (Zhang et al., "OPT", 2022, Table 1; facebook/opt-13b config.json: 40 layers,
    # hidden 5120, 40 heads, ffn_dim 20480 with ReLU, vocab 50272, 2048 positions, the LM
    # head tied to the embedding): the model of vLLM's Figure 12 / Table 1 (12.84B here;
    # the 12.85B with biases and position table).
    "opt_13b": LLMSpec("opt_13b", layers=40, hidden=5120, heads=40, kv_heads=40, head_dim=128,
                       ffn=20480, vocab=50272, max_context=2048, ffn_form="relu",
                       tied_embeddings=True, norm="layer"),
    # OPT-30B (Zhang et al., "OPT", 2022, Table 1; facebook/opt-30b config.json: 48 layers,
    # hidden 7168, 56 heads, ffn_dim 28672 with ReLU, vocab 50272, 2048 positions, tied LM
    # head): FlexGen's offloading model (Sheng et al., ICML 2023, Table 2); 59.9 GB in fp16.
    "opt_30b": LLMSpec("opt_30b", layers=48, hidden=7168, heads=56, kv_heads=56, head_dim=128,
                       ffn=28672, vocab=50272, max_context=2048, ffn_form="relu",
                       tied_embeddings=True, norm="layer"),
    # Llama 2 70B (Touvron et al. 2023, Table 1; config.json): grouped-query attention with
    # 8 K/V heads; 138 GB of fp16 weights, more than one 80 GB GPU holds.
    "llama2_70b": LLMSpec("llama2_70b", layers=80, hidden=8192, heads=64, kv_heads=8,
                          head_dim=128, ffn=28672, vocab=32000, max_context=4096),
    # LLaMA-68M (JackFram/llama-68m config.json: 2 layers, hidden 768, 12 heads, FFN 3072,
    # the LLaMA tokenizer): the small speculative model SpecInfer (Miao et al., ASPLOS 2024)
    # drafts for LLaMA-7B with; a draft for the llama2 models here.
    "llama_68m": LLMSpec("llama_68m", layers=2, hidden=768, heads=12, kv_heads=12,
                         head_dim=64, ffn=3072, vocab=32000, max_context=2048),
    # TinyLlama-1.1B (Zhang et al. 2024): small enough for an edge accelerator.
    "tinyllama_1b": LLMSpec("tinyllama_1b", layers=22, hidden=2048, heads=32, kv_heads=4,
                            head_dim=64, ffn=5632, vocab=32000, max_context=2048),
    # Llama 3.1 8B (Dubey et al., "The Llama 3 Herd of Models", 2024, Table 3; the released
    # config.json: vocab 128256, max_position_embeddings 131072): GQA with 8 K/V heads and a
    # 128K context, the long-context model of CAKE's code (antgroup/cakekv, llama3.1-8b-128k).
    "llama3_1_8b": LLMSpec("llama3_1_8b", layers=32, hidden=4096, heads=32, kv_heads=8,
                           head_dim=128, ffn=14336, vocab=128256, max_context=131072),
    # Mixtral-8x7B (Jiang et al., "Mixtral of Experts", 2024): 8 experts, top-2, GQA 8 heads.
    "mixtral_8x7b": LLMSpec("mixtral_8x7b", layers=32, hidden=4096, heads=32, kv_heads=8,
                            head_dim=128, ffn=14336, vocab=32000, max_context=32768,
                            experts=8, top_k=2),
}


def model(name: str | LLMSpec, **changes: object) -> LLMSpec:
    """The named architecture (see ``MODELS``) with ``changes`` (e.g. precision="int8").
    Raises WorkloadError on an unknown name."""
    if isinstance(name, LLMSpec):
        return name.with_(**changes) if changes else name
    if name not in MODELS:
        raise WorkloadError(f"no serving model {name!r}; known: {', '.join(MODELS)}")
    return MODELS[name].with_(**changes) if changes else MODELS[name]


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


__all__ = ["MODELS", "LLMSpec", "ceil_div", "model", "math"]
