"""FlattenQuant (arXiv:2402.17985): 48.29 % of the linear-layer MACs in 4-bit (w4a4), the rest
in 8-bit (w8a8), per-tensor scales, against fp16, on an A100 (int4 and int8 tensor cores):
speed-up and weight memory as the token count M (batch x sequence) grows from the
memory-bound regime (few tokens) to the compute-bound one.

The workload is LLaMA-2-7B's 224 linear layers (q, k, v, o 4096 x 4096; gate, up 4096 ->
11008; down 11008 -> 4096, x 32), chained as pysim's zoo ``llama2_7b_linear`` chains them
(attention, norms and residuals left out, SwiGLU's product kept). Which layers run in 4-bit:
``pysim.zoo.lowp.int4_selection(0.4829, seed=0)``, a fixed SHA-256 order of the layer names,
each layer taken when it brings the 4-bit share of the MACs closer to 48.29 % (the share
reached is printed). FlattenQuant picks its 4-bit layers from the activations' flattened
ranges, per model; a stand-in, stated. Each quantized layer reads its input through a
per-tensor ``quantize`` op (fp16 -> 4 or 8 bits: FlattenQuant's flatten-and-quantize pass,
shared by the layers that read the same tensor), multiplies on the int4 or int8 tensor cores
and writes fp16 (the per-tensor dequantization in its epilogue). The fp16 model is the same
graph in fp16 without the quantize ops.

Run: python examples/seeds/flattenquant.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _seedlib import build, paper  # noqa: E402

import pysim  # noqa: E402
from pysim import gpu  # noqa: E402
from pysim.workload import Workload  # noqa: E402
from pysim.zoo.lowp import int4_selection  # noqa: E402

HIDDEN, FFN, LAYERS = 4096, 11008, 32
PROJ = (("q_proj", HIDDEN, HIDDEN), ("k_proj", HIDDEN, HIDDEN), ("v_proj", HIDDEN, HIDDEN),
        ("o_proj", HIDDEN, HIDDEN), ("gate_proj", FFN, HIDDEN), ("up_proj", FFN, HIDDEN),
        ("down_proj", HIDDEN, FFN))
TOKENS = (1, 16, 64, 256, 1024, 4096, 16384)


def linear_layers(tokens: int, int4: frozenset[str] | None) -> Workload:
    """LLaMA-2-7B's linear layers for ``tokens`` rows: fp16 when ``int4`` is None, else the
    layers in ``int4`` at w4a4 and the others at w8a8 (int, per-tensor scales), each reading
    its input through a quantize op from fp16."""
    inputs = [{"name": "embeddings", "shape": [tokens, HIDDEN], "bits": 16, "dtype": "float"}]
    ops: list[dict[str, Any]] = []
    quantized: dict[tuple[str, int], str] = {}

    def linear(x: str, name: str, n: int, k: int) -> str:
        if int4 is None:
            ops.append({"name": name, "type": "gemm", "inputs": [x], "m": tokens, "n": n,
                        "k": k, "dtype": "float", "weight_bits": 16, "act_bits": 16})
            return name
        bits = 4 if name in int4 else 8
        if (x, bits) not in quantized:
            quantized[x, bits] = f"{x}.q{bits}"
            ops.append({"name": quantized[x, bits], "type": "elementwise", "op": "quantize",
                        "inputs": [x], "shape": [tokens, k], "dtype": "float", "act_bits": 16,
                        "out_bits": bits})
        ops.append({"name": name, "type": "gemm", "inputs": [quantized[x, bits]], "m": tokens,
                    "n": n, "k": k, "dtype": "int", "weight_bits": bits, "act_bits": bits,
                    "out_bits": 16, "quant": {"granularity": "tensor"}})
        return name

    x = "embeddings"
    for layer in range(LAYERS):
        p = f"layer{layer}"
        out = {proj: linear(x if proj in ("q_proj", "k_proj", "v_proj") else
                            (f"{p}.q_proj" if proj == "o_proj" else
                             (f"{p}.o_proj" if proj in ("gate_proj", "up_proj") else
                              f"{p}.swiglu")), f"{p}.{proj}", n, k)
               for proj, n, k in PROJ[:6]}
        ops.append({"name": f"{p}.swiglu", "type": "elementwise", "op": "mul",
                    "inputs": [out["gate_proj"], out["up_proj"]], "shape": [tokens, FFN],
                    "dtype": "float", "act_bits": 16})
        x = linear(f"{p}.swiglu", f"{p}.down_proj", HIDDEN, FFN)
    return build({"name": "llama2_7b_linear_flattenquant", "inputs": inputs, "ops": ops})


def compute(share: float = 0.4829, tokens: tuple[int, ...] = TOKENS,
            preset: str = "a100") -> dict[str, Any]:
    """Speed-up over fp16 at each token count, the 4-bit MAC share and the weight memory."""
    int4 = int4_selection(share, 0)
    hw = gpu.preset(preset)
    rows = []
    for m in tokens:
        mixed, fp16 = linear_layers(m, int4), linear_layers(m, None)
        rm, rf = pysim.simulate(hw, mixed), pysim.simulate(hw, fp16)
        cyc = rm.layers["cycles"]
        rows.append({"tokens": m, "fp16_ms": rf.latency_s * 1e3, "mixed_ms": rm.latency_s * 1e3,
                     "speedup": rf.latency_s / rm.latency_s,
                     "quantize_share": float(cyc[rm.layers["macs"] == 0].sum() / cyc.sum())})
    # Crossover from memory- to compute-bound: where the flat latency of the fewest tokens
    # meets the line through the origin and the latency of the most tokens.
    first, last = rows[0], rows[-1]
    crossover = {k: last["tokens"] * first[k] / last[k] for k in ("fp16_ms", "mixed_ms")}
    mixed, fp16 = linear_layers(1, int4), linear_layers(1, None)
    macs4 = sum(o.macs for o in mixed.ops if o.macs and o.weight_bits == 4)
    return {"int4_share": macs4 / mixed.macs, "rows": rows, "crossover_tokens": crossover,
            "memory_reduction": fp16.weight_bytes / mixed.weight_bytes,
            "fp16_weight_gb": fp16.weight_bytes / 1e9, "mixed_weight_gb": mixed.weight_bytes / 1e9}


def main() -> None:
    ref, got = paper("flattenquant"), compute()
    print(f"FlattenQuant on an A100: LLaMA-2-7B linear layers, {got['int4_share']:.2%} of the "
          f"MACs w4a4 (paper {ref['int4_share']:.2%}), the rest w8a8, vs fp16")
    print(f"{'tokens M':>9}{'fp16 ms':>11}{'mixed ms':>11}{'speed-up':>10}{'quantize+mul':>14}")
    for r in got["rows"]:
        print(f"{r['tokens']:9d}{r['fp16_ms']:11.3f}{r['mixed_ms']:11.3f}{r['speedup']:9.2f}x"
              f"{r['quantize_share']:13.1%}")
    best = max(got["rows"], key=lambda r: r["speedup"])
    print(f"largest speed-up {best['speedup']:.2f}x at M = {best['tokens']} "
          f"(paper: up to {ref['speedup_max']}x)")
    c = got["crossover_tokens"]
    print(f"memory- to compute-bound crossover: M = {c['fp16_ms']:.0f} tokens (fp16), "
          f"{c['mixed_ms']:.0f} (mixed): int8 and int4 rates grow as their bytes shrink")
    print(f"weight memory {got['fp16_weight_gb']:.2f} -> {got['mixed_weight_gb']:.2f} GB: "
          f"{got['memory_reduction']:.2f}x (paper: {ref['memory_reduction']}x, whole-model "
          f"memory)")


if __name__ == "__main__":
    main()
