"""Quantities printed for people: engineering units chosen per value, 4 significant digits.

``seconds(2.1e-6)`` -> "2.100 us", ``joules(5.9e-7)`` -> "590.0 nJ", ``nbytes(6136)`` ->
"5.992 KiB" (binary prefixes for bytes, as memories are sized).
"""

from __future__ import annotations

import math

_TIME = ((1.0, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns"), (1e-12, "ps"))
_ENERGY = ((1.0, "J"), (1e-3, "mJ"), (1e-6, "uJ"), (1e-9, "nJ"), (1e-12, "pJ"))
_BYTES = ((1024.0**4, "TiB"), (1024.0**3, "GiB"), (1024.0**2, "MiB"), (1024.0, "KiB"),
          (1.0, "B"))


def _digits(value: float) -> str:
    return f"{value:#.4g}".rstrip(".")


def _scaled(value: float, scales: tuple[tuple[float, str], ...]) -> str:
    if value == 0 or not math.isfinite(value):
        return f"{value:g} {scales[-1][1] if scales is _BYTES else scales[0][1]}"
    for scale, unit in scales:
        if abs(value) >= scale:
            return f"{_digits(value / scale)} {unit}" if unit != "B" else f"{value:,.0f} B"
    scale, unit = scales[-1]
    return f"{_digits(value / scale)} {unit}"


def seconds(value: float) -> str:
    return _scaled(value, _TIME)


def joules(value: float) -> str:
    return _scaled(value, _ENERGY)


def nbytes(value: float) -> str:
    return _scaled(value, _BYTES)
