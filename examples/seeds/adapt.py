"""AdaPT (Kummer et al., arXiv:2107.13490), inference side: the speed-up of fixed-point word
lengths over 32-bit operands on a bit-serial unit, whose cycles scale with the bits.

ASSUMPTION (stated, not the paper's numbers): the per-layer word lengths AdaPT reaches are not
restated here; the paper's abstract gives a model size reduction of 0.52 against float32, read
as a model 48 % of float32's size, i.e. a mean word length of 0.48 x 32 = 15.4 bits. Every
conv and fc layer of a CIFAR-sized ResNet-18 (pysim's zoo ``resnet18``, image_size 32; the
paper used ResNet-20 and AlexNet, not in pysim's zoo) runs at 15-bit weights and activations,
against 32-bit fixed point (the stand-in for float32: pysim's bit-serial unit has no float
mode). The unit is configs/lowp_edge.yaml's BISMO-like bit-serial array with its precisions
widened to 1..32 (``BitSerialArray`` takes 1..32-bit operands), once in ``bismo`` mode
(cycles ~ w x a) and once in ``stripes`` mode (cycles ~ a), every MAC op pinned to it.

Run: python examples/seeds/adapt.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _seedlib import ROOT, as_dict, build, paper  # noqa: E402

import pysim  # noqa: E402
from pysim import zoo  # noqa: E402
from pysim.config.loader import hardware_from_dict  # noqa: E402
from pysim.workload import Workload  # noqa: E402

BASE_BITS = 32


def word_length(size_reduction: float) -> int:
    """The mean word length a model of (1 - size_reduction) x float32's size has, rounded."""
    return round((1 - size_reduction) * BASE_BITS)


def bit_serial_chip(mode: str) -> pysim.Hardware:
    """lowp_edge with its bit-serial array in ``mode`` taking 1..32-bit operands."""
    with open(ROOT / "configs" / "lowp_edge.yaml") as f:
        data: dict[str, Any] = yaml.safe_load(f)
    for unit in data["units"]:
        if unit["kind"] == "bit_serial":
            unit["precisions"], unit["mode"] = list(range(1, 33)), mode
    return hardware_from_dict(data, "lowp_edge (bit-serial 1..32 bits)")


def resnet_at(bits: int, image_size: int = 32) -> Workload:
    """ResNet-18 with every MAC op at ``bits``-bit weights and activations (the vector ops
    and tensors at the same width), pinned to the bit-serial array."""
    data = as_dict(zoo.load("resnet18", image_size=image_size))
    for t in data["inputs"]:
        t["bits"] = bits
    for op in data["ops"]:
        op.update({"weight_bits": bits, "act_bits": bits})
        if op["type"] in ("conv2d", "gemm"):
            op["unit"] = "bitserial_array"
    return build(data)


def compute(mode: str = "stripes") -> dict[str, Any]:
    """Latency of the 32-bit and the AdaPT-length model, and the speed-up."""
    ref = paper("adapt")
    bits = word_length(ref["model_size_reduction"])
    hw = bit_serial_chip(mode)
    r32, rw = pysim.simulate(hw, resnet_at(BASE_BITS)), pysim.simulate(hw, resnet_at(bits))
    mac = lambda r: float(r.layers.loc[r.layers["macs"] > 0, "cycles"].sum())  # noqa: E731
    return {"bits": bits, "mode": mode, "base_ms": r32.latency_s * 1e3,
            "adapt_ms": rw.latency_s * 1e3, "speedup": r32.latency_s / rw.latency_s,
            "mac_cycle_speedup": mac(r32) / mac(rw),
            "size_ratio": resnet_at(bits).weight_bytes / resnet_at(BASE_BITS).weight_bytes}


def main() -> None:
    ref = paper("adapt")
    print("AdaPT inference: ResNet-18 (CIFAR size) at AdaPT-like word lengths vs 32-bit, "
          "bit-serial array")
    for mode in ("stripes", "bismo"):
        g = compute(mode)
        print(f"  {mode:8} w{g['bits']}a{g['bits']}: {g['base_ms']:9.3f} -> {g['adapt_ms']:8.3f}"
              f" ms, speed-up {g['speedup']:.2f}x (MAC cycles {g['mac_cycle_speedup']:.2f}x);"
              f" paper {ref['inference_speedup']}x")
    print(f"  model size {g['size_ratio']:.2f} of 32-bit (paper: reduction "
          f"{ref['model_size_reduction']}, the assumption's input)")


if __name__ == "__main__":
    main()
