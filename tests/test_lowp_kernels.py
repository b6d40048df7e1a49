"""Low-precision kernels (`pysim.kernels`) against NumPy, bit for bit:
  xnor_gemm(a, b)       == a.astype(int32) @ b.astype(int32) for +-1 int8 (any K, K=1, empty)
  xnor_gemm_packed      == the same from pack_pm1(a), pack_pm1(b.T)
  bitserial_gemm        == a.astype(int64) @ b.astype(int64) for integers within the widths
  gemm(a, b)            == a.astype(int32) @ b.astype(int32) for int8 / int16 (wrapping alike)
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pysim import kernels

DIMS = st.integers(0, 40)
KS = st.one_of(st.integers(0, 3), st.sampled_from([63, 64, 65, 127, 128, 129]),
               st.integers(1, 400))


def pm1(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.choice(np.array([-1, 1], dtype=np.int8), size=shape)


@settings(max_examples=200, deadline=None)
@given(m=DIMS, n=DIMS, k=KS, threads=st.sampled_from([0, 1, 3]), seed=st.integers(0, 2**32 - 1))
def test_xnor_gemm_equals_numpy(m: int, n: int, k: int, threads: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a, b = pm1(rng, (m, k)), pm1(rng, (k, n))
    ref = a.astype(np.int32) @ b.astype(np.int32)
    out = kernels.xnor_gemm(a, b, threads=threads)
    assert out.dtype == np.int32 and out.shape == (m, n)
    np.testing.assert_array_equal(out, ref)
    packed = kernels.xnor_gemm_packed(kernels.pack_pm1(a), kernels.pack_pm1(b.T), k,
                                      threads=threads)
    np.testing.assert_array_equal(packed, ref)


def test_xnor_gemm_large_threaded_equals_single_thread() -> None:
    rng = np.random.default_rng(7)
    a, b = pm1(rng, (300, 1000)), pm1(rng, (1000, 257))
    ref = a.astype(np.int32) @ b.astype(np.int32)
    for threads in (0, 1, 2, 5):
        np.testing.assert_array_equal(kernels.xnor_gemm(a, b, threads=threads), ref)


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 70), n=st.integers(64, 200), k=st.integers(64, 300),
       threads=st.sampled_from([1, 2]), seed=st.integers(0, 2**32 - 1))
def test_xnor_gemm_with_full_tiles_equals_numpy(m: int, n: int, k: int, threads: int,
                                                seed: int) -> None:
    """Shapes with whole 64 x 64 tiles of b, which the vectorised bit transposes pack."""
    rng = np.random.default_rng(seed)
    a, b = pm1(rng, (m, k)), pm1(rng, (k, n))
    ref = a.astype(np.int32) @ b.astype(np.int32)
    np.testing.assert_array_equal(kernels.xnor_gemm(a, b, threads=threads), ref)
    np.testing.assert_array_equal(kernels.pack_pm1(b.T), kernels.pack_pm1(b.T.copy()))


def test_xnor_gemm_from_many_python_threads_at_once() -> None:
    """The GIL is released: concurrent calls share (or bypass) the worker pool safely."""
    rng = np.random.default_rng(3)
    cases = [(pm1(rng, (200, 300)), pm1(rng, (300, 150))) for _ in range(6)]
    refs = [a.astype(np.int32) @ b.astype(np.int32) for a, b in cases]
    with ThreadPoolExecutor(max_workers=4) as pool:
        outs = list(pool.map(lambda ab: [kernels.xnor_gemm(*ab, threads=2) for _ in range(5)],
                             cases))
    for out, ref in zip(outs, refs, strict=True):
        for o in out:
            np.testing.assert_array_equal(o, ref)


def _xnor_in_child(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return kernels.xnor_gemm(a, b, threads=2)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(),
                    reason="the platform has no fork()")
def test_xnor_gemm_after_fork_uses_a_fresh_pool() -> None:
    """A forked child does not inherit the parent's worker threads; its calls must not hang."""
    rng = np.random.default_rng(4)
    a, b = pm1(rng, (256, 256)), pm1(rng, (256, 256))
    ref = kernels.xnor_gemm(a, b, threads=2)  # the parent's pool now exists
    with multiprocessing.get_context("fork").Pool(1) as pool:
        out = pool.apply_async(_xnor_in_child, (a, b)).get(timeout=60)
    np.testing.assert_array_equal(out, ref)


