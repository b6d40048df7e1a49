"""Storage formats of sparse matrices and their footprint: value bytes and metadata bytes.

Formats (docs/sparsity.md gives each formula):

- ``dense``   every value, no metadata.
- ``bitmask`` the nonzero values + one bit per element.
- ``csr``     the nonzero values + a column index per value + rows + 1 row pointers.
- ``rle``     run-length (Eyeriss-style): entries of (zeros before, value), ``run_bits`` per run;
              a run longer than 2^run_bits - 1 costs a filler entry holding an explicit zero.
- ``nm``      N:M compressed: n values per group of m + ceil(log2 m) bits of position per kept
              value (2:4 -> 2 bits, NVIDIA's sparse tensor-core metadata).
- ``block``   the kept (rows x cols) blocks stored dense + one bit per block.

Bit counts are packed: each stream is rounded up to whole bytes once. From a real matrix or
mask the counts are exact; from a ``density`` they are expectations for uniformly placed
nonzeros (block: the fraction of blocks kept).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pysim.sparse.patterns import _as_2d, _check_nm_args, _density, _shape, check_nm

FORMATS = ("dense", "bitmask", "csr", "rle", "nm", "block")


@dataclass(frozen=True)
class Footprint:
    """Bytes of one matrix in one format: values and metadata (indices, masks, runs)."""

    format: str
    shape: tuple[int, int]
    nnz: int  # values stored (kept slots for nm, block elements for block, entries for rle)
    value_bytes: int
    metadata_bytes: int
    dense_bytes: int  # the same matrix stored dense, for comparison

    @property
    def total_bytes(self) -> int:
        return self.value_bytes + self.metadata_bytes

    @property
    def compression(self) -> float:
        """dense_bytes / total_bytes (> 1: the format saves space)."""
        return self.dense_bytes / self.total_bytes if self.total_bytes else math.inf


def _bytes(bits: int) -> int:
    return -(-int(bits) // 8)


def _bits_for(count: int) -> int:
    """Bits to hold values 0 .. count - 1 (at least 1)."""
    return max(1, math.ceil(math.log2(count))) if count > 1 else 1


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def footprint(
    x: object | None = None,
    format: str = "csr",
    *,
    shape: tuple[int, int] | None = None,
    density: float | None = None,
    value_bits: int = 16,
    index_bits: int | None = None,
    pointer_bits: int | None = None,
    run_bits: int = 4,
    n: int = 2,
    m: int = 4,
    block: tuple[int, int] = (4, 4),
) -> Footprint:
    """Value and metadata bytes of a matrix in ``format`` (one of ``FORMATS``).

    Give the matrix (or its mask) as ``x`` -- 1-D counts as one row -- or its ``shape`` and
    ``density`` (fraction of nonzeros). ``value_bits`` per stored value; ``index_bits`` per
    CSR column index (default: enough for the columns), ``pointer_bits`` per CSR row pointer
    (default: enough for rows x cols), ``run_bits`` per RLE run, ``n``:``m`` for nm, ``block``
    (rows, cols) for block.

    Raises ValueError for an unknown format, a matrix that is not n:m for ``nm``, a
    ``density`` outside [0, 1] or above n/m for ``nm``, or neither / both of ``x`` and
    ``shape``.
    """
    fmt = str(format).lower()
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {format!r}; known: {', '.join(FORMATS)}")
    vb = _positive_int("value_bits", value_bits)
    if (x is None) == (shape is None):
        raise ValueError("give either a matrix x or a shape (with density), not both/neither")
    if x is not None:
        if density is not None:
            raise ValueError("density is taken from x; do not pass both")
        arr = _as_2d(x)
        rows, cols = arr.shape
        if rows < 1 or cols < 1:
            raise ValueError(f"x must not be empty, got shape {arr.shape}")
        nz = arr != 0
        nnz = int(np.count_nonzero(nz))
    else:
        rows, cols = _shape(shape)
        d = _density(1.0 if density is None else density)
        nz = None
        nnz = round(d * rows * cols)
    size = rows * cols
    dense = _bytes(size * vb)

    def result(stored: int, meta_bits: int) -> Footprint:
        return Footprint(fmt, (rows, cols), stored, _bytes(stored * vb), _bytes(meta_bits), dense)

    if fmt == "dense":
        return result(size, 0)
    if fmt == "bitmask":
        return result(nnz, size)
    if fmt == "csr":
        ib = _bits_for(cols) if index_bits is None else _positive_int("index_bits", index_bits)
        pb = (
            _bits_for(size + 1)
            if pointer_bits is None
            else _positive_int("pointer_bits", pointer_bits)
        )
        return result(nnz, nnz * ib + (rows + 1) * pb)
    if fmt == "rle":
        rb = _positive_int("run_bits", run_bits)
        span = 2**rb  # a filler entry covers 2^run_bits - 1 zeros + its explicit zero
        if nz is not None:
            pos = np.flatnonzero(nz.ravel())
            gaps = np.diff(pos, prepend=-1) - 1  # zeros before each nonzero
            entries = nnz + int(np.sum(gaps // span))
        else:
            q = 1.0 - nnz / size
            fillers = nnz * (q**span / (1.0 - q**span)) if 0 < q < 1 else 0.0
            entries = nnz + round(fillers)
        return result(entries, entries * rb)
    if fmt == "nm":
        nn, mm = _check_nm_args(n, m)
        if cols % mm:
            raise ValueError(f"the last axis ({cols}) must be a multiple of m = {mm} for nm")
        if nz is not None:
            check_nm(nz, nn, mm)
        elif density is not None and density > nn / mm:
            raise ValueError(f"density {density} exceeds what {nn}:{mm} can hold ({nn / mm:g})")
        kept = rows * (cols // mm) * nn
        return result(kept, kept * _bits_for(mm))
    # block
    br, bc = _shape(block)
    grid = (math.ceil(rows / br), math.ceil(cols / bc))
    blocks = grid[0] * grid[1]
    if nz is not None:
        padded = np.zeros((grid[0] * br, grid[1] * bc), dtype=bool)
        padded[:rows, :cols] = nz
        kept_mask = padded.reshape(grid[0], br, grid[1], bc).any(axis=(1, 3))
        # Ragged edge blocks store only their in-matrix elements.
        heights = np.minimum(br, rows - br * np.arange(grid[0]))
        widths = np.minimum(bc, cols - bc * np.arange(grid[1]))
        stored = int(np.sum(np.outer(heights, widths)[kept_mask]))
    else:
        stored = min(round(d * blocks) * br * bc, size)  # d: fraction of blocks kept
    return result(stored, blocks)
