"""L-Mul (Luo & Sun, "Addition is All You Need for Energy-efficient Language Models",
arXiv:2410.00907, 2024): its precision against fp8 multiplication, and its energy against a
float multiplier, element-wise and in a GEMM run through ``pysim.simulate``.

(a) Precision. ASSUMPTION (the paper's sampling is not restated here): 100,000 pairs of
independent N(0, 1) values (seed 0), float64. L-Mul with an m-bit mantissa
(``pysim.formats.lmul``: the operands rounded to m mantissa bits, then one integer add of
exponent and mantissa with the 2^-l(m) offset; exponent range unbounded) against fp8
multiplication: both operands rounded to fp8_e4m3 / fp8_e5m2 (``pysim.formats.quantize``,
with their ranges and subnormals) and multiplied exactly (the product kept wide, as fp8 tensor
cores accumulate in fp32); the second figure also rounds the product to the fp8 format. The
figure is the mean of |approximate - exact| / |exact| over the pairs.

(b) Energy. Element-wise: one L-Mul (``EnergyTable.lmul_pj``: an integer add of the
exponent-and-mantissa field, bits - 1 wide) against one float multiply of the same width, from
the 45 nm table (Horowitz, ISSCC 2014), as the paper prices it. Dot product: the same with the
accumulating float add, first as the arithmetic alone (multiply + add at the operand width,
the paper's accounting), then as ``pysim.simulate`` prices a 512^3 GEMM on
configs/edge_npu.yaml's 32 x 32 array made a float array (``float_precisions``, fp32
accumulators by default) with ``multiplier: lmul`` against ``exact``: its MAC energy (multiply
+ fp32 accumulate) and its total (register files, scratchpad, DRAM and leakage too, which
L-Mul does not change). The timing is the same: L-Mul changes the multiplier, not the array.

Run: python examples/seeds/lmul.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _seedlib import ROOT, paper  # noqa: E402

import pysim  # noqa: E402
from pysim import formats  # noqa: E402
from pysim.config.energy_table import load_energy_table  # noqa: E402
from pysim.workload import Workload, workload_from_dict  # noqa: E402

SAMPLES = 100_000
SEED = 0
GEMM = 512


def precision(samples: int = SAMPLES, seed: int = SEED) -> dict[str, float]:
    """Mean relative error of each multiplier on seeded N(0, 1) pairs."""
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal(samples), rng.standard_normal(samples)
    exact = x * y

    def err(p: np.ndarray) -> float:
        return float(np.mean(np.abs(p - exact) / np.abs(exact)))

    out = {f"lmul{m}": err(formats.lmul(x, y, m)) for m in (3, 4)}
    for fmt in ("fp8_e4m3", "fp8_e5m2"):
        def rnd(v: np.ndarray, f: str = fmt) -> np.ndarray:
            return formats.dequantize(formats.quantize(v, f, saturate=True), np.float64)
        out[fmt] = err(rnd(x) * rnd(y))
        out[f"{fmt}_rounded"] = err(rnd(rnd(x) * rnd(y)))
    return out


def arithmetic(bits: int) -> dict[str, float]:
    """The paper's accounting at ``bits``-wide floats (45 nm): element-wise and dot-product
    (multiply + add at the operand width) savings of L-Mul."""
    t = load_energy_table("45nm")
    mult, lm, add = t.mult_pj(bits, bits, "fp"), t.lmul_pj(bits), t.add_pj(bits, "fp")
    return {"mult_pj": mult, "lmul_pj": lm, "add_pj": add,
            "elementwise_saving": 1 - lm / mult, "dot_saving": 1 - (lm + add) / (mult + add)}


def float_gemm(bits: int, size: int = GEMM) -> Workload:
    fmt = {16: "fp16", 32: "fp32"}[bits]
    return workload_from_dict({
        "name": f"gemm_{fmt}", "inputs": [{"name": "x", "shape": [size, size], "format": fmt}],
        "ops": [{"name": "gemm", "type": "gemm", "inputs": ["x"], "m": size, "n": size,
                 "k": size, "weight_format": fmt, "act_format": fmt}]})


def simulated(bits: int) -> dict[str, Any]:
    """A float GEMM on edge_npu's array with ``multiplier: lmul`` against ``exact``."""
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml")
    wl = float_gemm(bits)
    runs, area = {}, {}
    for mul in ("exact", "lmul"):
        chip = hw.with_overrides({"units.0.float_precisions": [bits],
                                  "units.0.multiplier": mul})
        runs[mul] = pysim.simulate(chip, wl)
        area[mul] = pysim.area_mm2(chip)[chip.units[0].name]
    ex, lm = runs["exact"], runs["lmul"]
    return {"mac_saving": 1 - lm.energy_breakdown_j["mac"] / ex.energy_breakdown_j["mac"],
            "total_saving": 1 - lm.energy_j / ex.energy_j,
            "mac_share": ex.energy_breakdown_j["mac"] / ex.energy_j,
            "same_cycles": lm.latency_cycles == ex.latency_cycles,
            "exact_mj": ex.energy_j * 1e3, "lmul_mj": lm.energy_j * 1e3,
            "array_mm2": area["exact"], "lmul_array_mm2": area["lmul"]}


