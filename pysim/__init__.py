"""pysim: a hardware-software co-design simulator for deep-learning accelerators.

    hw = pysim.load_hardware("configs/edge_npu.yaml")
    wl = pysim.load_workload("workloads/resnet50.yaml")      # or pysim.zoo.load("resnet50")
    res = pysim.simulate(hw, wl)
    res.latency_s, res.energy_j, res.energy_breakdown_j, res.dram_read_bytes, res.layers
"""

from typing import Any


def _find_core() -> None:
    """Import ``pysim._core``. Run from a source checkout (the repository root, a notebook
    opened there) after ``pip install .``, this package is the source folder, which holds no
    compiled extension: then the installed copy's folder joins ``__path__`` so ``_core`` comes
    from there. Raises ImportError saying how to build it if neither has one."""
    try:
        from pysim import _core  # noqa: F401
        return
    except ImportError:
        pass
    import importlib.metadata
    from pathlib import Path

    try:
        installed = Path(str(importlib.metadata.distribution("pysim").locate_file("pysim")))
    except importlib.metadata.PackageNotFoundError:
        installed = None
    here = Path(__file__).resolve().parent
    if installed is not None and installed.resolve() != here and installed.is_dir():
        __path__.append(str(installed))
        try:
            from pysim import _core  # noqa: F401
            return
        except ImportError:
            pass
    raise ImportError(f"pysim's C++ extension (pysim._core) is not built for {here}: run "
                      "`pip install .` (or `pip install -e .`) in the repository first")


_find_core()

from pysim import _core, formats, gpu, kernels, sparse, zoo  # noqa: E402
from pysim.area import area_mm2  # noqa: E402
from pysim.config import Hardware, load_hardware  # noqa: E402
from pysim.errors import ConfigError, WorkloadError  # noqa: E402
from pysim.result import Result  # noqa: E402
from pysim.simulate import simulate  # noqa: E402
from pysim.sweep import Space, pareto, search, sweep  # noqa: E402
from pysim.units.bit_serial import BitSerialArray  # noqa: E402
from pysim.units.systolic_array import SystolicArray  # noqa: E402
from pysim.units.xnor import XnorArray  # noqa: E402
from pysim.workload import Tensor, Workload, dump_workload, load_workload  # noqa: E402

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
    "formats",
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
