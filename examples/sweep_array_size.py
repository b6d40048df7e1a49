"""Sweep the MAC array's rows and columns and the scratchpad size of the edge NPU on
ResNet-50, then plot latency against the number of PEs and the latency-area Pareto front.

Shows ``pysim.Space``, ``pysim.sweep`` with local worker processes, ``pysim.pareto`` and
``pysim.plot.pareto``. Points whose tiles do not fit the scratchpad come back as rows with an
``error`` and are left out of the plots.

    python examples/sweep_array_size.py [-o sweep_array_size.png] [--jobs 2] [--small]

``--small`` (or PYSIM_EXAMPLE_SMALL=1) runs ResNet-18 at 112x112 on fewer points (the tests
use it). The full run is 48 points of ResNet-50, about 5 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

import pysim
import pysim.plot
from pysim.sweep import Space, pareto, sweep

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", default="sweep_array_size.png", help="PNG to write")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--small", action="store_true", default=bool(
        os.environ.get("PYSIM_EXAMPLE_SMALL")), help="a quick version for tests")
    args = parser.parse_args()

    hw = pysim.load_hardware(CONFIGS / "edge_npu.yaml")
    if args.small:
        wl = pysim.zoo.load("resnet18", image_size=112)
        sides, sizes = [16, 32, 64], [128, 512]
    else:
        wl = pysim.zoo.load("resnet50")
        sides, sizes = [16, 32, 64, 128], [128, 512, 2048]
    space = Space({"units.0.rows": sides, "units.0.cols": sides,
                   "scratchpads.0.size_kib": sizes})
    df = sweep(hw, wl, space, jobs=args.jobs)
    ok = df[df["error"].isna()].copy()
    print(f"{len(df)} points, {len(df) - len(ok)} invalid")
    front = pareto(ok, minimize=["latency_s", "area_mm2"])
    cols = [*space.keys, "latency_s", "energy_j", "area_mm2", "utilization"]
    print(front[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))

    fig = Figure(figsize=(15, 5.5), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.25])
    ok["pes"] = ok["units.0.rows"] * ok["units.0.cols"]
    for i, (size, rows) in enumerate(ok.groupby("scratchpads.0.size_kib")):
        square = rows[rows["units.0.rows"] == rows["units.0.cols"]].sort_values("pes")
        left.scatter(rows["pes"], rows["latency_s"] * 1e3, color=f"C{i}", s=18, alpha=0.6)
        left.plot(square["pes"], square["latency_s"] * 1e3, color=f"C{i}", marker="o",
                  label=f"{size:g} KiB scratchpad (line: square arrays)")
    left.set_xscale("log", base=2)
    left.set_yscale("log")
    left.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    left.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    left.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    left.yaxis.set_minor_formatter(NullFormatter())
    left.set_xlabel("processing elements (rows x cols)")
    left.set_ylabel("latency (ms)")
    left.set_title(f"{wl.name} on {hw.name}: latency vs array size", fontsize=10)
    left.grid(True, which="major", alpha=0.3)
    left.legend(fontsize=8)
    pysim.plot.pareto(ok, x="area_mm2", y="latency_s", ax=right)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
