"""Sparse formats, patterns and kernels.

Kernels (C++) against NumPy's dense product: int8 -> int32 bit-exact; float64 within
K * 2^-52 * (|A| @ |B|); float32 within K * 2^-23 * (|A| @ |B|) (different summation orders,
one rounding per addition). Footprints against hand counts and the formulas of docs/sparsity.md.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pysim import sparse


def matrix(shape: tuple[int, int], density: float, dtype: type, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.integer):
        x = rng.integers(-128, 128, shape).astype(dtype)
    else:
        x = rng.standard_normal(shape).astype(dtype)
    return np.where(sparse.random_mask(shape, density, seed), x, 0).astype(dtype)


def assert_product(out: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    if a.dtype == np.int8:
        assert out.dtype == np.int32
        assert np.array_equal(out, a.astype(np.int32) @ b.astype(np.int32))
        return
    eps = 2.0**-52 if a.dtype == np.float64 else 2.0**-23
    exact = a.astype(np.float64) @ b.astype(np.float64)
    bound = max(a.shape[1], 1) * eps * (np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64)))
    assert out.dtype == a.dtype
    assert np.all(np.abs(out - exact) <= bound)


DTYPES = [np.float32, np.float64, np.int8]


@settings(max_examples=40, deadline=None)
@given(
    dtype=st.sampled_from(DTYPES),
    rows=st.integers(1, 40),
    cols=st.integers(1, 60),
    n=st.integers(1, 20),
    density=st.floats(0, 1),
    seed=st.integers(0, 2**16),
)
def test_csr_matmul_equals_dense(
    dtype: type, rows: int, cols: int, n: int, density: float, seed: int
) -> None:
    a = matrix((rows, cols), density, dtype, seed)
    b = matrix((cols, n), 1.0, dtype, seed + 1)
    csr = sparse.to_csr(a)
    assert csr.nnz == np.count_nonzero(a)
    assert np.array_equal(csr.to_dense(), a)
    assert_product(sparse.csr_matmul(csr, b), a, b)


@settings(max_examples=40, deadline=None)
@given(
    dtype=st.sampled_from(DTYPES),
    nm=st.sampled_from([(2, 4), (1, 2), (1, 4), (4, 8), (2, 8), (3, 4)]),
    rows=st.integers(1, 30),
    groups=st.integers(1, 12),
    n_cols=st.integers(1, 20),
    seed=st.integers(0, 2**16),
)
def test_nm_matmul_equals_dense(
    dtype: type, nm: tuple[int, int], rows: int, groups: int, n_cols: int, seed: int
) -> None:
    n, m = nm
    dense = matrix((rows, groups * m), 1.0, dtype, seed)
    a = sparse.prune_nm(dense, n, m)
    sparse.check_nm(a, n, m)
    b = matrix((groups * m, n_cols), 1.0, dtype, seed + 1)
    c = sparse.compress_nm(a, n, m)
    assert c.values.shape == c.index.shape == (rows, groups * n)
    assert np.array_equal(c.to_dense(), a)
    assert_product(sparse.nm_matmul(c, b), a, b)


def test_nm_compress_layout_is_nvidia_2_4() -> None:
    x = np.array([[0, 5, 0, 7, 1, 0, 0, 0, 0, 0, 0, 0]], dtype=np.float32)
    c = sparse.compress_nm(x, 2, 4)
    assert c.values.tolist() == [[5, 7, 1, 0, 0, 0]]
    # Kept positions increase within a group; a group with fewer nonzeros is padded with the
    # lowest unused positions.
    assert c.index.tolist() == [[1, 3, 0, 1, 0, 1]]
    assert c.metadata_bits == 2


def test_prune_nm_keeps_largest_magnitudes() -> None:
    x = np.array([[1.0, -4.0, 3.0, 2.0, 0.5, 0.1, -0.2, 0.3]])
    assert sparse.prune_nm(x, 2, 4).tolist() == [[0, -4.0, 3.0, 0, 0.5, 0, 0, 0.3]]
    assert sparse.nm_mask(x, 1, 2).sum() == 4


def test_masks_are_exact_and_deterministic() -> None:
    m1 = sparse.random_mask((100, 50), 0.3, seed=7)
    assert m1.sum() == 1500
    assert np.array_equal(m1, sparse.random_mask((100, 50), 0.3, seed=7))
    assert not np.array_equal(m1, sparse.random_mask((100, 50), 0.3, seed=8))
    b = sparse.block_mask((10, 10), (4, 4), 0.5, seed=1)
    assert b.shape == (10, 10)
    blocks = np.zeros((3, 3), dtype=bool)
    for i in range(3):
        for j in range(3):
            blk = b[4 * i : 4 * i + 4, 4 * j : 4 * j + 4]
            assert blk.all() or not blk.any()
            blocks[i, j] = blk.any()
    assert blocks.sum() == round(0.5 * 9)
    assert sparse.density_of(m1) == pytest.approx(0.3)


# --- footprints ------------------------------------------------------------------------------

X = np.array(
    [
        [0, 0, 3, 0, 0, 0, 0, 0],
        [1, 0, 0, 0, 0, 0, 0, 2],
        [0, 0, 0, 0, 0, 0, 0, 0],
        [0, 4, 0, 0, 5, 0, 0, 0],
    ]
)


def test_footprint_dense_bitmask_csr_by_hand() -> None:
    assert sparse.footprint(X, "dense", value_bits=8).total_bytes == 32
    bm = sparse.footprint(X, "bitmask", value_bits=8)
    assert (bm.nnz, bm.value_bytes, bm.metadata_bytes) == (5, 5, 4)
    csr = sparse.footprint(X, "csr", value_bits=8)
    # 5 column indices x 3 bits (8 columns) + 5 row pointers x 6 bits (0..32) = 45 bits
    assert (csr.value_bytes, csr.metadata_bytes) == (5, 6)
    csr32 = sparse.footprint(X, "csr", value_bits=16, index_bits=32, pointer_bits=32)
    assert (csr32.value_bytes, csr32.metadata_bytes) == (10, 5 * 4 + 5 * 4)
    assert sparse.to_csr(X.astype(np.int8)).footprint(8).metadata_bytes == 6


def test_footprint_rle_by_hand() -> None:
    # Flattened: 2 zeros, 3 | 5 zeros, 1 | 6 zeros, 2 | 8 + 1 zeros, 4 | 2 zeros, 5.
    # run_bits=2 (runs <= 3, a filler covers 4 positions): fillers 0, 1, 1, 2, 0 -> 9 entries.
    f = sparse.footprint(X, "rle", value_bits=8, run_bits=2)
    assert (f.nnz, f.value_bytes, f.metadata_bytes) == (9, 9, math.ceil(9 * 2 / 8))
    f4 = sparse.footprint(X, "rle", value_bits=8, run_bits=4)
    assert f4.nnz == 5


def test_footprint_rle_expectation_matches_random_matrices() -> None:
    shape, d, rb = (400, 400), 0.05, 3
    expected = sparse.footprint(shape=shape, density=d, format="rle", run_bits=rb)
    counted = [
        sparse.footprint(sparse.random_mask(shape, d, seed), "rle", run_bits=rb).nnz
        for seed in range(5)
    ]
    assert np.mean(counted) == pytest.approx(expected.nnz, rel=0.03)


def test_footprint_nm_and_block() -> None:
    w = sparse.prune_nm(np.random.default_rng(0).standard_normal((64, 128)), 2, 4)
    f = sparse.footprint(w, "nm", value_bits=16)
    assert (f.nnz, f.value_bytes, f.metadata_bytes) == (64 * 64, 64 * 64 * 2, 64 * 64 * 2 // 8)
    assert f.compression == pytest.approx(64 * 128 * 2 / (64 * 64 * 2.25))
    assert sparse.footprint(shape=(64, 128), density=0.5, format="nm").total_bytes == f.total_bytes
    blk = sparse.footprint(X, "block", value_bits=8, block=(2, 4))
    # Blocks (2 x 4): [0:2, 0:4] has 3 and 1, [0:2, 4:8] has 2, [2:4, 0:4] has 4, [2:4, 4:8] 5.
    assert (blk.nnz, blk.metadata_bytes) == (32, 1)
    ragged = sparse.footprint(X, "block", value_bits=8, block=(3, 3))
    # 2 x 3 block grid; kept: (0,0) 3x3, (0,2) 3x2, (1,0) 1x3, (1,1) 1x3 -> 9 + 6 + 3 + 3
    assert ragged.nnz == 21


def test_footprint_from_density() -> None:
    f = sparse.footprint(shape=(1000, 1000), density=0.1, format="bitmask", value_bits=8)
    assert (f.nnz, f.value_bytes, f.metadata_bytes) == (100_000, 100_000, 125_000)
    assert sparse.footprint(shape=(10, 10), format="dense").dense_bytes == 200
    blk = sparse.footprint(shape=(64, 64), density=0.25, format="block", block=(8, 8))
    assert blk.nnz == 16 * 64
