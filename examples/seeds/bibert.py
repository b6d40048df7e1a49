"""BiBERT (Qin et al., ICLR 2022): FLOP and model-size savings of a fully binarized BERT-base
(1-bit weights, word embedding and activations), counted the paper's way from a pysim
workload, then run on an accelerator with an XNOR array (configs/lowp_edge.yaml).

The workload is pysim's zoo ``bert_base`` (seq_len 128) with what BiBERT's model has and the
zoo leaves out: the embedding tables (word 30522 x 768, position 512 x 768, token type 2 x 768)
as declared weights, and the pooler (a slice of the [CLS] row, a 768 x 768 gemm with bias,
tanh). Full precision: every op fp32 (weights, activations, biases). BiBERT 1-1-1: every
matrix product (the six linear layers per block, Q K^T and P V, the pooler) binary, weights and
both operands at 1 bit, each product's input binarized by an elementwise quantize (sign) op
shared by its readers; the embedding tables at 1 bit; biases, LayerNorm parameters and the
non-MAC ops (softmax, LayerNorm, GELU, adds) stay fp32.

Counting (the binary-network convention BiBERT follows): FLOPs = 2 x float MACs + 2 x binary
MACs / 64 + one FLOP per vector operation (pysim's ``vector_work``). Size: the workload's
weight bytes (pysim packs 1-bit values eight to a byte) in MiB, which is what the paper's
"MB" is (109.48 M fp32 parameters = 417.6 MiB, the paper's 418).

Run: python examples/seeds/bibert.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _seedlib import (  # noqa: E402
    ROOT,
    as_dict,
    build,
    insert_quantizers,
    paper,
    recast,
    tensor_shapes,
)

import pysim  # noqa: E402
from pysim import zoo  # noqa: E402
from pysim.workload import Workload  # noqa: E402

SEQ_LEN = 128
HIDDEN = 768
EMBEDDINGS = {"word_embeddings": (30522, HIDDEN), "position_embeddings": (512, HIDDEN),
              "token_type_embeddings": (2, HIDDEN)}
MIB = 2**20


def with_embeddings_and_pooler(seq_len: int = SEQ_LEN) -> dict[str, Any]:
    """zoo bert_base plus the embedding tables (declared weights) and the pooler."""
    data = as_dict(zoo.load("bert_base", seq_len=seq_len))
    last = data["ops"][-1]["name"]
    for name, shape in EMBEDDINGS.items():
        data["inputs"].append({"name": name, "shape": list(shape), "bits": 8, "role": "weight"})
    data["ops"] += [
        {"name": "pooler.cls", "type": "copy", "mode": "slice", "inputs": [last],
         "shapes": [[seq_len, HIDDEN]], "out_shape": [1, HIDDEN]},
        {"name": "pooler.dense", "type": "gemm", "inputs": ["pooler.cls"], "m": 1, "n": HIDDEN,
         "k": HIDDEN, "bias": True},
        {"name": "pooler.tanh", "type": "elementwise", "op": "tanh",
         "inputs": ["pooler.dense"], "shape": [1, HIDDEN]},
    ]
    return data


def full_precision(seq_len: int = SEQ_LEN) -> Workload:
    """BERT-base with every weight, activation and bias in fp32 (32-32-32)."""
    data = with_embeddings_and_pooler(seq_len)
    f32 = {"dtype": "float", "weight_bits": 32, "act_bits": 32, "out_bits": 32}
    data = recast(data, mac=f32, other=f32, input_bits=32, input_dtype="float")
    for t in data["inputs"]:
        t["bits"], t["dtype"] = 32, "float"
    return build(data)


def binarized(seq_len: int = SEQ_LEN, other_bits: int = 32) -> Workload:
    """BiBERT's 1-1-1 model: binary products, 1-bit embedding tables, the rest at
    ``other_bits`` (fp32 as the paper; 16 to fit a 16-bit vector unit)."""
    base = with_embeddings_and_pooler(seq_len)
    shapes = tensor_shapes(base)
    rest = {"dtype": "float", "weight_bits": other_bits, "act_bits": other_bits,
            "out_bits": other_bits}
    binary = {"dtype": "int", "weight_bits": 1, "act_bits": 1, "out_bits": other_bits}
    data = recast(base, mac=binary, other=rest, input_bits=other_bits, input_dtype="float")
    for op in data["ops"]:
        if op["type"] == "layernorm":
            op["weight_bits"] = 32          # gamma, beta stay fp32 (a storage choice)
    for t in data["inputs"]:
        if t.get("role") == "weight":
            t["bits"], t["dtype"] = 1, "int"
    data = insert_quantizers(data, shapes, to_bits=1, from_bits=other_bits, dtype="float")
    return build(data)


def flops(wl: Workload) -> float:
    """FLOPs by the binary-network convention: 2 per float MAC, 2 / 64 per binary MAC (a
    1-bit x 1-bit op counted as 1/64 of a FLOP), 1 per vector operation."""
    total = 0.0
    for op in wl.ops:
        if op.macs:
            bops = op.macs * op.weight_bits * op.act_bits
            total += 2 * op.macs if op.dtype == "float" else 2 * bops / 64
        total += op.vector_work() + op.dequant_work()
    return total


def compute(seq_len: int = SEQ_LEN) -> dict[str, Any]:
    """Every pysim figure of this row."""
    fp, bi = full_precision(seq_len), binarized(seq_len)
    out: dict[str, Any] = {
        "fp_flops_g": flops(fp) / 1e9, "bi_flops_g": flops(bi) / 1e9,
        "fp_size_mib": fp.weight_bytes / MIB, "bi_size_mib": bi.weight_bytes / MIB,
        "fp_params": sum(t.elements for t in fp.tensors.values() if t.role == "weight"),
        "bi_mac_flops_g": sum(2 * o.macs / 64 for o in bi.ops if o.macs) / 1e9,
    }
    out["flops_saving"] = out["fp_flops_g"] / out["bi_flops_g"]
    out["size_saving"] = out["fp_size_mib"] / out["bi_size_mib"]
    # The same binary model on an accelerator with an XNOR array, beside the int8 BERT-base on
    # the same chip (its 16-bit vector unit: the non-MAC ops at 16 bits here). Dispatch
    # (fastest) maps each binary op on the units that run it and takes the one whose mapping
    # finishes first: every GEMM on the XNOR array but the FFN's first, which writes 786 KB
    # of 16-bit sums and is DRAM-bound on either; the bit-serial array's finer row tiles
    # pipeline that write better (2.5 % sooner in the search's estimate and in the run).
    hw = pysim.load_hardware(ROOT / "configs" / "lowp_edge.yaml")
    r8 = pysim.simulate(hw, zoo.load("bert_base", seq_len=seq_len))
    r1 = pysim.simulate(hw, binarized(seq_len, other_bits=16))
    out["sim"] = {name: {"latency_ms": r.latency_s * 1e3, "energy_mj": r.energy_j * 1e3,
                         "units": sorted(set(r.layers.loc[r.layers["macs"] > 0, "unit"]))}
                  for name, r in (("int8", r8), ("binary", r1))}
    return out


def main() -> None:
    ref, got = paper("bibert"), compute()
    fp, bi = ref["full_precision"], ref["bibert"]
    print("BiBERT, BERT-base seq 128: full precision 32-32-32 vs fully binarized 1-1-1")
    print(f"{'':24}{'pysim':>12}{'paper':>12}")
    print(f"{'FLOPs fp32 (G)':24}{got['fp_flops_g']:12.2f}{fp['flops_g']:12.1f}")
    print(f"{'FLOPs 1-1-1 (G)':24}{got['bi_flops_g']:12.3f}{bi['flops_g']:12.1f}")
    print(f"{'FLOPs saving':24}{got['flops_saving']:11.1f}x{ref['flops_saving']:11.1f}x")
    print(f"{'size fp32 (MiB)':24}{got['fp_size_mib']:12.1f}{fp['size_mb']:12.1f}")
    print(f"{'size 1-1-1 (MiB)':24}{got['bi_size_mib']:12.2f}{bi['size_mb']:12.1f}")
    print(f"{'size saving':24}{got['size_saving']:11.1f}x{ref['size_saving']:11.1f}x")
    print(f"parameters: {got['fp_params']:,}; of the 1-1-1 FLOPs, {got['bi_mac_flops_g']:.3f} G"
          " are binary products (/64), the rest softmax, LayerNorm, GELU, adds, sign")
    print("Assumptions: embeddings binarized (the paper's E = 1), biases and LayerNorm fp32,"
          " pooler binarized, classifier head not counted.")
    print("On configs/lowp_edge.yaml (binary products on its binary units, each on the one "
          "whose mapping finishes it first):")
    for name, s in got["sim"].items():
        print(f"  {name:7} {s['latency_ms']:8.3f} ms {s['energy_mj']:8.3f} mJ  MAC units "
              f"{', '.join(s['units'])}")


if __name__ == "__main__":
    main()
