"""pysim: a hardware-software co-design simulator for deep-learning accelerators."""

from pysim import _core
from pysim.errors import ConfigError, WorkloadError
from pysim.units.systolic_array import SystolicArray

__version__ = "0.1.0"

__all__ = ["ConfigError", "SystolicArray", "WorkloadError", "_core", "__version__"]
