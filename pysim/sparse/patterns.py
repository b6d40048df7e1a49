"""Sparsity patterns: unstructured masks, N:M (2:4 ...) and block masks, and their checks.

A mask is a boolean array of the matrix's shape, True where a value is kept. N:M groups run
along the last axis (the reduction dimension K of a weight matrix stored K-last). Everything
here is deterministic: random masks take a ``seed``.
"""

from __future__ import annotations

import math

import numpy as np

from pysim.units._args import is_int


def _as_2d(x: object, name: str = "x") -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 1-D or 2-D, got ndim={arr.ndim}")
    return arr


def _shape(shape: object) -> tuple[int, int]:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (1, int(shape))
    if (
        not isinstance(shape, (tuple, list))
        or len(shape) != 2
        or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in shape)
    ):
        raise ValueError(f"shape must be (rows, cols) integers, got {shape!r}")
    rows, cols = (int(v) for v in shape)
    if rows < 1 or cols < 1:
        raise ValueError(f"shape must be positive, got {(rows, cols)}")
    return rows, cols


def _density(density: object) -> float:
    if isinstance(density, bool) or not isinstance(density, (int, float, np.floating)):
        raise ValueError(f"density must be a number in [0, 1], got {density!r}")
    d = float(density)
    if not 0.0 <= d <= 1.0:
        raise ValueError(f"density must be in [0, 1], got {density!r}")
    return d


def _check_nm_args(n: object, m: object) -> tuple[int, int]:
    if not is_int(n):
        raise ValueError(f"n must be an integer, got {n!r}")
    if not is_int(m):
        raise ValueError(f"m must be an integer, got {m!r}")
    if not 1 <= m <= 255:
        raise ValueError(f"m must be in 1..255, got {m}")
    if not 1 <= n <= m:
        raise ValueError(f"n must be in 1..m ({m}), got {n}")
    return int(n), int(m)


def check_mask(mask: object, shape: tuple[int, ...]) -> np.ndarray:
    """``mask`` as a boolean array; raises ValueError unless its shape is ``shape``."""
    arr = np.asarray(mask)
    if arr.shape != tuple(shape):
        raise ValueError(f"mask shape {arr.shape} does not match the matrix shape {tuple(shape)}")
    zero_one = arr.dtype.kind == "f" and bool(np.all((arr == 0) | (arr == 1)))
    if arr.dtype.kind not in "biu" and not zero_one:
        raise ValueError(f"mask must be boolean (or 0/1), got dtype {arr.dtype}")
    return arr.astype(bool)


def apply_mask(x: object, mask: object) -> np.ndarray:
    """``x`` with the values where ``mask`` is False set to zero (mask shape checked)."""
    arr = np.asarray(x)
    return np.where(check_mask(mask, arr.shape), arr, np.zeros((), dtype=arr.dtype))


def density_of(x: object) -> float:
    """Fraction of nonzero values."""
    arr = np.asarray(x)
    return float(np.count_nonzero(arr)) / arr.size if arr.size else 0.0


def random_mask(shape: object, density: float, seed: int = 0) -> np.ndarray:
    """Unstructured mask with exactly round(density x size) kept positions, uniformly placed."""
    rows, cols = _shape(shape)
    d = _density(density)
    size = rows * cols
    keep = round(d * size)
    flat = np.zeros(size, dtype=bool)
    flat[np.random.default_rng(seed).choice(size, size=keep, replace=False)] = True
    return flat.reshape(rows, cols)


def block_mask(shape: object, block: tuple[int, int], density: float, seed: int = 0) -> np.ndarray:
    """Block-sparse mask: the matrix cut into ``block`` = (rows, cols) blocks (edge blocks
    ragged), round(density x blocks) of them kept at random."""
    rows, cols = _shape(shape)
    br, bc = _shape(block)
    grid = random_mask((math.ceil(rows / br), math.ceil(cols / bc)), density, seed)
    return np.repeat(np.repeat(grid, br, axis=0), bc, axis=1)[:rows, :cols]


def nm_mask(x: object, n: int = 2, m: int = 4) -> np.ndarray:
    """N:M mask of ``x``: in every group of ``m`` consecutive values along the last axis keep
    the ``n`` of largest magnitude (ties: the lower position). The last axis must be a
    multiple of m."""
    n, m = _check_nm_args(n, m)
    arr = _as_2d(x)
    rows, cols = arr.shape
    if cols % m:
        raise ValueError(f"the last axis ({cols}) must be a multiple of m = {m}")
    groups = np.abs(arr.astype(np.float64)).reshape(rows, cols // m, m)
    order = np.argsort(-groups, axis=-1, kind="stable")[..., :n]
    mask = np.zeros_like(groups, dtype=bool)
    np.put_along_axis(mask, order, True, axis=-1)
    return mask.reshape(np.asarray(x).shape)


def prune_nm(x: object, n: int = 2, m: int = 4) -> np.ndarray:
    """``x`` pruned to N:M by magnitude (see ``nm_mask``)."""
    arr = np.asarray(x)
    return np.where(nm_mask(arr, n, m), arr, np.zeros((), dtype=arr.dtype))


def check_nm(x: object, n: int = 2, m: int = 4) -> None:
    """Raise ValueError unless every group of ``m`` along the last axis holds at most ``n``
    nonzeros; the message names the first offending row and columns."""
    n, m = _check_nm_args(n, m)
    arr = _as_2d(x)
    rows, cols = arr.shape
    if cols % m:
        raise ValueError(f"the last axis ({cols}) must be a multiple of m = {m} for {n}:{m}")
    counts = np.count_nonzero(arr.reshape(rows, cols // m, m), axis=-1)
    bad = np.argwhere(counts > n)
    if bad.size:
        r, g = (int(v) for v in bad[0])
        raise ValueError(
            f"not {n}:{m} sparse: row {r}, columns {g * m}..{g * m + m - 1} hold "
            f"{int(counts[r, g])} nonzeros (at most {n} allowed); {len(bad)} group(s) violate it"
        )
