"""Run a SCALE-Sim config (.cfg) and topology (.csv) through pysim and write
COMPUTE_REPORT.csv, DETAILED_ACCESS_REPORT.csv and BANDWIDTH_REPORT.csv into OUTDIR, in
SCALE-Sim 3.0.0's format (docs/scalesim_compat.md lists what matches and the few documented
differences). No trace files are written."""

from __future__ import annotations

import argparse
import sys
import time

from pysim.scalesim.config import USER_BANDWIDTH_WARNING, load_config
from pysim.scalesim.reports import write_reports
from pysim.scalesim.runner import LayerReport
from pysim.scalesim.runner import run as run_layers
from pysim.scalesim.topology import load_topology


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", required=True, help="SCALE-Sim .cfg file")
    parser.add_argument("-t", "--topology", required=True, help="topology CSV")
    parser.add_argument("--gemm", action="store_true", help="topology is 'Layer, M, N, K'")
    parser.add_argument(
        "-i",
        dest="input_type",
        choices=["conv", "gemm"],
        default=None,
        help="SCALE-Sim's spelling: '-i gemm' is --gemm, '-i conv' the default",
    )
    parser.add_argument(
        "-s",
        dest="save_disk_space",
        metavar="N",
        default=None,
        help="accepted for SCALE-Sim command lines and ignored (pysim writes no traces)",
    )
    parser.add_argument("-o", "--outdir", required=True, help="folder for the report CSVs")


def _summary(reports: list[LayerReport]) -> str:
    name_w = max([len("Layer")] + [len(r.name) for r in reports])
    head = (
        f"{'ID':>4}  {'Layer':<{name_w}}  {'Cycles':>12}  {'Util %':>7}  {'Map eff %':>9}"
        f"  {'DRAM IFMAP rd':>13}  {'DRAM Filter rd':>14}  {'DRAM OFMAP wr':>13}"
    )
    lines = [head, "-" * len(head)]
    for r in reports:
        mark = "" if (r.ifmap_fits and r.filter_fits) else " *"
        lines.append(
            f"{r.layer_id:>4}  {r.name:<{name_w}}  {r.total_cycles:>12}  {r.overall_util:>7.2f}"
            f"  {r.mapping_efficiency:>9.2f}  {r.dram_ifmap_reads:>13}  {r.dram_filter_reads:>14}"
            f"  {r.dram_ofmap_writes:>13}{mark}"
        )
    total = sum(r.total_cycles for r in reports)
    lines.append("-" * len(head))
    lines.append(f"{'':>4}  {'total':<{name_w}}  {total:>12}")
    if any(not (r.ifmap_fits and r.filter_fits) for r in reports):
        lines.append(
            "* an operand does not fit in half of its SRAM: its DRAM read columns are pysim's "
            "compulsory traffic, not SCALE-Sim's re-fetch count (docs/scalesim_compat.md)"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    t0 = time.perf_counter()
    gemm = bool(args.gemm) or args.input_type == "gemm"
    cfg = load_config(args.config, warn=False)
    if cfg.bandwidth_mode == "USER":
        print(f"pysim scalesim: warning: {USER_BANDWIDTH_WARNING}", file=sys.stderr)
    layers = load_topology(args.topology, gemm=gemm)
    reports = run_layers(cfg, layers)
    paths = write_reports(args.outdir, reports)
    elapsed = time.perf_counter() - t0
    print(
        f"{cfg.run_name}: {cfg.rows}x{cfg.cols} {cfg.dataflow.upper()}, "
        f"SRAM {cfg.ifmap_sram_kb}/{cfg.filter_sram_kb}/{cfg.ofmap_sram_kb} kB, "
        f"{len(layers)} layers"
    )
    print(_summary(reports))
    print(f"wrote {', '.join(str(p) for p in paths)} in {elapsed:.3f} s")
    return 0
