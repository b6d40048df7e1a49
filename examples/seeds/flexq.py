"""FlexQ (Zhang et al., arXiv:2508.04405): W6A6 / W6A8 LLM decode with INT6 computed as
binary tensor-core passes, against W8A8 SmoothQuant, on pysim's A100 preset.

LLaMA-2-7B (zoo ``llama2_7b``; the same shapes as the paper's LLaMA-7B: hidden 4096, 32
layers, FFN 11008) decodes one token, batch 1, with the KV cache in fp16 in every variant
(as the paper's memory figure implies: it grows by the same ~0.45 GB from 128 to 1024 tokens
under W8A8 as under FP16). Each q / k / v / o / gate / up / down projection is one GEMM op:

- ``fp16``: fp16 weights and activations (cuBLAS-style fp16 GEMMs).
- ``w8a8`` (SmoothQuant): int8 weights with per-channel fp16 scales, int8 activations.
- ``w6a6`` / ``w6a8``: 6-bit weights with FlexQ's fp16 scales per 128 weights (the repo's
  ``--w_group_size 128``), 6- / 8-bit activations; ``w6ax`` (FlexQ's mix): the down
  projection at A8, the rest at A6, as the repo's kernel benchmark runs them
  (engine/test_flexq_kernel.sh: the K = 11008 shape is its w6a8 case). pysim times them with
  pysim/gpu/bitplane.py: on the A100 a decode GEMM takes the b1 bit-plane kernel (36 or 48
  passes; HBM-bound, so the weights' 6 bits set its time).

Activations reach each quantized GEMM through a ``quantize`` op (per-token quantization,
FlexQ's packing kernel), one per distinct activation, in every quantized variant alike; the
LM head stays fp16 in all of them. Attention (Q K^T, softmax, P V) runs in fp16 everywhere.

ABQ-LLM, the kernel baseline of the paper's 1.39x, also computes W6A6 as stacked binary
passes: in pysim's model it is the same bit-plane GEMM (same bytes, same passes), so the
kernel ratio is 1.00 by construction and that figure is not reproduced (docs/seed_systems.md
says why). The script prints pysim's FlexQ-vs-W8A8 GEMM ratios for LLaMA-2-70B's layers
instead, with no paper figure beside them.

Run: python examples/seeds/flexq.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _seedlib import as_dict, build, paper  # noqa: E402

import pysim  # noqa: E402
from pysim import gpu, zoo  # noqa: E402
from pysim.workload import Workload, workload_from_dict  # noqa: E402

PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
# (weight bits, activation bits of the down projection, of the others, weight quant)
VARIANTS: dict[str, tuple[int, int, int, dict[str, Any] | None]] = {
    "fp16": (16, 16, 16, None),
    "w8a8": (8, 8, 8, {"granularity": "channel", "scale_bits": 16}),
    "w6a6": (6, 6, 6, {"granularity": "group", "group_size": 128, "scale_bits": 16}),
    "w6a8": (6, 8, 8, {"granularity": "group", "group_size": 128, "scale_bits": 16}),
    "w6ax": (6, 8, 6, {"granularity": "group", "group_size": 128, "scale_bits": 16}),
}
CONTEXTS = (128, 256, 512, 1024)  # the paper's x axis, taken as the KV length (ASSUMPTION)


def decode_step(variant: str, context_len: int, batch: int = 1) -> Workload:
    """One LLaMA-2-7B decode step with ``variant``'s linear layers (``VARIANTS``)."""
    data = as_dict(zoo.load("llama2_7b", phase="decode", precision="fp16", tokens=1,
                            context_len=context_len, batch=batch))
    wbits, down_abits, abits, quant = VARIANTS[variant]
    weights = {t["name"] for t in data["inputs"] if t.get("role") == "weight"}
    shapes = {name: tuple(t.shape) for name, t in build(data).tensors.items()}
    made: dict[tuple[str, int], str] = {}
    ops: list[dict[str, Any]] = []
    for op in data["ops"]:
        if op["type"] != "matmul" or not set(op["inputs"]) & weights:
            ops.append(op)
            continue
        x = op["inputs"][0]
        proj = op["name"].rsplit(".", 1)[1]
        gemm: dict[str, Any] = {"name": op["name"], "type": "gemm", "m": op["m"], "n": op["n"],
                                "k": op["k"], "out_bits": 16}
        if variant == "fp16" or proj not in PROJECTIONS:  # the LM head stays fp16
            ops.append({**gemm, "inputs": [x], "dtype": "float", "act_bits": 16,
                        "weight_bits": 16})
            continue
        a = down_abits if proj == "down_proj" else abits
        if (x, a) not in made:  # per-token quantization of the activation, shared by readers
            made[(x, a)] = f"{x}.quant{a}"
            ops.append({"name": made[(x, a)], "type": "elementwise", "op": "quantize",
                        "inputs": [x], "shape": list(shapes[x]), "act_bits": 16,
                        "out_bits": a, "dtype": "int"})
        ops.append({**gemm, "inputs": [made[(x, a)]], "dtype": "int", "act_bits": a,
                    "weight_bits": wbits, "quant": quant})
    data["inputs"] = [t for t in data["inputs"] if t.get("role") != "weight"]
    data["ops"] = ops
    return build(data)


