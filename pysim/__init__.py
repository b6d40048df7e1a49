"""pysim: a hardware-software co-design simulator for deep-learning accelerators.

    hw = pysim.load_hardware("configs/edge_npu.yaml")
    wl = pysim.load_workload("workloads/resnet50.yaml")      # or pysim.zoo.load("resnet50")
    res = pysim.simulate(hw, wl)
    res.latency_s, res.energy_j, res.energy_breakdown_j, res.dram_read_bytes, res.layers
"""

from typing import Any

from pysim import _core, gpu, kernels, sparse, zoo
from pysim.area import area_mm2
from pysim.config import Hardware, load_hardware
from pysim.errors import ConfigError, WorkloadError
from pysim.result import Result
from pysim.simulate import simulate
from pysim.sweep import Space, pareto, search, sweep
from pysim.units.bit_serial import BitSerialArray
from pysim.units.systolic_array import SystolicArray
from pysim.units.xnor import XnorArray
from pysim.workload import Tensor, Workload, dump_workload, load_workload

__version__ = "0.1.0"

__all__ = [
    "BitSerialArray",
    "ConfigError",
    "Hardware",
    "Result",
    "Space",
    "SystolicArray",
    "Tensor",
    "Workload",
    "WorkloadError",
    "XnorArray",
    "__version__",
    "_core",
    "area_mm2",
    "dump_workload",
    "gpu",
    "kernels",
    "load_hardware",
    "load_workload",
    "pareto",
    "plot",
    "search",
    "simulate",
    "sparse",
    "sweep",
    "zoo",
]


def __getattr__(name: str) -> Any:
    """``pysim.plot`` is imported on first use: matplotlib takes most of a second to load."""
    if name == "plot":
        import importlib

        return importlib.import_module("pysim.plot")
    raise AttributeError(f"module 'pysim' has no attribute {name!r}")
