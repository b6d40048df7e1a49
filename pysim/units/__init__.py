"""Hardware units: thin Python faces over the C++ models in ``pysim._core``."""

from pysim.units.bit_serial import BitSerialArray
from pysim.units.row_stationary import RowStationaryArray
from pysim.units.systolic_array import SystolicArray
from pysim.units.xnor import XnorArray

__all__ = ["BitSerialArray", "RowStationaryArray", "SystolicArray", "XnorArray"]
