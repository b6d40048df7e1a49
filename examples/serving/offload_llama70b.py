"""LLaMA-2-70B (138 GB in fp16) served on one GPU with the weights that do not fit in host
memory (``host.offload``, docs/serving.md "Weights in host memory"): which host link, which
copy schedule, and whether 4-bit weights (``precision="w4a16"``) make offloading unnecessary.

For each GPU (the A100 on PCIe 4.0, the H100 SXM on PCIe 5.0, the GH200 on NVLink-C2C), copy
schedule (copies on demand, or prefetched under the previous layer) and precision, it serves
one request of a 512-token prompt and 128 output tokens and prints the bytes kept in host
memory, the time per output token and the share of it the copies take. The time is what the
link allows; docs/validation.md compares it with measured offloading systems, which reach
35-65 % of it.

    python examples/serving/offload_llama70b.py
"""

from __future__ import annotations

from dataclasses import dataclass

import pysim
import pysim.serving as sv

GPUS = ("a100", "h100", "gh200")
MODES = ("on_demand", "prefetch")
PRECISIONS = ("fp16", "w4a16")


@dataclass(frozen=True)
class Row:
    gpu: str
    link: str
    precision: str
    mode: str
    host_gb: float
    tpot_s: float
    copy_share: float


def serve_one(gpu: str, precision: str, mode: str) -> Row:
    """One request on ``gpu`` with ``host.offload = mode``."""
    hw = pysim.gpu.preset(gpu).hardware.with_overrides({"host.offload": mode})
    assert hw.host is not None  # every preset here has a host link
    spec = sv.model("llama2_70b", precision=precision)
    res = sv.serve(hw, spec, [sv.Request(0, 0.0, 512, 128)])
    decodes = res.iterations[res.iterations["prefill_tokens"] == 0]["seconds"]
    tpot = float(decodes.median())
    off = res.cost.offload
    host = off.bytes if off is not None else 0.0
    copies = host / hw.host.bytes_per_s
    return Row(gpu, hw.host.link, precision, mode, host / 1e9, tpot, min(1.0, copies / tpot))


def rows() -> list[Row]:
    return [serve_one(g, p, m) for g in GPUS for p in PRECISIONS for m in MODES]


def main() -> None:
    print(f"{'gpu':<6} {'host link':<11} {'precision':<9} {'copies':<10} {'in host GB':>10} "
          f"{'TPOT ms':>9} {'copies share':>12}")
    for r in rows():
        print(f"{r.gpu:<6} {r.link:<11} {r.precision:<9} {r.mode:<10} {r.host_gb:>10.1f} "
              f"{r.tpot_s * 1e3:>9.1f} {r.copy_share:>12.0%}")


if __name__ == "__main__":
    main()
