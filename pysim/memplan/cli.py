"""`pysim memplan WORKLOAD --budget BYTES`: plan a workload's scratchpad and compare planners.

WORKLOAD is a zoo name (``resnet50``) or a workload YAML file; BUDGET is bytes (``524288``,
``512KiB``) or m_r / mid / min_peak. Prints one row per planner: non-compulsory bytes, the
reduction against TFLite arena + Belady, the proven lower bound and the solve time.
"""

from __future__ import annotations

import argparse
import re

from pysim.memplan.api import BUDGET_NAMES, ORDERS, PLANNERS, compare
from pysim.memplan.graph import MemPlanError

HELP = "plan the scratchpad (spills, reloads, addresses) and compare planners"
_UNITS = {"": 1, "b": 1, "kib": 1 << 10, "mib": 1 << 20, "kb": 1000, "mb": 1000 ** 2}


def parse_budget(text: str) -> int | str:
    """Bytes from '524288', '512KiB', '2MB', or one of BUDGET_NAMES."""
    if text in BUDGET_NAMES:
        return text
    m = re.fullmatch(r"\s*(\d+)\s*([A-Za-z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS:
        raise MemPlanError(f"--budget must be bytes (e.g. 524288, 512KiB, 2MB) or one of "
                           f"{BUDGET_NAMES}, got {text!r}")
    return int(m.group(1)) * _UNITS[m.group(2).lower()]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("workload", help="zoo model name or workload YAML file")
    p.add_argument("--budget", required=True, help="bytes (512KiB, 2MB) or m_r / mid / "
                   "min_peak")
    p.add_argument("--weights", action="store_true", help="plan weights in the scratchpad too")
    p.add_argument("--alignment", type=int, default=1, help="bytes (default 1)")
    p.add_argument("--order", default="given", choices=ORDERS,
                   help="op order of the optimal planner (default: the workload's)")
    p.add_argument("--time-limit", type=float, default=10.0, help="seconds (default 10)")
    p.add_argument("--planners", default=",".join(PLANNERS),
                   help=f"comma-separated, from {', '.join(PLANNERS)}")


def run(args: argparse.Namespace) -> int:
    import pysim
    from pysim.memplan.graph import LifetimeGraph

    if args.workload.endswith((".yaml", ".yml")):
        wl = pysim.load_workload(args.workload)
    else:
        wl = pysim.zoo.load(args.workload)
    g = LifetimeGraph.from_workload(wl, args.weights, args.alignment)
    frame = compare(g, parse_budget(args.budget), args.planners.split(","),
                    order=args.order, time_limit_s=args.time_limit)
    print(frame.to_string(index=False))
    return 0
