"""Post-training quantization of Llama-2-7B (bf16 / nf4 / fp4 / int8 weights, bf16
activations) on an A100: one decode step (batch 1, 512 tokens of context) through pysim's GPU
path, on two weight-only stacks, to test the ordering issue 14 quotes ("bf16 fastest,
nf4 ~ fp4, int8 slowest on a weight-only-dequantizing stack") and say why.

- ``fused``: each linear layer is one GEMM kernel that reads the narrow weights and
  dequantizes them in its main loop (pysim's W4A16 / W8A16 model, docs/tensor_cores.md:
  AWQ / Marlin-style kernels). nf4 and fp4: 4-bit codes with one fp32 absmax per 64 weights
  (bitsandbytes' blocksize 64); int8: one fp32 scale per output channel (LLM.int8()'s row-wise
  scales).
- ``dequant-then-GEMM``: the stack bitsandbytes runs for inputs of more than one row and its
  int8 fallback: a kernel dequantizes the whole weight matrix to bf16 in HBM (an elementwise
  ``dequantize`` op reading the narrow weight, writing 16 bits), then a bf16 GEMM reads it. The
  absmax scales are not read in this stack's model (pysim's elementwise op reads one tensor),
  an undercount of 0.5 bit per 4-bit weight. LLM.int8()'s outlier decomposition (int8 GEMM
  plus an fp16 GEMM over outlier columns) is not used here: examples/seeds/llm_int8.py.

pysim's ops carry a width and a dtype, not a code book, so nf4 and fp4 are the same op here
(the code-book lookup vs the bit-field decode differ by a few instructions, not modelled).
bf16 runs as fp16 (the same tensor-core rate and bytes on an A100).

Run: python examples/seeds/ptq_llama2.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _seedlib import as_dict, build, paper  # noqa: E402

import pysim  # noqa: E402
from pysim import gpu, zoo  # noqa: E402
from pysim.workload import Workload  # noqa: E402

FORMATS: dict[str, dict[str, Any]] = {
    "nf4": {"bits": 4, "quant": {"granularity": "group", "group_size": 64, "scale_bits": 32}},
    "fp4": {"bits": 4, "quant": {"granularity": "group", "group_size": 64, "scale_bits": 32}},
    "int8": {"bits": 8, "quant": {"granularity": "channel", "scale_bits": 32}},
}


def decode_step(fmt: str, stack: str, context_len: int = 512, batch: int = 1) -> Workload:
    """One Llama-2-7B decode step with ``fmt`` weights ("bf16", "nf4", "fp4", "int8") on
    ``stack`` ("fused" or "dequant")."""
    data = as_dict(zoo.load("llama2_7b", phase="decode", precision="fp16", tokens=1,
                            context_len=context_len, batch=batch))
    if fmt == "bf16":
        return build(data)
    spec = FORMATS[fmt]
    weights = {t["name"]: t for t in data["inputs"] if t.get("role") == "weight"}
    ops: list[dict[str, Any]] = []
    for op in data["ops"]:
        w = [x for x in op["inputs"] if x in weights]
        if op["type"] != "matmul" or not w:
            ops.append(op)
            continue
        if stack == "fused":
            ops.append({"name": op["name"], "type": "gemm", "inputs": [op["inputs"][0]],
                        "m": op["m"], "n": op["n"], "k": op["k"], "dtype": "float",
                        "act_bits": 16, "weight_bits": spec["bits"], "out_bits": 16,
                        "quant": spec["quant"]})
        else:
            t = weights[w[0]]
            t["bits"], t["dtype"] = spec["bits"], "int"
            deq = f"{op['name']}.dequant"
            ops.append({"name": deq, "type": "elementwise", "op": "dequantize",
                        "inputs": [w[0]], "shape": t["shape"], "dtype": "float",
                        "act_bits": spec["bits"], "out_bits": 16})
            ops.append({**op, "inputs": [op["inputs"][0], deq]})
    if stack == "fused":
        data["inputs"] = [t for t in data["inputs"] if t.get("role") != "weight"]
    data["ops"] = ops
    return build(data)


def compute(preset: str = "a100", context_len: int = 512) -> dict[str, Any]:
    """Decode-step latency (ms) and HBM bytes of each format on each stack."""
    hw = gpu.preset(preset)
    out: dict[str, Any] = {}
    for stack in ("fused", "dequant"):
        out[stack] = {}
        for fmt in ("bf16", "nf4", "fp4", "int8"):
            r = pysim.simulate(hw, decode_step(fmt, stack, context_len))
            out[stack][fmt] = {"ms": r.latency_s * 1e3, "dram_gb": r.dram_read_bytes / 1e9}
        out[stack]["order"] = sorted(("bf16", "nf4", "fp4", "int8"),
                                     key=lambda f, s=stack: out[s][f]["ms"])
    return out


def main() -> None:
    ref, got = paper("ptq_llama2"), compute()
    print("Llama-2-7B decode step, batch 1, 512 tokens of context, A100 (pysim)")
    print(f"{'stack':18}" + "".join(f"{f:>20}" for f in ("bf16", "nf4", "fp4", "int8")))
    for stack, label in (("fused", "fused dequant"), ("dequant", "dequant-then-GEMM")):
        cells = "".join(f"{got[stack][f]['ms']:7.2f} ms {got[stack][f]['dram_gb']:5.1f} GB"
                        for f in ("bf16", "nf4", "fp4", "int8"))
        print(f"{label:18}{cells}   fastest first: {' < '.join(got[stack]['order'])}")
    print(f"issue 14's ordering (fastest first): {ref['ordering_fastest_first']}")
    print("dequant-then-GEMM reads the narrow weight, writes it in bf16 and reads that again:"
          " 0.5 + 2 + 2 bytes per 4-bit weight, 1 + 2 + 2 per int8 weight, 2 for bf16;"
          " fused kernels read only the narrow weight, so there 4-bit < int8 < bf16.")


if __name__ == "__main__":
    main()
