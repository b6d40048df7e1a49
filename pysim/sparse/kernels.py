"""Functional sparse kernels (C++): CSR x dense and N:M-compressed x dense.

Both equal the dense product: exactly for int8 (int32 accumulation), to rounding for floats.
Supported value dtypes: float32, float64 and int8; other floats are read as float64 and other
integers as int8 when they fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pysim import _core
from pysim.sparse.formats import Footprint, footprint
from pysim.sparse.patterns import _as_2d, _check_nm_args, apply_mask

_NATIVE = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int8))


def _native(x: object, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype in _NATIVE:
        return np.ascontiguousarray(arr)
    if arr.dtype.kind == "f":
        return np.ascontiguousarray(arr, dtype=np.float64)
    if arr.dtype.kind in "biu":
        if arr.size and (arr.min() < -128 or arr.max() > 127):
            raise ValueError(f"{name}: integer values must fit int8 (-128..127)")
        return np.ascontiguousarray(arr, dtype=np.int8)
    raise ValueError(f"{name} must be float32, float64 or int8 (or convertible), got {arr.dtype}")


def _operand(b: object, dtype: np.dtype, rows: int) -> np.ndarray:
    arr = _native(b, "b")
    if arr.ndim != 2:
        raise ValueError(f"b must be 2-D, got ndim={arr.ndim}")
    if arr.shape[0] != rows:
        raise ValueError(f"b must have {rows} rows (the sparse matrix's columns), got {arr.shape}")
    if (arr.dtype.kind == "i") != (dtype.kind == "i"):
        raise ValueError(f"b ({arr.dtype}) and the sparse values ({dtype}) must both be int8 "
                         "or both floating point")
    return np.ascontiguousarray(arr, dtype=dtype)


@dataclass(frozen=True)
class CsrMatrix:
    """Compressed sparse rows: ``indptr`` (rows + 1), column ``indices`` and ``values``."""

    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray
    shape: tuple[int, int]

    @property
    def nnz(self) -> int:
        return int(self.values.size)

    def to_dense(self) -> np.ndarray:
        out = np.zeros(self.shape, dtype=self.values.dtype)
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        out[rows, self.indices] = self.values
        return out

    def footprint(
        self, value_bits: int = 16, index_bits: int | None = None, pointer_bits: int | None = None
    ) -> Footprint:
        return footprint(self.to_dense(), "csr", value_bits=value_bits,
                         index_bits=index_bits, pointer_bits=pointer_bits)


@dataclass(frozen=True)
class NMCompressed:
    """N:M-compressed rows: ``values`` and ``index`` (position in its group of m), both
    rows x (cols / m x n); ``shape`` is the uncompressed (rows, cols)."""

    values: np.ndarray
    index: np.ndarray
    n: int
    m: int
    shape: tuple[int, int]

    def to_dense(self) -> np.ndarray:
        rows, cols = self.shape
        out = np.zeros(self.shape, dtype=self.values.dtype)
        group = np.arange(self.values.shape[1]) // self.n
        out[np.arange(rows)[:, None], group * self.m + self.index] = self.values
        return out

    @property
    def metadata_bits(self) -> int:
        return 1 if self.m <= 2 else int(np.ceil(np.log2(self.m)))

    def footprint(self, value_bits: int = 16) -> Footprint:
        return footprint(shape=self.shape, format="nm", density=self.n / self.m,
                         value_bits=value_bits, n=self.n, m=self.m)


def to_csr(x: object, mask: object | None = None) -> CsrMatrix:
    """CSR of the nonzeros of 2-D ``x`` (after ``mask``, if given: ValueError on a shape
    mismatch)."""
    arr = _native(x, "x")
    if arr.ndim != 2:
        raise ValueError(f"x must be 2-D, got ndim={arr.ndim}")
    if mask is not None:
        arr = np.ascontiguousarray(apply_mask(arr, mask))
    indptr, indices, values = _core.csr_from_dense(arr)
    return CsrMatrix(indptr, indices, values, (int(arr.shape[0]), int(arr.shape[1])))


def csr_matmul(a: CsrMatrix, b: object) -> np.ndarray:
    """A (CSR) x b (dense) -> dense; int8 accumulates in int32. ValueError on a malformed CSR
    or mismatched shapes."""
    values = _native(a.values, "values")
    rows, cols = a.shape
    bb = _operand(b, values.dtype, cols)
    return _core.csr_matmul(np.asarray(a.indptr, dtype=np.int64),
                            np.asarray(a.indices, dtype=np.int64), values, rows, cols, bb)


def compress_nm(x: object, n: int = 2, m: int = 4) -> NMCompressed:
    """Compress 2-D ``x`` to N:M along its last axis (groups of ``m``, ``n`` kept).

    Raises ValueError if a group holds more than ``n`` nonzeros (naming it) or the last axis
    is not a multiple of ``m``.
    """
    n, m = _check_nm_args(n, m)
    arr = _native(x, "x")
    if arr.ndim != 2:
        raise ValueError(f"x must be 2-D, got ndim={arr.ndim}")
    try:
        values, index = _core.nm_compress(arr, n, m)
    except ValueError as err:
        raise ValueError(f"not {n}:{m} sparse: {err}") from None
    return NMCompressed(values, index, n, m, (int(arr.shape[0]), int(arr.shape[1])))


def nm_matmul(a: NMCompressed, b: object) -> np.ndarray:
    """A (N:M-compressed) x b (dense) -> dense, reading only the kept values."""
    values = _native(a.values, "values")
    rows, cols = a.shape
    bb = _operand(b, values.dtype, cols)
    index = np.ascontiguousarray(_as_2d(a.index), dtype=np.uint8)
    return _core.nm_matmul(np.ascontiguousarray(_as_2d(values)), index, a.n, a.m, cols, bb)
