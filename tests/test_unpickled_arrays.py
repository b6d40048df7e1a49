"""Arrays that went through pickle (multiprocessing, Dask workers, joblib caches) carry dtype
objects equal to, but not the same object as, NumPy's canonical ones. Every entry point that
checks a dtype in C++ must accept them and give the same result as for the original arrays.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable

import numpy as np
import pytest

import pysim
from pysim import kernels, sparse


def roundtrip(x: np.ndarray) -> np.ndarray:
    y = pickle.loads(pickle.dumps(x))
    assert y.dtype == x.dtype and y.dtype is not np.dtype(x.dtype.str)  # the case under test
    return y


RNG = np.random.default_rng(11)
PM1_A = RNG.choice(np.array([-1, 1], np.int8), (5, 70))
PM1_B = RNG.choice(np.array([-1, 1], np.int8), (70, 3))
I8_A = RNG.integers(-8, 8, (4, 6), dtype=np.int8)
I8_B = RNG.integers(-8, 8, (6, 5), dtype=np.int8)
I16_B = RNG.integers(-300, 300, (6, 5), dtype=np.int16)
F32_A = RNG.standard_normal((4, 6)).astype(np.float32)
F32_B = RNG.standard_normal((6, 5)).astype(np.float32)
SPARSE = (RNG.standard_normal((4, 8)) * np.tile([1, 0, 0, 1], (4, 2))).astype(np.float32)  # 2:4
DENSE_8 = RNG.standard_normal((8, 3)).astype(np.float32)


def _first(result: object) -> object:
    return result[0] if isinstance(result, tuple) else result


def _as_array(result: object) -> np.ndarray:
    if isinstance(result, sparse.CsrMatrix):
        return np.concatenate([result.indptr, result.indices, result.values.astype(np.float64)])
    return np.asarray(_first(result))


CASES: dict[str, tuple[Callable[..., object], tuple[np.ndarray, ...]]] = {
    "xnor_gemm": (kernels.xnor_gemm, (PM1_A, PM1_B)),
    "pack_pm1": (kernels.pack_pm1, (PM1_A,)),
    "xnor_gemm_packed": (lambda a, b: kernels.xnor_gemm_packed(a, b, 70),
                         (kernels.pack_pm1(PM1_A), kernels.pack_pm1(PM1_B.T))),
    "gemm int8": (kernels.gemm, (I8_A, I8_B)),
    "gemm int8 x int16": (kernels.gemm, (I8_A, I16_B)),
    "bitserial_gemm": (lambda a, b: kernels.bitserial_gemm(a, b, 4, 4), (I8_A, I8_B)),
    "SystolicArray.simulate int8": (pysim.SystolicArray(4, 4, "ws").simulate, (I8_A, I8_B)),
    "SystolicArray.simulate float32": (pysim.SystolicArray(4, 4, "os").simulate, (F32_A, F32_B)),
    "XnorArray.simulate": (pysim.XnorArray(2, 16).simulate, (PM1_A, PM1_B)),
    "BitSerialArray.simulate": (
        lambda a, b: pysim.BitSerialArray(2, 2, 8).simulate(a, b, 4, 4), (I8_A, I8_B)),
    "sparse.to_csr": (sparse.to_csr, (SPARSE,)),
    "sparse.compress_nm": (lambda x: sparse.compress_nm(x).values, (SPARSE,)),
    "sparse.csr_matmul": (lambda b: sparse.csr_matmul(sparse.to_csr(SPARSE), b), (DENSE_8,)),
    "sparse.nm_matmul": (lambda b: sparse.nm_matmul(sparse.compress_nm(SPARSE), b), (DENSE_8,)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_unpickled_operands_are_accepted(name: str) -> None:
    fn, args = CASES[name]
    want = _as_array(fn(*args))
    got = _as_array(fn(*(roundtrip(x) for x in args)))
    np.testing.assert_array_equal(got, want)