def kernel_ratios(preset: str = "a100") -> dict[str, dict[int, float]]:
    """pysim's W8A8 / FlexQ GEMM time for LLaMA-2-70B's layers (the shapes of the repo's
    engine/test_flexq_kernel.sh: N x K, w6a8 for the K = 28672 one) at M = 1, 4, 8."""
    hw = gpu.preset(preset)
    shapes = {"24k*8k": (24576, 8192, 6), "8k*8k": (8192, 8192, 6),
              "28k*8k": (28672, 8192, 6), "8k*28k": (8192, 28672, 8)}
    out: dict[str, dict[int, float]] = {}
    for label, (n, k, a) in shapes.items():
        out[label] = {}
        for m in (1, 4, 8):
            times = []
            for wb, ab in ((8, 8), (6, a)):
                wl = workload_from_dict({
                    "name": "g", "inputs": [{"name": "x", "shape": [m, k], "bits": ab,
                                             "dtype": "int"}],
                    "ops": [{"name": "fc", "type": "gemm", "inputs": ["x"], "m": m, "n": n,
                             "k": k, "dtype": "int", "act_bits": ab, "weight_bits": wb,
                             "out_bits": 16}]})
                times.append(pysim.simulate(hw, wl).latency_s)
            out[label][m] = times[0] / times[1]
    return out


def compute(preset: str = "a100") -> dict[str, Any]:
    """Per-token decode time (ms) of every variant at every context, HBM bytes, ratios."""
    hw = gpu.preset(preset)
    out: dict[str, Any] = {"ms": {}, "gb": {}, "tiling": {}}
    for v in VARIANTS:
        out["ms"][v], out["gb"][v] = {}, {}
        for ctx in CONTEXTS:
            r = pysim.simulate(hw, decode_step(v, ctx))
            out["ms"][v][ctx] = r.latency_s * 1e3
            out["gb"][v][ctx] = r.dram_read_bytes / 1e9
            if ctx == CONTEXTS[0]:
                layers = r.layers.set_index("op")["tiling"]
                out["tiling"][v] = layers.get("t0.layer0.q_proj", "")
    ms = out["ms"]
    out["ratio"] = {v: {c: ms["w8a8"][c] / ms[v][c] for c in CONTEXTS}
                    for v in ("w6a6", "w6a8", "w6ax")}
    out["fp16_ratio"] = {c: ms["fp16"][c] / ms["w6ax"][c] for c in CONTEXTS}
    return out


def main() -> None:
    ref, got = paper("flexq"), compute()
    fig = ref["e2e_figure"]["llama_7b"]
    print("LLaMA-2-7B decode, batch 1, one token at each KV length, A100 80 GB (pysim)")
    print(f"{'KV length':>10}" + "".join(f"{v:>9}" for v in VARIANTS)
          + "   w8a8/w6ax pysim  paper  ratio")
    for i, c in enumerate(CONTEXTS):
        cells = "".join(f"{got['ms'][v][c]:6.2f} ms" for v in VARIANTS)
        p = fig["w8a8_s"][i] / fig["w6ax_s"][i]
        print(f"{c:>10}{cells}   {got['ratio']['w6ax'][c]:15.3f} {p:6.3f} "
              f"{got['ratio']['w6ax'][c] / p:6.3f}")
    print("w8a8 / w6a6: " + ", ".join(f"{got['ratio']['w6a6'][c]:.3f}" for c in CONTEXTS)
          + "; w8a8 / w6a8: " + ", ".join(f"{got['ratio']['w6a8'][c]:.3f}" for c in CONTEXTS))
    print("fp16 / w6ax: pysim " + ", ".join(f"{got['fp16_ratio'][c]:.2f}" for c in CONTEXTS)
          + "; paper (LLaMA-7B bars) " + ", ".join(
              f"{f / w:.2f}" for f, w in zip(fig["fp16_s"], fig["w6ax_s"], strict=True)))
    print("paper's ms / token (bars / tokens, if x counts generated tokens): w8a8 "
          + ", ".join(f"{1e3 * s / c:.1f}" for s, c in zip(fig["w8a8_s"], CONTEXTS,
                                                           strict=True))
          + "; w6ax " + ", ".join(f"{1e3 * s / c:.1f}" for s, c in zip(fig["w6ax_s"],
                                                                         CONTEXTS, strict=True)))
    print(f"headline (abstract): {ref['e2e_speedup_over_smoothquant']}x over SmoothQuant")
    print(f"q_proj kernels: w8a8 {got['tiling']['w8a8']!r}; w6ax {got['tiling']['w6ax']!r}")
    print("\nGEMM kernels, LLaMA-2-70B layers (N*K), pysim W8A8 / FlexQ time (no paper figure "
          "pinned: ABQ-LLM's kernel is the same bit-plane GEMM in pysim, ratio 1.00)")
    for label, by_m in kernel_ratios().items():
        print(f"  {label:>8}: " + ", ".join(f"M={m} {r:.2f}" for m, r in by_m.items()))
    print(f"paper: {ref['kernel_speedup_over_abq_llm']}x over ABQ-LLM (LLaMA-2-70B linear "
          "layers, average): NOT REPRODUCED")


if __name__ == "__main__":
    main()
