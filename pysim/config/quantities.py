"""Annotated field types shared by the hardware models: numbers that refuse booleans, sizes
in KiB that accept a unit suffix ("24 MiB"), and bandwidths in GB/s that accept one
("12.8 GB/s", "102400 MB/s").

Conversions (decimal prefixes are powers of 1000, binary ones powers of 1024):

- sizes -> KiB: ``B`` / 1024, ``KiB`` x 1, ``MiB`` x 1024, ``GiB`` x 1024**2. ``KB``/``MB`` are
  rejected on purpose: they are ambiguous for on-chip memories.
- bandwidth -> GB/s (1 GB/s = 1e9 bytes/s): ``B/s`` x 1e-9, ``kB/s``/``KB/s`` x 1e-6,
  ``MB/s`` x 1e-3, ``GB/s`` x 1, ``TB/s`` x 1e3, ``KiB/s`` x 1024/1e9, ``MiB/s`` x 1024**2/1e9,
  ``GiB/s`` x 1024**3/1e9, ``TiB/s`` x 1024**4/1e9. Bits per second (``Gb/s``) are rejected.
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Annotated, Any

from pydantic import AllowInfNan, BeforeValidator

SIZE_TO_KIB = {"B": 1 / 1024, "KiB": 1.0, "MiB": 1024.0, "GiB": 1024.0**2}

BANDWIDTH_TO_GB_PER_S = {
    "B/s": 1e-9,
    "kB/s": 1e-6,
    "KB/s": 1e-6,
    "MB/s": 1e-3,
    "GB/s": 1.0,
    "TB/s": 1e3,
    "KiB/s": 1024 / 1e9,
    "MiB/s": 1024**2 / 1e9,
    "GiB/s": 1024**3 / 1e9,
    "TiB/s": 1024**4 / 1e9,
}

_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z/]*)\s*$")


def _reject_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a number, not true/false")
    if isinstance(value, numbers.Integral) and not isinstance(value, int):
        return int(value)  # NumPy integers from sweeps
    if isinstance(value, numbers.Real) and not isinstance(value, (int, float)):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


def parse_quantity(value: Any, units: dict[str, float], what: str) -> Any:
    """A number, or a string "<number> <unit>" converted with ``units``; other input is
    returned unchanged for pydantic to judge. Raises ValueError for an unknown unit."""
    value = _reject_bool(value)
    if not isinstance(value, str):
        return value
    match = _QUANTITY.match(value)
    if match is None:
        raise ValueError(f"must be {what}: a number or '<number> <unit>' with a unit in "
                         f"{sorted(units)}")
    number, unit = float(match.group(1)), match.group(2)
    if not unit:
        return number
    if unit not in units:
        raise ValueError(f"has unknown unit {unit!r} for {what}; allowed units: "
                         f"{sorted(units)}")
    return number * units[unit]


def _size_kib(value: Any) -> Any:
    return parse_quantity(value, SIZE_TO_KIB, "a size")


def _bandwidth(value: Any) -> Any:
    return parse_quantity(value, BANDWIDTH_TO_GB_PER_S, "a bandwidth")


# Floats refuse NaN and infinities at load time (a NaN energy would print "nan mJ", an
# infinite size fail later inside C++).
Int = Annotated[int, BeforeValidator(_reject_bool)]
Float = Annotated[float, BeforeValidator(_reject_bool), AllowInfNan(False)]
SizeKiB = Annotated[float, BeforeValidator(_size_kib), AllowInfNan(False)]
BandwidthGBps = Annotated[float, BeforeValidator(_bandwidth), AllowInfNan(False)]


def lower(value: Any) -> Any:
    """Case-insensitive names: lower-case strings, leave anything else to pydantic."""
    return value.strip().lower() if isinstance(value, str) else value
