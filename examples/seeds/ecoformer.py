"""EcoFormer (Liu et al., NeurIPS 2022): the on-chip energy saving of binary-hashing attention
against softmax attention, on one chip, beside the paper's "73 %" (PVTv2-B0, ImageNet-1K).

The workload is PVTv2-B0's attention modules as EcoFormer's energy script counts them
(github.com/ziplab/EcoFormer, pvt/get_energy.py): four stages of 2 blocks at 56^2, 28^2, 14^2
and 7^2 tokens, widths 32 / 64 / 160 / 256, heads 1 / 2 / 5 / 8 (head_dim 32), full multi-head
attention (no spatial reduction), batch 1, int8. Softmax: a Q, K, V projection, Q K^T,
softmax, P V, the output projection. EcoFormer in stages 1-3 (the last keeps softmax, as the
paper's models do): one shared Q/K projection and a V projection (the repository's
EcoformerSelfAttention), then ``pysim.formats.ecoformer.hash_attention`` with 16-bit codes
and a 25-anchor Gaussian kernel (the script's m = 25): 1-bit codes x 8-bit values.

The chip is configs/edge_npu.yaml with its 32 x 32 int8 array declaring 1-bit operands
(``precisions: [1, 8]``): its PEs take a binary code as a sign select on the 8-bit operand,
so a code x value MAC costs a select and the int32 accumulator add, not an int8 multiply
(pysim/config/units.py, SystolicArrayUnit.mac_pj). On-chip energy: MAC + register file +
SRAM + vector unit (DRAM and leakage apart), summed over the attention modules' ops.

Run: python examples/seeds/ecoformer.py
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _seedlib import ROOT, paper  # noqa: E402

import pysim  # noqa: E402
from pysim.config.loader import hardware_from_dict  # noqa: E402
from pysim.formats.ecoformer import hash_attention  # noqa: E402
from pysim.workload import Workload  # noqa: E402
from pysim.zoo._builder import GraphBuilder  # noqa: E402

# PVTv2-B0 (Wang et al., "PVT v2", CVMJ 2022; the repository's pvt_v2_b0): per stage
STAGES = ((56, 32, 1), (28, 64, 2), (14, 160, 5), (7, 256, 8))  # side, width, heads
DEPTH = 2
ON_CHIP = ("mac_j", "register_file_j", "sram_j", "vector_j")


def chip() -> pysim.Hardware:
    """edge_npu whose int8 array also takes 1-bit operands (binary-code selects)."""
    with open(ROOT / "configs" / "edge_npu.yaml") as f:
        data: dict[str, Any] = yaml.safe_load(f)
    data = copy.deepcopy(data)
    data["units"][0]["precisions"] = [1, 8]
    return hardware_from_dict(data, "edge_npu (precisions [1, 8])")


def attention_modules(eco: bool) -> tuple[Workload, list[str]]:
    """PVTv2-B0's attention modules (one chain, each block reading the last one's output);
    with ``eco`` stages 1-3 share their Q/K projection. Returns the workload and the names of
    the Q K^T matmuls EcoFormer hashes."""
    g = GraphBuilder("pvt_v2_b0_attention")
    hashed = []
    x = g.input("tokens", (1, STAGES[0][0] ** 2, STAGES[0][1]))
    for s, (side, dim, heads) in enumerate(STAGES):
        n, hd = side * side, dim // heads
        if s:  # the next stage's tokens (the patch embedding is not an attention op)
            x = g.input(f"stage{s}.tokens", (1, n, dim))
        for b in range(DEPTH):
            p = f"stage{s}.block{b}"
            shared = eco and s < len(STAGES) - 1
            if shared:
                q = k = g.gemm(x, f"{p}.qk", dim)
                v = g.gemm(x, f"{p}.v", dim)
                hashed.append(f"{p}.scores")
            else:
                q, k, v = (g.gemm(x, f"{p}.{r}", dim) for r in "qkv")
            sc = g.matmul(q, k, f"{p}.scores", (1, heads), n, n, hd)
            sm = g.softmax(sc, f"{p}.softmax", heads * n, n)
            c = g.matmul(sm, v, f"{p}.context", (1, heads), n, hd, n)
            x = g.gemm(c, f"{p}.proj", dim, k=dim)
    return g.build(), hashed


def _on_chip_mj(res: Any, prefix: str = "") -> float:
    df = res.layers
    rows = df[df["op"].str.startswith(prefix)] if prefix else df
    return float(rows[list(ON_CHIP)].to_numpy().sum()) * 1e3


def compute() -> dict[str, Any]:
    """Both runs on the same chip and the figures the script prints."""
    hw = chip()
    msa, _ = attention_modules(eco=False)
    shared, names = attention_modules(eco=True)
    eco = hash_attention(shared, bits=16, anchors=25, ops=names)
    r_msa, r_eco = pysim.simulate(hw, msa), pysim.simulate(hw, eco)
    out: dict[str, Any] = {"paper": paper("ecoformer")}
    out["msa_on_chip_mj"] = _on_chip_mj(r_msa)
    out["eco_on_chip_mj"] = _on_chip_mj(r_eco)
    out["saving"] = 1 - out["eco_on_chip_mj"] / out["msa_on_chip_mj"]
    out["msa_macs"] = sum(op.macs for op in msa.ops)
    out["eco_macs"] = sum(op.macs for op in eco.ops)
    out["mac_saving"] = 1 - float(r_eco.energy_breakdown_j["mac"]) / float(
        r_msa.energy_breakdown_j["mac"])
    out["msa_total_mj"], out["eco_total_mj"] = r_msa.energy_j * 1e3, r_eco.energy_j * 1e3
    out["total_saving"] = 1 - r_eco.energy_j / r_msa.energy_j
    out["stage_saving"] = [1 - _on_chip_mj(r_eco, f"stage{s}.") / _on_chip_mj(r_msa, f"stage{s}.")
                           for s in range(len(STAGES))]
    df = r_eco.layers
    out["code_units"] = sorted(set(df[df["op"].str.endswith((".kv", ".qs"))]["unit"]))
    return out


def main() -> None:
    got = compute()
    fig = got["paper"]
    print("EcoFormer (Liu et al., NeurIPS 2022): PVTv2-B0's attention, softmax int8 vs hashed "
          "(16-bit codes, 25 anchors), configs/edge_npu.yaml with precisions [1, 8]")
    print(f"  MACs: softmax {got['msa_macs'] / 1e9:.3f} G -> hashed {got['eco_macs'] / 1e9:.3f} G"
          f" (codes x values on {', '.join(got['code_units'])})")
    print(f"  on-chip energy (MAC + RF + SRAM + vector): {got['msa_on_chip_mj']:.3f} -> "
          f"{got['eco_on_chip_mj']:.3f} mJ: saving {100 * got['saving']:.1f} %  "
          f"(per stage: {', '.join(f'{100 * s:.1f}' for s in got['stage_saving'])} %)")
    print(f"  MAC energy saving {100 * got['mac_saving']:.1f} %; with DRAM and leakage "
          f"{got['msa_total_mj']:.3f} -> {got['eco_total_mj']:.3f} mJ "
          f"({100 * got['total_saving']:.1f} %)")
    ratio = got["saving"] / fig["energy_saving"]
    print(f"  paper: {100 * fig['energy_saving']:.0f} % ({fig['source']}); pysim / paper = "
          f"{ratio:.2f}")
    print("  the paper's figure is the whole PVTv2-B0's arithmetic energy (3.7 pJ per fp32 "
          "multiply, 0.9 per add; MLPs and patch embeddings unchanged): docs/seed_systems.md")


if __name__ == "__main__":
    main()
