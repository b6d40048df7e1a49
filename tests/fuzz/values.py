"""Hostile values for the fuzzer: integers, floats, strings, arrays (dtypes, shapes, strides,
alignment), each drawn from a ``random.Random`` so that a seed replays the same call."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np

INT_EDGES = [0, 1, -1, 2, 3, 7, 8, 63, 64, 65, 255, 256, 4095, 4096, 4097, 2**15, 2**16,
             2**20, 2**24, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**40, 2**53 + 1, 2**62,
             2**63 - 1, -(2**31), -(2**63)]
# Values a binding cannot take as an integer (TypeError, or ValueError where Python checks).
NOT_INTS: list[Any] = [2**63, 2**64, -(2**63) - 1, 10**20, 1.5, float("nan"), float("inf"),
                       "3", None, [1], b"\x01"]
FLOAT_EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, 1e-300, 5e-324, 1e300, 1.7976931348623157e308,
               float("inf"), float("-inf"), float("nan"), 2.0**63, -1e9, 3.0]
NOT_FLOATS: list[Any] = ["1.0", None, [1.0], 1j]


class WrongType:
    """Marks a call whose arguments include a value of the wrong Python type on purpose, so a
    pybind11 ``TypeError`` ("incompatible function arguments") is the expected clean answer."""


def hint(rng: random.Random, low: int = 1, high: int = 64, wrong: list[bool] | None = None,
         p_hostile: float = 0.25) -> Any:
    """Mostly a small int in [low, high]; sometimes an edge value; rarely not an int at all
    (then wrong[0] is set)."""
    r = rng.random()
    if r < 1 - p_hostile:
        return rng.randint(low, high)
    if r < 1 - p_hostile * 0.3:
        return rng.choice(INT_EDGES)
    if r < 1 - p_hostile * 0.1:
        k = rng.randint(0, 45)
        return (1 << k) + rng.choice([-1, 0, 1])
    if wrong is None:
        return rng.choice(INT_EDGES)
    wrong[0] = True
    return rng.choice(NOT_INTS)


def hfloat(rng: random.Random, low: float = 0.0, high: float = 100.0,
           wrong: list[bool] | None = None, p_hostile: float = 0.25) -> Any:
    r = rng.random()
    if r < 1 - p_hostile:
        return rng.uniform(low, high)
    if r < 1 - p_hostile * 0.1 or wrong is None:
        return rng.choice(FLOAT_EDGES)
    wrong[0] = True
    return rng.choice(NOT_FLOATS)


def hstr(rng: random.Random, good: list[str], p_hostile: float = 0.15) -> str:
    if rng.random() >= p_hostile:
        return rng.choice(good)
    return rng.choice(["", " ", "OS", good[0] + "\x00", "x" * 300, "\u00e9", "none", "-1",
                       good[0].upper(), good[0] + " "])


def hbool(rng: random.Random) -> bool:
    return rng.random() < 0.5


BAD_DTYPES = [np.float64, np.float16, np.int64, np.int32, np.uint8, np.uint64, np.bool_,
              np.complex64, np.int16, np.int8, np.float32]


def _fill(rng: random.Random, shape: tuple[int, ...], dtype: Any, values: str) -> np.ndarray:
    g = np.random.default_rng(rng.getrandbits(32))
    dt = np.dtype(dtype)
    if values == "pm1":
        out = g.choice(np.array([-1, 1]), size=shape)
    elif values == "bits":
        out = g.integers(0, 2, size=shape)
    elif values == "sparse":
        out = g.integers(-3, 4, size=shape) * (g.random(shape) < 0.4)
    elif dt.kind == "f":
        out = g.standard_normal(shape)
        if rng.random() < 0.1 and out.size:
            out.flat[rng.randrange(out.size)] = rng.choice([np.nan, np.inf, -np.inf, 1e38])
    elif dt.kind == "c":
        out = g.standard_normal(shape) + 1j
    elif dt.kind == "b":
        out = g.integers(0, 2, size=shape)
    else:
        info = np.iinfo(dt)
        if rng.random() < 0.2:  # the extremes of the type
            out = g.choice(np.array([info.min, info.max, 0, -1 if info.min < 0 else 1],
                                    dtype=np.int64 if info.kind == "i" else np.uint64),
                           size=shape)
        else:
            out = g.integers(max(info.min, -100), min(info.max, 100) + 1, size=shape)
    with np.errstate(over="ignore"):  # 1e38 in a float16 array is inf, as intended
        return np.asarray(out).astype(dt)


def harray(rng: random.Random, dtype: Any, shape: tuple[int, ...], values: str = "any",
           p_hostile: float = 0.2) -> np.ndarray:
    """An array of ``shape`` and ``dtype``; with probability p_hostile something odd: another
    dtype, a dimension more or fewer, a zero-size axis, a transposed or strided view, a
    misaligned buffer, read-only memory."""
    if rng.random() < p_hostile:
        what = rng.choice(["dtype", "ndim", "zero", "strided", "misaligned", "readonly",
                           "fortran", "big"])
        if what == "dtype":
            dtype = rng.choice(BAD_DTYPES)
        elif what == "ndim":
            shape = shape[:-1] if len(shape) > 1 and rng.random() < 0.5 else shape + (1,)
        elif what == "zero" and shape:
            i = rng.randrange(len(shape))
            shape = shape[:i] + (0,) + shape[i + 1:]
        elif what == "big" and shape:
            i = rng.randrange(len(shape))
            big = shape[:i] + (rng.choice([257, 1000, 4097]),) + shape[i + 1:]
            # at most 2^24 elements: a larger hostile array costs the fuzzer, not the kernel,
            # its time (seed 11 call 942656 spent 50 s filling 2 GiB, then got a clean error)
            if math.prod(big) <= 1 << 24:
                shape = big
        a = _fill(rng, shape, dtype, values)
        if what == "strided" and a.ndim >= 1:
            big = np.repeat(a, 2, axis=-1)
            return big[..., ::2]
        if what == "fortran":
            return np.asfortranarray(a)
        if what == "misaligned" and a.dtype.itemsize > 1:
            raw = np.zeros(a.nbytes + 1, np.uint8)
            view = raw[1:].view(a.dtype).reshape(a.shape)
            view[...] = a
            return view
        if what == "readonly":
            a.setflags(write=False)
        return a
    return _fill(rng, shape, dtype, values)


def describe(value: Any) -> str:
    """A short, reproducible description of an argument (arrays by dtype, shape, flags)."""
    if isinstance(value, np.ndarray):
        flags = []
        if not value.flags.c_contiguous:
            flags.append("non-contiguous")
        if value.ctypes.data % max(value.dtype.alignment, 1):
            flags.append("misaligned")
        if not value.flags.writeable:
            flags.append("read-only")
        extra = f", {', '.join(flags)}" if flags else ""
        return f"array({value.dtype}, shape={value.shape}{extra})"
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return f"float({str(value)!r})"
    text = repr(value)
    if " object at 0x" in text:  # a spec without a repr: its fields
        fields = {n: getattr(value, n) for n in dir(value)
                  if not n.startswith("_") and not callable(getattr(value, n))}
        return f"{type(value).__name__}({', '.join(f'{k}={v!r}' for k, v in fields.items())})"
    return text if len(text) <= 200 else text[:197] + "..."
