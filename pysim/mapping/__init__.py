"""Mapping: which unit runs each op, how it is tiled, and what moves between DRAM and chip."""

from pysim.mapping.planner import OpMapping, map_workload
from pysim.mapping.tiling import Capacity, GemmTiling, plan_gemm

__all__ = ["Capacity", "GemmTiling", "OpMapping", "map_workload", "plan_gemm"]
