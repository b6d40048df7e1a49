"""Training steps against published figures: prints pysim's figure, the published one (with
its source) and their ratio. docs/training.md explains the gaps.

    python benchmarks/validate_training.py

1. FLOPs of a GPT-2 training step against the 6 N T rule with the attention term (Kaplan et
   al., "Scaling Laws for Neural Language Models", 2020, Sec. 2.1: forward 2N + 2 n_layer
   n_ctx d_attn FLOPs per token, training 3x that).
2. Model FLOPs utilisation of a GPT-2-class bf16 training step on the A100 preset against
   Megatron-LM's 52% of peak per A100 (Narayanan et al., "Efficient Large-Scale Language
   Model Training on GPU Clusters Using Megatron-LM", SC 2021, abstract: 502 PFLOP/s on 3072
   GPUs for a 1T-parameter model).
3. AdaPT's 1.27x average training speed-up over float32 (Kummer et al., "AdaPT: Fast
   Training of Deep Neural Networks with Adaptive Precision", 2021, abstract), with the
   schedule stated below.
"""

from __future__ import annotations

import pysim
from pysim import training

MEGATRON_MFU = 502e15 / 3072 / 312e12  # achieved per GPU over the A100's bf16 dense peak
ADAPT_SPEEDUP = 1.27


def row(name: str, ours: float, published: float, note: str) -> None:
    print(f"{name:<44} {ours:>12.4g} {published:>12.4g} {ours / published:>7.3f}  {note}")


def flop_rule() -> None:
    seq, layers, d = 1024, 12, 768
    wl = pysim.zoo.load("gpt2", seq_len=seq)
    g = training.step(pysim.gpu.preset("a100"), wl, "adam", "mixed_bf16").graph
    n = sum(c for layer, c in g.params.items() if wl.op(layer).runs_on == "mac")
    per_token = 3 * (2 * n + 2 * layers * seq * d)
    ours = 2 * (g.macs("forward", "forward") + g.macs("dX") + g.macs("dW"))
    row("GPT-2 step FLOPs / 6NT+attention rule", ours, per_token * seq,
        "Kaplan et al. 2020 (N = GEMM parameters incl. the LM head)")


def mfu() -> None:
    hw = pysim.gpu.preset("a100")
    batch, seq = 8, 1024
    wl = pysim.zoo.load("gpt2", batch=batch, seq_len=seq, attention="flash")
    s = training.step(hw, wl, "adam", "mixed_bf16")
    model_flops = 2 * (s.macs - s.macs_by_role()["recompute"])
    ours = model_flops / s.latency_s / (hw.peak_tflops("bf16") * 1e12)
    row("GPT-2 bf16 step MFU on A100 (batch 8x1024)", ours, MEGATRON_MFU,
        "Megatron-LM SC'21, 1T model on 3072 A100s; band we accept: 0.3x-1.5x")


def adapt() -> None:
    # Schedule assumed: 10 epochs; every MAC layer in 8-bit fixed point for epochs 0-7, the
    # float32 recipe for the last 2 (AdaPT widens word lengths as training converges).
    hw = pysim.gpu.preset("a100")
    wl = pysim.zoo.load("resnet18", batch=32, batchnorm=True)  # the training form
    base = training.run(hw, wl, 10, 100, None, optimizer="sgd", recipe="fp32")
    sched = training.run(hw, wl, 10, 100, {"0-8": {"*": 8}}, optimizer="sgd", recipe="fp32")
    row("AdaPT-style schedule speed-up, ResNet-18 A100", base.time_s / sched.time_s,
        ADAPT_SPEEDUP, "Kummer et al. 2021; fixed8 x8 epochs then fp32 x2")


if __name__ == "__main__":
    print(f"{'case':<44} {'pysim':>12} {'published':>12} {'ratio':>7}  source")
    flop_rule()
    mfu()
    adapt()