FALLBACK_SCRIPT = """
import numpy as np
from pysim import kernels
rng = np.random.default_rng(5)
for m, k, n in [(70, 200, 130), (64, 64, 64), (3, 1000, 257), (5, 65, 1)]:
    a = rng.choice(np.array([-1, 1], np.int8), (m, k))
    b = rng.choice(np.array([-1, 1], np.int8), (k, n))
    ref = a.astype(np.int32) @ b.astype(np.int32)
    for threads in (1, 2):
        assert np.array_equal(kernels.xnor_gemm(a, b, threads=threads), ref), (m, k, n)
    packed = kernels.xnor_gemm_packed(kernels.pack_pm1(a), kernels.pack_pm1(b.T), k)
    assert np.array_equal(packed, ref), (m, k, n)
b = np.ones((130, 192), np.int8)
b[127, 100] = 3
try:
    kernels.xnor_gemm(np.ones((4, 130), np.int8), b)
except ValueError as err:
    assert "b[127, 100] = 3 is not -1 or +1" in str(err), err
else:
    raise AssertionError("no error")
print(kernels.isa())
"""


@pytest.mark.parametrize("disabled, isa", [
    ("gfni", "avx512-vpopcntdq"),       # AVX-512 shift/mask bit transpose
    ("avx512", "popcnt"),               # POPCNT kernel, AVX2 masks
    ("avx512,avx2", "popcnt"),          # POPCNT kernel, portable masks
    ("avx512 popcnt", "portable"),      # portable kernel
])
def test_fallback_paths_of_a_cpu_without_a_feature(disabled: str, isa: str,
                                                  tmp_path: Path) -> None:
    """PYSIM_DISABLE_CPU_FEATURES makes the extension take the paths a CPU lacking those
    features takes (run in a fresh interpreter: the features are read once)."""
    if ISAS.index(kernels.isa()) > ISAS.index(isa):
        pytest.skip(f"this CPU has no {isa} kernel to fall back to")  # not an extension issue
    env = {**os.environ, "PYSIM_DISABLE_CPU_FEATURES": disabled}
    done = subprocess.run([sys.executable, "-c", FALLBACK_SCRIPT], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == isa


def test_xnor_gemm_k1_and_all_equal_signs() -> None:
    a = np.ones((3, 1), np.int8)
    b = -np.ones((1, 4), np.int8)
    np.testing.assert_array_equal(kernels.xnor_gemm(a, b), -np.ones((3, 4), np.int32))
    a = np.ones((2, 200), np.int8)
    np.testing.assert_array_equal(kernels.xnor_gemm(a, a.T.copy()), np.full((2, 2), 200))


@settings(max_examples=100, deadline=None)
@given(rows=st.integers(0, 70), k=KS, seed=st.integers(0, 1000))
def test_pack_pm1_layout(rows: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = pm1(rng, (rows, k))
    words = kernels.pack_pm1(x)
    assert words.dtype == np.uint64 and words.shape == (rows, -(-k // 64))
    bits = np.unpackbits(words.view(np.uint8), axis=1, bitorder="little")[:, :k] if rows else None
    if rows and k:
        np.testing.assert_array_equal(bits, (x == 1).astype(np.uint8))
    # Padding bits past k are zero.
    for r in range(rows):
        for w in range(words.shape[1]):
            used = min(64, k - 64 * w)
            assert used == 64 or int(words[r, w]) >> used == 0
    # Strided and transposed views pack to the same words as their contiguous copies.
    for view in (x[::2], x[:, ::-1], x.T, np.asfortranarray(x)):
        np.testing.assert_array_equal(kernels.pack_pm1(view),
                                      kernels.pack_pm1(np.ascontiguousarray(view)))


def within(rng: np.random.Generator, shape: tuple[int, int], bits: int, signed: bool,
           dtype: type) -> np.ndarray:
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    x = rng.integers(lo, hi, size=shape, endpoint=True, dtype=np.int64)
    if x.size >= 2:
        x.flat[0], x.flat[-1] = lo, hi
    return x.astype(dtype)


def dtype_for(bits: int, signed: bool, rng: np.random.Generator) -> type:
    options = [np.int64, np.uint64] if not signed else [np.int64]
    for t in (np.int8, np.int16, np.int32, np.uint8, np.uint16, np.uint32):
        info = np.iinfo(t)
        lo = -(2 ** (bits - 1)) if signed else 0
        hi = 2 ** (bits - 1) - 1 if signed else 2**bits - 1
        if info.min <= lo and hi <= info.max:
            options.append(t)
    return options[int(rng.integers(len(options)))]


@settings(max_examples=200, deadline=None)
@given(m=DIMS, n=DIMS, k=KS, a_bits=st.integers(1, 32), b_bits=st.integers(1, 32),
       a_signed=st.booleans(), b_signed=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_bitserial_gemm_equals_numpy(
    m: int, n: int, k: int, a_bits: int, b_bits: int, a_signed: bool, b_signed: bool, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    a = within(rng, (m, k), a_bits, a_signed, dtype_for(a_bits, a_signed, rng))
    b = within(rng, (k, n), b_bits, b_signed, dtype_for(b_bits, b_signed, rng))
    out = kernels.bitserial_gemm(a, b, a_bits, b_bits, signed=(a_signed, b_signed))
    assert out.dtype == np.int64 and out.shape == (m, n)
    np.testing.assert_array_equal(out, a.astype(np.int64) @ b.astype(np.int64))


def test_bitserial_gemm_one_flag_for_both() -> None:
    a = np.array([[-8, 7], [3, -1]])
    b = np.array([[7, -8], [-8, 0]])
    np.testing.assert_array_equal(kernels.bitserial_gemm(a, b, 4, 4), a @ b)
    np.testing.assert_array_equal(kernels.bitserial_gemm(a + 8, b + 8, 4, 4, signed=False),
                                  (a + 8) @ (b + 8))


@settings(max_examples=150, deadline=None)
@given(m=DIMS, n=DIMS, k=st.integers(0, 300), ta=st.sampled_from([np.int8, np.int16]),
       tb=st.sampled_from([np.int8, np.int16]), seed=st.integers(0, 2**32 - 1))
def test_gemm_equals_numpy(m: int, n: int, k: int, ta: type, tb: type, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(np.iinfo(ta).min, np.iinfo(ta).max, (m, k), endpoint=True).astype(ta)
    b = rng.integers(np.iinfo(tb).min, np.iinfo(tb).max, (k, n), endpoint=True).astype(tb)
    out = kernels.gemm(a, b)
    assert out.dtype == np.int32 and out.shape == (m, n)
    np.testing.assert_array_equal(out, a.astype(np.int32) @ b.astype(np.int32))


def test_gemm_wraps_like_numpy_on_int32_overflow() -> None:
    # 3 * (-32768)^2 = 3 * 2^30 overflows int32; NumPy's int32 matmul wraps, and so must we.
    a = np.full((5, 3), -32768, np.int16)
    b = np.full((3, 1030), -32768, np.int16)
    np.testing.assert_array_equal(kernels.gemm(a, b), a.astype(np.int32) @ b.astype(np.int32))


def test_gemm_larger_blocked_shape() -> None:
    rng = np.random.default_rng(5)
    a = rng.integers(-128, 127, (67, 600), endpoint=True).astype(np.int8)
    b = rng.integers(-128, 127, (600, 1100), endpoint=True).astype(np.int8)
    np.testing.assert_array_equal(kernels.gemm(a, b), a.astype(np.int32) @ b.astype(np.int32))


@pytest.mark.parametrize(("m", "k", "n"), [(0, 5, 3), (4, 0, 3), (4, 5, 0), (0, 0, 0)])
def test_empty_shapes(m: int, k: int, n: int) -> None:
    a8, b8 = np.ones((m, k), np.int8), np.ones((k, n), np.int8)
    for out in (kernels.xnor_gemm(a8, b8), kernels.gemm(a8, b8),
                kernels.bitserial_gemm(a8, b8, 2, 2)):
        assert out.shape == (m, n)
        assert not out.any()


ISAS = ("avx512-vpopcntdq", "popcnt", "portable")


def test_isa_is_reported() -> None:
    assert kernels.isa() in ISAS


def runnable_isas() -> list[str]:
    return list(ISAS[ISAS.index(kernels.isa()):])


@settings(max_examples=60, deadline=None)
@given(m=DIMS, n=DIMS, k=KS, seed=st.integers(0, 2**32 - 1))
def test_every_popcount_kernel_this_cpu_runs_equals_numpy(
    m: int, n: int, k: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    a, b = pm1(rng, (m, k)), pm1(rng, (k, n))
    ref = a.astype(np.int32) @ b.astype(np.int32)
    pa, pb = kernels.pack_pm1(a), kernels.pack_pm1(b.T)
    for isa in runnable_isas():
        np.testing.assert_array_equal(kernels.xnor_gemm(a, b, isa=isa), ref)
        np.testing.assert_array_equal(kernels.xnor_gemm_packed(pa, pb, k, isa=isa), ref)


def test_kernels_a_cpu_lacks_are_refused() -> None:
    for isa in ISAS[:ISAS.index(kernels.isa())]:
        with pytest.raises(ValueError, match=f"isa '{isa}' is not supported by this CPU"):
            kernels.xnor_gemm(np.ones((1, 1), np.int8), np.ones((1, 1), np.int8), isa=isa)
