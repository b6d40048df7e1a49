"""A mixture-of-experts feed-forward layer (Shazeer et al. 2017; Switch, Mixtral): a router
picks `top_k` of `experts` expert FFNs for each token.

The router is a gemm (hidden -> experts, no bias) and a softmax over each token's expert
scores (the top-k selection itself is not modelled). Expert e receives t_e of the
batch * seq_len tokens, with sum(t_e) = tokens * top_k, and runs its FFN on just those:
gate and up gemms (hidden -> ffn_hidden), SiLU(gate) * up, down gemm (ffn_hidden -> hidden)
when `gated` (SwiGLU, Mixtral), else one gemm, GELU and one gemm (Switch). pysim has no
gather or scatter op, so each expert reads its dispatched tokens as a graph input
``expert<e>.tokens`` (t_e, hidden) and writes its output as a graph output (the weighted
combine is not modelled); experts that receive no token have no ops.

Token counts t_e: with `routing` "uniform" every expert has share 1/experts, else `routing`
lists each expert's share (non-negative, normalised). Without `seed`, the tokens*top_k
assignments are apportioned by share (largest remainder, at most one per token per expert);
with a `seed`, each token draws top_k distinct experts with probabilities proportional to the
shares (numpy Generator(seed), Gumbel top-k). Both are deterministic.
MACs = tokens*hidden*experts + tokens*top_k*(3 if gated else 2)*hidden*ffn_hidden.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from pysim.errors import WorkloadError
from pysim.workload import Workload
from pysim.zoo._builder import GraphBuilder


def _shares(routing: str | Sequence[float], experts: int) -> list[float]:
    if isinstance(routing, str):
        if routing != "uniform":
            raise WorkloadError(f"zoo model 'moe_ffn': routing must be 'uniform' or a list of "
                                f"{experts} shares, got {routing!r}")
        return [1.0 / experts] * experts
    shares = list(routing)
    ok = len(shares) == experts and all(
        isinstance(s, (int, float)) and not isinstance(s, bool) and math.isfinite(s) and s >= 0
        for s in shares) and sum(shares) > 0
    if not ok:
        raise WorkloadError(f"zoo model 'moe_ffn': routing must list {experts} non-negative "
                            f"shares with a positive sum, got {routing!r}")
    total = float(sum(shares))
    return [s / total for s in shares]


def expert_tokens(tokens: int, experts: int, top_k: int, routing: str | Sequence[float],
                  seed: int | None = None) -> list[int]:
    """Tokens each expert receives (sum = tokens * top_k, each <= tokens); see the module."""
    shares = _shares(routing, experts)
    if top_k > sum(s > 0 for s in shares):
        raise WorkloadError(f"zoo model 'moe_ffn': top_k={top_k} needs at least {top_k} "
                            f"experts with a positive share, got {sum(s > 0 for s in shares)}")
    if seed is not None:
        rng = np.random.default_rng(seed)
        with np.errstate(divide="ignore"):
            keys = np.log(np.array(shares)) + rng.gumbel(size=(tokens, experts))
        chosen = np.argpartition(-keys, top_k - 1, axis=1)[:, :top_k]
        return [int(c) for c in np.bincount(chosen.ravel(), minlength=experts)]
    counts = [0] * experts
    left, free = tokens * top_k, [e for e in range(experts) if shares[e] > 0]
    while left:  # water-fill: share out what is left among experts not yet full
        weight = sum(shares[e] for e in free)
        ideal = {e: left * shares[e] / weight for e in free}
        add = {e: min(tokens - counts[e], math.floor(ideal[e])) for e in free}
        rest = left - sum(add.values())
        for e in sorted(free, key=lambda e: (-(ideal[e] - add[e]), e)):
            if rest and counts[e] + add[e] < tokens and ideal[e] - add[e] > 0:
                add[e] += 1
                rest -= 1
        for e in free:
            counts[e] += add[e]
        left = tokens * top_k - sum(counts)
        free = [e for e in free if counts[e] < tokens]
    return counts


def moe_ffn(batch: int = 1, seq_len: int = 128, hidden: int = 4096, ffn_hidden: int = 14336,
            experts: int = 8, top_k: int = 2, routing: str | Sequence[float] = "uniform",
            seed: int | None = None, gated: bool = True) -> Workload:
    """One MoE feed-forward layer over batch*seq_len tokens (defaults: Mixtral-8x7B sizes).
    Raises WorkloadError if top_k > experts, routing is malformed or seed is negative."""
    if top_k > experts:
        raise WorkloadError(f"zoo model 'moe_ffn': top_k must be <= experts ({experts}), "
                            f"got {top_k}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise WorkloadError(f"zoo model 'moe_ffn': seed must be None or an int >= 0, "
                            f"got {seed!r}")
    tokens = batch * seq_len
    counts = expert_tokens(tokens, experts, top_k, routing, seed)
    g = GraphBuilder("moe_ffn")
    x = g.input("tokens", (tokens, hidden))
    r = g.gemm(x, "router", experts, bias=False)
    g.softmax(r, "router.softmax", tokens, experts)
    for e, t in enumerate(counts):
        if not t:
            continue
        p = f"expert{e}"
        h = g.input(f"{p}.tokens", (t, hidden))
        if gated:
            gate = g.elementwise("silu", (g.gemm(h, f"{p}.gate", ffn_hidden, bias=False),),
                                 f"{p}.silu")
            f = g.elementwise("mul", (gate, g.gemm(h, f"{p}.up", ffn_hidden, bias=False)),
                              f"{p}.swiglu")
        else:
            f = g.elementwise("gelu", (g.gemm(h, f"{p}.fc", ffn_hidden, bias=False),),
                              f"{p}.gelu")
        g.gemm(f, f"{p}.down", hidden, bias=False)
    return g.build()