def compute() -> dict[str, Any]:
    """Every pysim figure of this row."""
    return {"precision": precision(), "arith": {b: arithmetic(b) for b in (16, 32)},
            "sim": {b: simulated(b) for b in (16, 32)}}


def main() -> None:
    ref, got = paper("lmul"), compute()
    p = got["precision"]
    print(f"L-Mul (Luo & Sun 2024): mean relative error on {SAMPLES:,} N(0,1) pairs (seed "
          f"{SEED})")
    print(f"  L-Mul m=3 {p['lmul3']:.4f}   fp8_e5m2 {p['fp8_e5m2']:.4f} (product rounded to "
          f"e5m2: {p['fp8_e5m2_rounded']:.4f})   paper: L-Mul m=3 outperforms e5m2")
    print(f"  L-Mul m=4 {p['lmul4']:.4f}   fp8_e4m3 {p['fp8_e4m3']:.4f} (product rounded to "
          f"e4m3: {p['fp8_e4m3_rounded']:.4f})   paper: comparable")
    print("Energy, 45 nm table (pysim) against the paper's -95 % element-wise, -80 % dot:")
    for bits, a in got["arith"].items():
        print(f"  fp{bits}: multiply {a['mult_pj']:.3f} pJ -> L-Mul {a['lmul_pj']:.3f} pJ: "
              f"element-wise -{100 * a['elementwise_saving']:.1f} % (paper "
              f"-{100 * ref['elementwise_saving']:.0f} %); multiply + fp{bits} add: "
              f"-{100 * a['dot_saving']:.1f} % (paper -{100 * ref['dot_product_saving']:.0f} %)")
    print(f"pysim.simulate, {GEMM}^3 GEMM on edge_npu (16 nm) as a float array, fp32 "
          "accumulators, lmul vs exact:")
    for bits, s in got["sim"].items():
        print(f"  fp{bits}: MAC energy -{100 * s['mac_saving']:.1f} %, total "
              f"-{100 * s['total_saving']:.1f} % ({s['exact_mj']:.3f} -> {s['lmul_mj']:.3f} mJ;"
              f" MACs were {100 * s['mac_share']:.0f} % of it); same cycles: "
              f"{s['same_cycles']}; array area {s['array_mm2']:.3f} -> "
              f"{s['lmul_array_mm2']:.3f} mm² (pysim.area: the fp adder and registers stay)")
    print("The gap: pysim's MAC keeps an fp32 accumulate (0.9 pJ at 45 nm), which L-Mul does "
          "not touch, and the total adds register files, scratchpad and DRAM traffic.")


if __name__ == "__main__":
    main()
