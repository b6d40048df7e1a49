"""SCALE-Sim 3.0.0 compatibility: its config and topology formats and its report CSVs
(docs/scalesim_compat.md)."""

from pysim.scalesim.config import ScaleSimConfig, load_config
from pysim.scalesim.reports import render, write_reports
from pysim.scalesim.runner import LayerReport, run, simulate_layer
from pysim.scalesim.topology import Layer, gemm_layer, load_topology, parse_topology

__all__ = [
    "Layer",
    "LayerReport",
    "ScaleSimConfig",
    "gemm_layer",
    "load_config",
    "load_topology",
    "parse_topology",
    "render",
    "run",
    "simulate_layer",
    "write_reports",
]
