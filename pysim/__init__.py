"""pysim: a hardware-software co-design simulator for deep-learning accelerators.

    hw = pysim.load_hardware("configs/edge_npu.yaml")
    wl = pysim.load_workload("workloads/resnet50.yaml")      # or pysim.zoo.load("resnet50")
    res = pysim.simulate(hw, wl)
    res.latency_s, res.energy_j, res.energy_breakdown_j, res.dram_read_bytes, res.layers
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the lazily loaded names, for type checkers and IDEs
    from pysim import formats, gpu, kernels, plot, sparse, zoo
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

from pysim import _core  # noqa: E402

__version__ = "0.1.0"

# Each public name's module. ``import pysim`` loads none of them (numpy, pydantic and the
# simulator take most of a second); a name loads its module on first use (PEP 562), and so does
# any other submodule read as an attribute (``pysim.serving``).
_LAZY = {
    "BitSerialArray": "pysim.units.bit_serial",
    "ConfigError": "pysim.errors",
    "Hardware": "pysim.config",
    "Result": "pysim.result",
    "Space": "pysim.sweep",
    "SystolicArray": "pysim.units.systolic_array",
    "Tensor": "pysim.workload",
    "Workload": "pysim.workload",
    "WorkloadError": "pysim.errors",
    "XnorArray": "pysim.units.xnor",
    "area_mm2": "pysim.area",
    "dump_workload": "pysim.workload",
    "load_hardware": "pysim.config",
    "load_workload": "pysim.workload",
    "pareto": "pysim.sweep",
    "search": "pysim.sweep",
    "simulate": "pysim.simulate",
    "sweep": "pysim.sweep",
}

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


def __getattr__(name: str) -> object:
    """A public name (``pysim.simulate``) or a submodule (``pysim.zoo``, ``pysim.plot``), imported
    on first use and then kept in the module. Raises AttributeError for anything else."""
    import importlib

    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name.startswith("__"):
        raise AttributeError(f"module 'pysim' has no attribute {name!r}")
    else:
        try:
            value = importlib.import_module(f"pysim.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"pysim.{name}":  # the submodule exists; something it imports does not
                raise
            raise AttributeError(f"module 'pysim' has no attribute {name!r}") from None
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """pysim's module type. Loading a submodule binds it onto its package, which would turn
    ``pysim.sweep`` (the function, as ``from pysim.sweep import sweep`` bound it) into the
    ``pysim.sweep`` subpackage: the function is kept instead."""

    def __setattr__(self, name: str, value: object) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
