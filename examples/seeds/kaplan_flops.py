"""Kaplan et al.'s training-FLOP rule against the FLOPs of pysim's GPT-2 training graph.

Kaplan et al., "Scaling Laws for Neural Language Models", 2020, Sec. 2.1 / Table 1: a forward
pass costs C_forward = 2 N + 2 n_layer n_ctx d_attn FLOPs per token (N non-embedding
parameters; the second term the attention logits Q K^T), training 3x that (backward = 2x
forward), so C = 6 N + 6 n_layer n_ctx d per token.

pysim's figure is 2 x the MACs of the forward, dX and dW GEMMs of
``pysim.training.step(a100, gpt2 at 1024 tokens, "adam", "mixed_bf16")``. Assumptions: GPT-2
small (12 layers, d = 768, n_ctx = 1024, batch 1: T = 1024 tokens); N = the parameters of the
MAC layers, the 50257-way LM head included (GPT-2 ties it to the token embedding, and Kaplan
counts the matrix that multiplies); the zoo's attention is unmasked, so Q K^T and P V each
cost n_ctx d MACs per token per layer, as Kaplan's term assumes.

The gap is exact, not fitted: pysim = Kaplan + 6 n_layer n_ctx d T (P V, forward and its two
backward GEMMs, which Kaplan's attention term leaves out) - 6 B T (B = the MAC layers' bias
parameters: in N, but a bias is an add, not a MAC).

Run: python examples/seeds/kaplan_flops.py
"""

from __future__ import annotations

from typing import Any

import pysim
from pysim import training, zoo

PAPER = {"paper": "Kaplan et al., Scaling Laws for Neural Language Models, 2020, Sec. 2.1",
         "rule": "C = 6 N + 6 n_layer n_ctx d_attn FLOPs per training token"}
LAYERS, D_MODEL = 12, 768  # GPT-2 small


def compute(seq_len: int = 1024) -> dict[str, Any]:
    """pysim's GPT-2 step FLOPs, Kaplan's rule and the terms that make up the difference."""
    wl = zoo.load("gpt2", seq_len=seq_len)
    g = training.step(pysim.gpu.preset("a100"), wl, "adam", "mixed_bf16").graph
    tokens = seq_len
    mac_layers = {op.name for op in wl.ops if op.runs_on == "mac"}
    n = sum(c for layer, c in g.params.items() if layer in mac_layers)
    biases = sum(bias_params(op) for op in wl.ops if op.name in mac_layers)
    attention = LAYERS * seq_len * D_MODEL * tokens  # MACs of Q K^T (and of P V) per step
    kaplan = 6 * n * tokens + 6 * attention
    flops = 2 * (g.macs("forward", "forward") + g.macs("dX") + g.macs("dW"))
    return {"tokens": tokens, "params": n, "bias_params": biases, "pysim_flops": flops,
            "kaplan_flops": kaplan, "pv_flops": 6 * attention,
            "bias_flops": 6 * biases * tokens, "ratio": flops / kaplan,
            "gemm_macs": sum(op.macs for op in wl.ops if op.type == "gemm"),
            "attention_macs": sum(op.macs for op in wl.ops if op.type == "matmul")}


def bias_params(op: Any) -> int:
    """Bias parameters of a MAC op (its output width where it has a bias)."""
    return int(op.output_shape[-1]) if getattr(op, "bias", False) else 0


def main() -> None:
    g = compute()
    print(f"GPT-2 small training step, batch 1 x {g['tokens']} tokens: FLOPs against "
          f"{PAPER['paper']}")
    print(f"  {'':28}{'pysim':>12}{'Kaplan':>12}{'ratio':>8}")
    print(f"  {'step FLOPs':28}{g['pysim_flops']:12.4g}{g['kaplan_flops']:12.4g}"
          f"{g['ratio']:8.3f}")
    print(f"  N = {g['params'] / 1e6:.2f}M MAC-layer parameters (LM head included), "
          f"{g['bias_params']} of them biases")
    print(f"  difference {g['pysim_flops'] - g['kaplan_flops']:.4g} = P V term "
          f"{g['pv_flops']:.4g} (Kaplan counts Q K^T only) - biases {g['bias_flops']:.4g} "
          "(in N, no MACs): exact")


if __name__ == "__main__":
    main()
