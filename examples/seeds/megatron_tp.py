"""Tensor-parallel weak scaling of GPT training on V100s, beside Megatron-LM's published figures.

Published: Shoeybi et al., "Megatron-LM: Training Multi-Billion Parameter Language Models
Using Model Parallelism", 2019, as NVIDIA ADLR's post "MegatronLM: Training Billion+
Parameter Language Models Using GPU Model Parallelism" gives it (nv-adlr.github.io, 2019-08-13):
GPT-2 configurations of hidden 1536 / 1920 / 2304 / 3072, 16 / 20 / 24 / 32 heads (96 values
each), 40 / 54 / 64 / 72 layers (1.2B / 2.5B / 4.2B / 8.3B parameters) on 1 / 2 / 4 / 8 V100
SXM3 32 GB GPUs of a DGX-2H (300 GB/s between GPUs), batch 8, vocabulary padded to 51,200,
mixed precision; the 8.3B model on 8 GPUs reaches **77 %** of linear scaling (per-GPU
throughput over the 1.2B model's on one GPU), and with 16 / 24 / 32 heads 82 / 80 / 77 %
(its Table 2).

pysim: the zoo's ``gpt`` at each configuration (1024 tokens, the naive attention of 2019:
batched matmuls and a softmax), ``mixed_fp16``, Adam, activation checkpointing (the 1.2B
model's Adam states and activations do not fit 32 GB without it), ``tensor_parallel`` =
the GPUs, on the v100 preset with the DGX-2H's NVSwitch (``nvlink_gb_per_s=300``: the
preset, an SXM2 board, states none) and eager kernels (``fusion="none"``). Per-GPU throughput
= the model's FLOPs (2 x forward, dX and dW MACs, the recomputation not counted) per device
per second; weak scaling = that over the 1.2B single-GPU figure.

The gap: pysim's efficiency is a few points lower (0.735 against 0.77) and falls with the
head count as Megatron's does. Its single-GPU baseline runs faster than the published 39
TFLOPS (Megatron-LM v1.0 later reached 62.4 on the same GPU with kernel fusions pysim's
eager setting leaves out), so the all-reduces, the same bytes on the same link, weigh more
against it. Not modelled: the 2019 code's dropout kernels and its all-reduces' own use of the
GPU's SMs. Band (tests/test_training_anchors.py): 8-way efficiency within [0.85, 1.1] x 77 %;
the head-count order as published.

Run: python examples/seeds/megatron_tp.py
"""

from __future__ import annotations

from typing import Any

import pysim
from pysim import training, zoo

PUBLISHED = {"source": "Shoeybi et al. 2019 (Megatron-LM), NVIDIA ADLR post of 2019-08-13",
             "weak_scaling_8": 0.77, "heads": {16: 0.82, 24: 0.80, 32: 0.77}}
CONFIGS = ((1536, 16, 40, 1), (1920, 20, 54, 2), (2304, 24, 64, 4), (3072, 32, 72, 8))
BAND = (0.85, 1.1)  # pysim / published, 8-way weak scaling
BATCH, SEQ, VOCAB = 8, 1024, 51200


def gpu() -> Any:
    """The v100 preset as a DGX-2H holds it: NVSwitch at 300 GB/s per GPU, eager kernels."""
    return pysim.gpu.preset("v100").replace(nvlink_gb_per_s=300.0, fusion="none")


def throughput(hidden: int, heads: int, layers: int, tp: int) -> tuple[float, Any]:
    """Model FLOPs per GPU per second of one configuration, and its step."""
    wl = zoo.load("gpt", batch=BATCH, seq_len=SEQ, layers=layers, hidden=hidden, heads=heads,
                  vocab=VOCAB, attention="naive")
    s = training.step(gpu(), wl, "adam", "mixed_fp16", checkpoint=True, tensor_parallel=tp)
    return 2 * (s.macs - s.macs_by_role()["recompute"]) / s.latency_s, s


def compute() -> dict[str, Any]:
    """pysim's weak scaling over the four configurations and the 8-way head-count study."""
    rows = []
    base = None
    for hidden, heads, layers, tp in CONFIGS:
        thr, s = throughput(hidden, heads, layers, tp)
        base = base or thr
        t = s.tensor_parallel
        rows.append({"hidden": hidden, "heads": heads, "layers": layers, "gpus": tp,
                     "step_s": s.latency_s, "tflops_per_gpu": thr / 1e12,
                     "efficiency": thr / base, "peak_gib": s.memory.peak / 2**30,
                     "tp_comm_s": t.comm_s if t else 0.0,
                     "tp_exposed_s": t.exposed_comm_s if t else 0.0})
    assert base is not None
    heads = {a: throughput(3072, a, 72, 8)[0] / base for a in PUBLISHED["heads"]}
    eff8 = rows[-1]["efficiency"]
    return {"rows": rows, "heads": heads, "weak_scaling_8": eff8,
            "ratio": eff8 / PUBLISHED["weak_scaling_8"]}


def main() -> None:
    g = compute()
    print(f"GPT weak scaling under tensor parallelism, V100 (DGX-2H), batch {BATCH} x {SEQ}, "
          f"mixed_fp16, checkpointing ({PUBLISHED['source']})")
    print(f"  {'hidden':>6} {'heads':>5} {'layers':>6} {'GPUs':>4} {'step ms':>8} "
          f"{'TFLOP/s/GPU':>11} {'GiB':>5} {'TP comm ms':>10} {'exposed':>7} {'efficiency':>10}")
    for r in g["rows"]:
        print(f"  {r['hidden']:>6} {r['heads']:>5} {r['layers']:>6} {r['gpus']:>4} "
              f"{r['step_s'] * 1e3:>8.0f} {r['tflops_per_gpu']:>11.1f} {r['peak_gib']:>5.1f} "
              f"{r['tp_comm_s'] * 1e3:>10.0f} {r['tp_exposed_s'] * 1e3:>7.0f} "
              f"{r['efficiency']:>10.3f}")
    print(f"  {'':<32} {'pysim':>7} {'paper':>7} {'ratio':>6}")
    print(f"  {'8-way weak scaling (8.3B)':<32} {g['weak_scaling_8']:>7.3f} "
          f"{PUBLISHED['weak_scaling_8']:>7.2f} {g['ratio']:>6.3f}  band {BAND[0]}-{BAND[1]}")
    for a, eff in g["heads"].items():
        pub = PUBLISHED["heads"][a]
        print(f"  {f'8.3B, 8-way, {a} heads':<32} {eff:>7.3f} {pub:>7.2f} {eff / pub:>6.3f}")


if __name__ == "__main__":
    main()
