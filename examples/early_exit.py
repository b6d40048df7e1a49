"""Early exit: latency and energy distributions (mean, p50, p99) with exit heads.

Two cases on the edge-NPU config: a 16-layer MLP (1024 wide, batch 16) with an exit after every
4th layer, and ResNet-50 with exits after stages 1-3 (global-pool + linear heads). Exit
probabilities are conditional (given the sample reached that exit).

    python examples/early_exit.py
"""

from __future__ import annotations

from pathlib import Path

import pysim
from pysim.dynamic import ExitPoint, simulate_early_exit
from pysim.workload import workload_from_dict

ROOT = Path(__file__).resolve().parent.parent


def mlp16(width: int = 1024, batch: int = 16) -> pysim.Workload:
    ops, prev = [], "x"
    for i in range(16):
        ops.append({"name": f"fc{i}", "type": "gemm", "inputs": [prev], "m": batch, "n": width,
                    "k": width, "bias": True})
        ops.append({"name": f"relu{i}", "type": "elementwise", "op": "relu",
                    "inputs": [f"fc{i}"], "shape": [batch, width]})
        prev = f"relu{i}"
    return workload_from_dict({"name": "mlp16", "inputs": [{"name": "x", "shape": [batch, width]}],
                               "ops": ops})


def show(title: str, res) -> None:
    print(f"\n{title}")
    print(res.outcomes[["exit", "probability", "latency_s", "energy_j", "head_latency_s"]]
          .to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    s = res.stats()
    print(f"latency  mean {s['latency_s_mean'] * 1e3:.3f} ms  p50 {s['latency_s_p50'] * 1e3:.3f}"
          f"  p99 {s['latency_s_p99'] * 1e3:.3f}   (no exits: {res.full.latency_s * 1e3:.3f})")
    print(f"energy   mean {s['energy_j_mean'] * 1e3:.3f} mJ  p50 {s['energy_j_p50'] * 1e3:.3f}"
          f"  p99 {s['energy_j_p99'] * 1e3:.3f}   (no exits: {res.full.energy_j * 1e3:.3f})")


def main() -> None:
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml")
    mlp = mlp16()
    exits = [ExitPoint(f"relu{i}", 0.25, classes=10) for i in (3, 7, 11)]
    show("16-layer MLP, exits after layers 4, 8, 12 (q = 0.25 each)",
         simulate_early_exit(hw, mlp, exits))
    resnet = pysim.zoo.load("resnet50")
    exits = [ExitPoint("layer1.2.relu_out", 0.3), ExitPoint("layer2.3.relu_out", 0.4),
             ExitPoint("layer3.5.relu_out", 0.5)]
    show("ResNet-50, exits after stages 1-3", simulate_early_exit(hw, resnet, exits))


if __name__ == "__main__":
    main()
