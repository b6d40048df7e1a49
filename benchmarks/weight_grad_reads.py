"""What a convolution's weight gradient (dW = X^T dY) reads from DRAM in a training step, per
accelerator config: the step's latency and DRAM bytes, the dW GEMMs' reads, and how much of
them goes beyond reading X and dY once each (where neither is kept on chip), with the three
dW GEMMs that read the most beyond that.

A dW GEMM's rows are taps x channels; where C's tile (the weight gradient, taps x channels x
output channels) forces a row tile narrower than a channel set, a tap-major tile reads X's
patch matrix (kh x kw times X), while a channel-major tile of whole channels' taps reads its
channels of every pixel, X about once over its tiles (pysim/mapping/planner.py,
``_patches_map``, which takes the cheaper per tile). Before channel-major rows (session 34),
ResNet-18's int8 step at batch 8 read 37.2 MB (edge_npu, 4.1 % of its DRAM bytes), 58.6 MB
(eyeriss) and 84.5 MB (lowp_edge, 8.7 %) beyond X and dY once, and ran 122.0 / 3388 / 132.5
ms; tpu_v1, whose tiles hold all of M, read nothing beyond.

    python benchmarks/weight_grad_reads.py [--model resnet18:batch=8] [--configs ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pysim
from pysim import training
from pysim.mapping.planner import PatchesGeometry

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ("edge_npu", "eyeriss", "lowp_edge", "tpu_v1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet18:batch=8")
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS))
    args = parser.parse_args()
    print(f"{'config':<10} {'step ms':>9} {'DRAM MB':>8} {'dW reads MB':>11} "
          f"{'beyond MB':>9} {'share':>6}  the three dW GEMMs reading most beyond")
    for name in args.configs:
        hw = pysim.load_hardware(ROOT / "configs" / f"{name}.yaml")
        step = training.step(hw, args.model, "adam", "int8")
        result, wl = step.result, step.graph.workload
        layers = result.layers.set_index("op")
        reads = beyond = 0
        worst = []
        for op in wl.ops:
            if op.type != "matmul" or PatchesGeometry.of(op) is None:
                continue
            row = layers.loc[op.name]
            kept = set(str(row["resident_inputs"]).split(","))
            once = sum(wl.tensors[t].bytes for t in op.inputs[:2] if t not in kept)
            read = int(row["dram_read_bytes"])
            reads += read
            beyond += max(0, read - once)
            worst.append((read - once, op.name, row["tiling"]))
        top = "; ".join(f"{n} +{b / 1e3:.0f} KB ({t.split('tile ')[-1]})"
                        for b, n, t in sorted(worst, reverse=True)[:3] if b > 0)
        print(f"{name:<10} {result.latency_s * 1e3:>9.2f} {result.dram_bytes / 1e6:>8.1f} "
              f"{reads / 1e6:>11.2f} {beyond / 1e6:>9.2f} {beyond / result.dram_bytes:>6.1%}  "
              f"{top or '-'}")


if __name__ == "__main__":
    main()
