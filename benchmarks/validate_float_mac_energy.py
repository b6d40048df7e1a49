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
"""

from __future__ import annotations

from pysim.config import load_energy_table
from pysim.workload.number_formats import element_format


def _fields(name: str) -> tuple[int, int]:
    """(exponent bits, mantissa bits) of a pysim.formats float format."""
    fields = element_format(name).fields
    assert fields is not None, name
    return fields


FP16, FP32, BF16, E4M3 = (_fields(f) for f in ("fp16", "fp32", "bf16", "fp8_e4m3"))
DHFP_PE_MW, DHFP_PE_GHZ, DHFP_PE_NM = 2.13, 1.94, 28  # arXiv:2604.04507, abstract


def rows() -> list[tuple[str, float, float, str]]:
    """(case, pysim, published, source) of every comparison."""
    t = load_energy_table("45nm")

    def p2(f: tuple[int, int]) -> int:
        return (f[1] + 1) ** 2

    t28 = t.scaled_to(DHFP_PE_NM)
    fp8_mac = t28.float_mult_pj(E4M3, E4M3) + t28.add_pj(32, "fp")
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
    ]


def main() -> None:
    print(f"{'case':<38} {'pysim':>8} {'published':>10} {'ratio':>6}  source")
    for case, ours, published, source in rows():
        print(f"{case:<38} {ours:>8.3f} {published:>10.3f} {ours / published:>6.2f}  {source}")


if __name__ == "__main__":
    main()
