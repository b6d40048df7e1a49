"""int8 vs int4 vs binary ResNet-18 on the edge NPU: one sweep over array size and DRAM
bandwidth for the three precisions, the latency-area Pareto front of each, and where each
precision's energy goes.

Shows a sweep over several workloads at once (``pysim.sweep(hw, [wl8, wl4, wl1], space)``,
a ``workload`` column in the frame) and ``pysim.plot.pareto`` with one front per workload.

The precision variants are built from the zoo's ResNet-18 with
``pysim.workload.workload_from_dict``: every layer's weights and activations at 4 or 1 bits,
except that the first convolution reads the 8-bit image and the classifier keeps 8-bit
weights (the usual practice for low-bit networks). What the simulator does with them today:
the edge NPU has only an int8 systolic array, and an op narrower than a unit's precision runs
on it sign-extended, so int4 and binary layers take the same cycles per tile as int8; they
gain from smaller tensors (less DRAM and scratchpad traffic, bigger tiles) and cheaper MACs
(the energy table's multiplier energy scales with weight bits x activation bits). There is no
XNOR-popcount or bit-serial unit yet, so "binary" here is 1-bit data on the int8 array, not
an XNOR datapath's speed.

    python examples/pareto_precision.py [-o pareto_precision.png] [--jobs 2] [--small]

``--small`` (or PYSIM_EXAMPLE_SMALL=1) uses 112x112 images and fewer points (the tests use
it). The full run is 81 simulations, a few seconds on 2 cores.
"""

from __future__ import annotations

import argparse
import copy
import os
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter

import pysim
import pysim.plot
from pysim.energy import COMPONENTS as PER_OP
from pysim.energy import RUN_COMPONENTS
from pysim.sweep import Space, pareto, sweep
from pysim.workload import Workload, workload_from_dict

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
MAC_TYPES = ("conv2d", "gemm", "matmul")
COMPONENTS = PER_OP + RUN_COMPONENTS  # every part of the energy breakdown


def with_bits(wl: Workload, bits: int, name: str) -> Workload:
    """``wl`` with every op at ``bits``-wide weights and activations, except the first MAC op
    (reads the 8-bit input, writes ``bits``) and the last (keeps 8-bit weights)."""
    data = copy.deepcopy(wl.to_dict())
    data["name"] = name
    macs = [op["name"] for op in data["ops"] if op["type"] in MAC_TYPES]
    for op in data["ops"]:
        if op["name"] == macs[0]:
            op["out_bits"] = bits
            continue
        op["act_bits"] = bits
        if op["name"] != macs[-1]:
            op["weight_bits"] = bits
    return workload_from_dict(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", default="pareto_precision.png", help="PNG to write")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--small", action="store_true", default=bool(
        os.environ.get("PYSIM_EXAMPLE_SMALL")), help="a quick version for tests")
    args = parser.parse_args()

    hw = pysim.load_hardware(CONFIGS / "edge_npu.yaml")
    base = pysim.zoo.load("resnet18", image_size=112 if args.small else 224)
    workloads = [with_bits(base, b, f"resnet18 {label}")
                 for b, label in ((8, "int8"), (4, "int4"), (1, "binary"))]
    sides = [16, 32] if args.small else [16, 32, 64]
    space = Space({"units.0.rows": sides, "units.0.cols": sides,
                   "dram.bandwidth_gb_per_s": [6.4, 12.8, 25.6]})
    df = sweep(hw, workloads, space, jobs=args.jobs)
    ok = df[df["error"].isna()]
    for name, rows in ok.groupby("workload", sort=False):
        front = pareto(rows, minimize=["latency_s", "area_mm2"])
        best = rows.loc[rows["edp"].idxmin()]
        print(f"{name:<16} {len(front)} Pareto points; best EDP {best['edp']:.3g} J*s at "
              f"{best['units.0.rows']:.0f}x{best['units.0.cols']:.0f}, "
              f"{best['dram.bandwidth_gb_per_s']:g} GB/s")

    fig = Figure(figsize=(13, 5.5), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1.2, 1])
    pysim.plot.pareto(ok, x="area_mm2", y="latency_s", ax=left, labels=[])  # fronts align
    # Right: where the energy goes, per precision, on the base design (32x32, 12.8 GB/s).
    names = [w.name for w in workloads]
    at_base = ok[(ok["units.0.rows"] == 32) & (ok["units.0.cols"] == 32)
                 & (ok["dram.bandwidth_gb_per_s"] == 12.8)].set_index("workload").loc[names]
    bottom = np.zeros(len(names))
    for i, c in enumerate(COMPONENTS):
        values = at_base[f"energy_{c}_j"].to_numpy()
        if not values.any():  # e.g. no clock-network or control energy in this config
            continue
        right.bar(names, values, bottom=bottom, color=f"C{i}", label=c.replace("_", " "))
        bottom += values
    right.yaxis.set_major_formatter(EngFormatter(unit="J"))
    right.set_ylabel("energy per inference")
    right.set_title("Energy by component, 32x32 array, 12.8 GB/s", fontsize=10)
    right.legend(fontsize=8, title="component", title_fontsize=8)
    right.grid(True, axis="y", alpha=0.3)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
