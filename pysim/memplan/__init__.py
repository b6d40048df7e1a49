"""Scratchpad planning: which tensors stay on chip, where, and which spill (issue 13).

``pysim.memplan.plan(wl, budget_bytes=512 * 1024)`` returns a checked `Plan` minimising the
non-compulsory off-chip traffic (reloads and write-backs) of a workload through a contiguous
scratchpad, with its proven lower bound; `compare` sets it against the baselines (TFLite arena +
Belady, TFLite-Micro greedy, first-fit with Belady / LRU / FIFO). See docs/memplan.md.
"""

from pysim.memplan import plot
from pysim.memplan.api import BUDGET_NAMES, ORDERS, PLANNERS, Budgets, budgets, compare, plan
from pysim.memplan.baselines import (
    BASELINES,
    BeladyPlanner,
    FifoPlanner,
    LruPlanner,
    TfliteBeladyPlanner,
    TflmGreedyPlanner,
)
from pysim.memplan.graph import LifetimeGraph, MemPlanError, OpNode, TensorNode, Timeline
from pysim.memplan.plan import Piece, Plan, PlanInvalid, Traffic, replay
from pysim.memplan.schedule import MinPeak, min_peak_order, peak_bytes

__all__ = [
    "BASELINES",
    "BUDGET_NAMES",
    "ORDERS",
    "PLANNERS",
    "BeladyPlanner",
    "Budgets",
    "FifoPlanner",
    "LifetimeGraph",
    "LruPlanner",
    "MemPlanError",
    "MinPeak",
    "OpNode",
    "Piece",
    "Plan",
    "PlanInvalid",
    "TensorNode",
    "TfliteBeladyPlanner",
    "Timeline",
    "TflmGreedyPlanner",
    "Traffic",
    "budgets",
    "compare",
    "min_peak_order",
    "peak_bytes",
    "plot",
    "plan",
    "replay",
]
