"""Argument checks shared by the low-precision unit faces and kernels (ValueError messages that
quote the argument and the value; ConfigError for unit fields)."""

from __future__ import annotations

from typing import TypeGuard

import numpy as np

from pysim.errors import ConfigError

MAX_BITS = 32


def is_int(value: object) -> TypeGuard[int | np.integer]:
    """An integer, Python's or NumPy's, not a bool."""
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, np.integer))


def check_field(field: str, value: object, lo: int, hi: int) -> int:
    """A unit's integer field in lo..hi, else ConfigError naming it."""
    if not is_int(value):
        raise ConfigError(f"{field} must be an integer in {lo}..{hi}, got {value!r}")
    if not lo <= value <= hi:
        raise ConfigError(f"{field} must be in {lo}..{hi}, got {value}")
    return int(value)


def check_bits(name: str, value: object) -> int:
    """A bit width in 1..32, else ValueError naming it."""
    if type(value) is int and 1 <= value <= MAX_BITS:  # the common case, fast
        return value
    if not is_int(value):
        raise ValueError(f"{name} must be an integer in 1..{MAX_BITS}, got {value!r}")
    if not 1 <= value <= MAX_BITS:
        raise ValueError(f"{name} must be in 1..{MAX_BITS}, got {value}")
    return int(value)


def signed_pair(signed: object) -> tuple[bool, bool]:
    """`signed` as (a_signed, b_signed): one bool for both operands, or a pair."""
    if isinstance(signed, (bool, np.bool_)):
        return bool(signed), bool(signed)
    if (
        isinstance(signed, tuple)
        and len(signed) == 2
        and all(isinstance(s, (bool, np.bool_)) for s in signed)
    ):
        return bool(signed[0]), bool(signed[1])
    raise ValueError(f"signed must be a bool or a pair of bools (a, b), got {signed!r}")


def as_array(x: object, name: str) -> np.ndarray:
    """x as an ndarray (no copy for arrays); objects NumPy cannot read raise ValueError."""
    if isinstance(x, np.ndarray):
        return x
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be an array, got {type(x).__name__}: {err}") from None
