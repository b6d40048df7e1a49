"""pysim: a hardware-software co-design simulator for deep-learning accelerators.

    hw = pysim.load_hardware("configs/edge_npu.yaml")
    wl = pysim.load_workload("workloads/resnet50.yaml")      # or pysim.zoo.load("resnet50")
    res = pysim.simulate(hw, wl)
    res.latency_s, res.energy_j, res.energy_breakdown_j, res.dram_read_bytes, res.layers
"""

from pysim import _core, kernels, zoo
from pysim.config import Hardware, load_hardware
from pysim.errors import ConfigError, WorkloadError
from pysim.result import Result
from pysim.simulate import simulate
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
    "SystolicArray",
    "Tensor",
    "Workload",
    "WorkloadError",
    "XnorArray",
    "__version__",
    "_core",
    "dump_workload",
    "kernels",
    "load_hardware",
    "load_workload",
    "simulate",
    "zoo",
]
