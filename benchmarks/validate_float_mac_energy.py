"""Float multiply and MAC energies per number format (``EnergyTable.float_mult_pj``) against
the published figures they rest on or can be set beside; prints pysim's figure, the published
one, its source and the ratio:

    python benchmarks/validate_float_mac_energy.py

1. Horowitz, ISSCC 2014 (45 nm): fp16 and fp32 multiplies, 1.1 and 3.7 pJ. The model's two
   anchors: 1.00 by construction (a check that the fit passes through them).
2. Wang & Kanwar, "BFloat16: the secret to high performance on Cloud TPUs" (Google Cloud blog,
   2019): "the physical size of a hardware multiplier scales with the square of the mantissa
   width ... bfloat16 multipliers are about half the size in silicon of a typical FP16
   multiplier, and they are eight times smaller than an FP32 multiplier". The model's
   significand arrays (p^2, p with the hidden bit) give 0.53 and 9.0; its whole multiply,
   with the exponent adder and normalisation the blog's sentence leaves out, 0.77 and 4.4.
3. Kumar et al., "DHFP-PE: Dual-Precision Hybrid Floating Point Processing Element for AI
   Acceleration" (arXiv:2604.04507, abstract): an FP8 (E4M3 / E5M2) MAC PE in 28 nm at
   1.94 GHz drawing 2.13 mW, 1.10 pJ per MAC (one MAC per cycle; the abstract states neither
   the accumulator's format nor the activity). pysim's E4M3 multiply plus an fp32 add, the
   45 nm table scaled to 28 nm by its own rule (pysim/config/energy_table.py): 0.78 pJ (0.71);
   with an fp16 accumulator 0.47 pJ. The PE's pipeline and operand registers, which pysim
   books to its register files rather than to the MAC, are the likely rest.
4. MX-native MACs (``block_scales: datapath``: a block's products summed in a fixed-point word,
   ``pysim.config.units.BlockAccumulator``), MXFP8 (E4M3) over MXFP4 energy per MAC, against
   whole published MX systems' energy per operation (only their ratio is compared; they add
   operand delivery, registers and control, and run MXFP4 at twice MXFP8's rate on shared
   multipliers): Wipfli et al., "Vmxdotp" (arXiv:2603.04979, abstract; 12 nm): 843 and 1632
   GFLOPS/W, 1.94x; Cuyckens et al. (arXiv:2511.06313, abstract): 1438-1675 and 4065 GOPS/W,
   2.43-2.83x (2.61 at the middle). With an fp32 add per product instead the ratio is 1.18.
"""

from __future__ import annotations

from pathlib import Path

import pysim
from pysim.config import load_energy_table
from pysim.workload import Gemm, Tensor, Workload
from pysim.workload.number_formats import element_format


def _fields(name: str) -> tuple[int, int]:
    """(exponent bits, mantissa bits) of a pysim.formats float format."""
    fields = element_format(name).fields
    assert fields is not None, name
    return fields


FP16, FP32, BF16, E4M3 = (_fields(f) for f in ("fp16", "fp32", "bf16", "fp8_e4m3"))
DHFP_PE_MW, DHFP_PE_GHZ, DHFP_PE_NM = 2.13, 1.94, 28  # arXiv:2604.04507, abstract
VMXDOTP_GFLOPS_PER_W = {"mxfp8": 843.0, "mxfp4": 1632.0}  # arXiv:2603.04979, abstract
CUYCKENS_GOPS_PER_W = {"mxfp8": (1438.0, 1675.0), "mxfp4": (4065.0, 4065.0)}  # 2511.06313
ROOT = Path(__file__).resolve().parent.parent


def mx_mac_pj(fmt: str, block_scales: str) -> float:
    """One MAC of ``fmt`` x ``fmt`` (an MX format) as ``pysim.simulate`` prices it: the MAC
    energy of a GEMM on configs/edge_npu.yaml's systolic array with fp4 / fp8 PEs, its block
    scales applied in the datapath or on the vector unit, over its MACs."""
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml").with_overrides(
        {"units.0.float_precisions": [4, 8], "units.0.block_scales": block_scales})
    m, n, k = 64, 64, 1024
    wl = Workload(name="g", ops=(Gemm(name="g", inputs=("x",), m=m, n=n, k=k,
                                      weight_format=fmt, act_format=fmt),),
                  inputs=(Tensor(name="x", shape=(m, k), format=fmt),))
    return pysim.simulate(hw, wl).energy_breakdown_j["mac"] * 1e12 / (m * n * k)


def rows() -> list[tuple[str, float, float, str]]:
    """(case, pysim, published, source) of every comparison."""
    t = load_energy_table("45nm")

    def p2(f: tuple[int, int]) -> int:
        return (f[1] + 1) ** 2

    t28 = t.scaled_to(DHFP_PE_NM)
    fp8_mac = t28.float_mult_pj(E4M3, E4M3) + t28.add_pj(32, "fp")
    mx_ratio = mx_mac_pj("mxfp8_e4m3", "datapath") / mx_mac_pj("mxfp4", "datapath")
    mx_fp32_ratio = mx_mac_pj("mxfp8_e4m3", "vector") / mx_mac_pj("mxfp4", "vector")
    lo, hi = (CUYCKENS_GOPS_PER_W["mxfp4"][0] / CUYCKENS_GOPS_PER_W["mxfp8"][i] for i in (1, 0))
    cuyckens = (lo + hi) / 2
    return [
        ("fp16 multiply, pJ (45 nm)", t.float_mult_pj(FP16, FP16), 1.1,
         "Horowitz ISSCC 2014 (anchor)"),
        ("fp32 multiply, pJ (45 nm)", t.float_mult_pj(FP32, FP32), 3.7,
         "Horowitz ISSCC 2014 (anchor)"),
        ("bf16 / fp16 significand array", p2(BF16) / p2(FP16), 0.5,
         "Wang & Kanwar 2019: 'about half the size'"),
        ("fp32 / bf16 significand array", p2(FP32) / p2(BF16), 8.0,
         "Wang & Kanwar 2019: 'eight times smaller'"),
        ("bf16 / fp16 whole multiply", t.float_mult_pj(BF16, BF16) / t.float_mult_pj(FP16, FP16),
         0.5, "the same sentence, against the whole multiply (exponent add, normalisation)"),
        ("fp8 E4M3 MAC + fp32 add, pJ (28 nm)", fp8_mac, DHFP_PE_MW / DHFP_PE_GHZ,
         "Kumar et al. arXiv:2604.04507: 2.13 mW at 1.94 GHz, a whole PE"),
        ("MXFP8 / MXFP4 MAC (Vmxdotp)", mx_ratio,
         VMXDOTP_GFLOPS_PER_W["mxfp4"] / VMXDOTP_GFLOPS_PER_W["mxfp8"],
         "Vmxdotp arXiv:2603.04979: 843 vs 1632 GFLOPS/W, a whole system"),
        ("MXFP8 / MXFP4 MAC (Cuyckens)", mx_ratio, cuyckens,
         "Cuyckens et al. arXiv:2511.06313: 1438-1675 vs 4065 GOPS/W, a whole system"),
        ("MXFP8 / MXFP4, an fp32 add each", mx_fp32_ratio, cuyckens,
         "the same, pysim's MAC without MX-native blocks"),
    ]


def main() -> None:
    print(f"{'case':<38} {'pysim':>8} {'published':>10} {'ratio':>6}  source")
    for case, ours, published, source in rows():
        print(f"{case:<38} {ours:>8.3f} {published:>10.3f} {ours / published:>6.2f}  {source}")


if __name__ == "__main__":
    main()
