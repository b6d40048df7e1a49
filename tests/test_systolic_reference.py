"""Cycle-stepped systolic reference (`systolic_simulate_gemm` / `systolic_simulate_cycles`)
against the closed form (`systolic_cost`) and against NumPy.

The reference steps every PE register and counts cycles and SRAM accesses itself; every count
must equal the closed form for every dataflow x timing mode. Its output must equal NumPy:
  int8  x int8  -> int32, bit-exact vs a.astype(int32) @ b.astype(int32)
  int16 x int16 -> int64, bit-exact vs a.astype(int64) @ b.astype(int64)
  float32       -> float32 accumulation, compared with float64 NumPy within
                   |out - exact| <= (K + 1) * eps32 * (|A| @ |B|)   (eps32 = 2**-23)
  (the standard bound for a K-term dot product, K - 1 additions plus one rounding per product,
  with a factor-2 margin since eps32 = 2u; it holds for any summation order).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pysim
from pysim import _core

DATAFLOWS = ("os", "ws", "is")
TIMINGS = ("scalesim", "pipelined")
MODES = [(d, t) for d in DATAFLOWS for t in TIMINGS]
COUNT_FIELDS = ("cycles", "macs", "ifmap_reads", "filter_reads", "ofmap_writes", "ofmap_reads")
MAPPING_FIELDS = ("folds", "row_folds", "col_folds")


def spec(rows: int, cols: int, dataflow: str, timing: str) -> _core.SystolicSpec:
    return _core.SystolicSpec(rows, cols, dataflow, timing)


def operands(
    m: int, n: int, k: int, dtype: type, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Random operands over the full range of integer dtypes, N(0, 1) for float32."""
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        a = rng.integers(info.min, info.max, size=(m, k), endpoint=True, dtype=dtype)
        b = rng.integers(info.min, info.max, size=(k, n), endpoint=True, dtype=dtype)
        return a, b
    return (rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype))


def check_counts(s: _core.SystolicSpec, m: int, n: int, k: int, got: _core.SystolicCost) -> None:
    """Every counted field equals the closed form."""
    want = _core.systolic_cost(s, _core.GemmShape(m, n, k))
    for field in COUNT_FIELDS + MAPPING_FIELDS:
        assert getattr(got, field) == getattr(want, field), (field, s, (m, n, k))
    assert got.mapping_efficiency == want.mapping_efficiency
    assert got.utilization == pytest.approx(want.utilization, rel=1e-12)


def run_and_check(
    rows: int, cols: int, dataflow: str, timing: str, m: int, n: int, k: int,
    dtype: type = np.int8, seed: int = 0,
) -> _core.SystolicCost:
    """Run the reference with data; check counts vs the closed form and output vs NumPy."""
    s = spec(rows, cols, dataflow, timing)
    a, b = operands(m, n, k, dtype, seed)
    out, got, pe_updates = _core.systolic_simulate_gemm(s, a, b)
    check_counts(s, m, n, k, got)
    assert pe_updates == got.cycles * rows * cols
    assert out.shape == (m, n)
    if dtype == np.int8:
        assert out.dtype == np.int32
        np.testing.assert_array_equal(out, a.astype(np.int32) @ b.astype(np.int32))
    elif dtype == np.int16:
        assert out.dtype == np.int64
        np.testing.assert_array_equal(out, a.astype(np.int64) @ b.astype(np.int64))
    else:
        assert out.dtype == np.float32
        assert_float_close(out, a, b)
    return got


def assert_float_close(out: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    k = a.shape[1]
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    exact = a64 @ b64
    bound = (k + 1) * np.finfo(np.float32).eps * (np.abs(a64) @ np.abs(b64))
    err = np.abs(out.astype(np.float64) - exact)
    assert np.all(err <= bound), f"max excess {np.max(err - bound)}"


# Array dims 1..8 (rows != cols most of the time), GEMM dims 1..24: shapes smaller than the
# array, equal to it, and up to 24 folds per dimension, partial last folds included.
array_dim = st.integers(1, 8)
gemm_dim = st.integers(1, 24)
seed_st = st.integers(0, 2**32 - 1)


# --- hypothesis: every count equals the closed form, output equals NumPy ----------------------


@pytest.mark.parametrize(("dataflow", "timing"), MODES)
@settings(derandomize=True, max_examples=150, deadline=None)
@given(rows=array_dim, cols=array_dim, m=gemm_dim, n=gemm_dim, k=gemm_dim, seed=seed_st)
def test_reference_matches_closed_form_int8(
    dataflow: str, timing: str, rows: int, cols: int, m: int, n: int, k: int, seed: int
) -> None:
    run_and_check(rows, cols, dataflow, timing, m, n, k, np.int8, seed)


@pytest.mark.parametrize(("dataflow", "timing"), MODES)
@settings(derandomize=True, max_examples=40, deadline=None)
@given(rows=array_dim, cols=array_dim, m=gemm_dim, n=gemm_dim, k=gemm_dim, seed=seed_st)
def test_reference_int16_bit_exact(
    dataflow: str, timing: str, rows: int, cols: int, m: int, n: int, k: int, seed: int
) -> None:
    run_and_check(rows, cols, dataflow, timing, m, n, k, np.int16, seed)


@pytest.mark.parametrize(("dataflow", "timing"), MODES)
@settings(derandomize=True, max_examples=40, deadline=None)
@given(rows=array_dim, cols=array_dim, m=gemm_dim, n=gemm_dim, k=st.integers(1, 200),
       seed=seed_st)
def test_reference_float32_within_bound(
    dataflow: str, timing: str, rows: int, cols: int, m: int, n: int, k: int, seed: int
) -> None:
    run_and_check(rows, cols, dataflow, timing, m, n, k, np.float32, seed)


@pytest.mark.parametrize(("dataflow", "timing"), MODES)
@settings(derandomize=True, max_examples=40, deadline=None)
@given(rows=st.integers(1, 16), cols=st.integers(1, 16), m=st.integers(1, 48),
       n=st.integers(1, 48), k=st.integers(1, 48))
def test_timing_only_run_matches_closed_form(
    dataflow: str, timing: str, rows: int, cols: int, m: int, n: int, k: int
) -> None:
    s = spec(rows, cols, dataflow, timing)
    check_counts(s, m, n, k, _core.systolic_simulate_cycles(s, _core.GemmShape(m, n, k)))


@pytest.mark.parametrize("dataflow", ["ws", "is"])
def test_many_folds_in_linear_time(dataflow: str) -> None:
    # 87,382 pipelined folds: the load bus once walked every fold with a start cycle, every
    # cycle (quadratic: a fuzz run's 1M-deep K never finished); it stops at the first fold
    # still to load, and this runs in a fraction of a second
    s = spec(3, 9, dataflow, "pipelined")
    check_counts(s, 1, 10, 262144, _core.systolic_simulate_cycles(s, _core.GemmShape(1, 10,
                                                                                      262144)))


# --- named rules ------------------------------------------------------------------------------


@pytest.mark.parametrize("timing", TIMINGS)
def test_ws_fold_cycles_match_reference(timing: str) -> None:
    # WS 64^3 on 32x32: 4 folds of 2*32 + 32 + 64 - 2 = 158 -> 632 (SCALE-Sim: 631);
    # pipelined 32 + 3 * 64 + 126 = 350.
    got = run_and_check(32, 32, "ws", timing, 64, 64, 64)
    assert got.cycles == {"scalesim": 632, "pipelined": 350}[timing]


@pytest.mark.parametrize("timing", TIMINGS)
def test_os_fold_cycles_match_reference(timing: str) -> None:
    # OS 64^3 on 32x32: 4 folds of 64 + 62 = 126 -> 504 (SCALE-Sim: 503);
    # pipelined 3 * 64 + 126 = 318.
    got = run_and_check(32, 32, "os", timing, 64, 64, 64)
    assert got.cycles == {"scalesim": 504, "pipelined": 318}[timing]


@pytest.mark.parametrize("timing", TIMINGS)
def test_is_fold_cycles_match_reference(timing: str) -> None:
    # IS 33x65x17 on 32x32: Sr = 17, Sc = 33, T = 65 -> 2 folds of 64 + 32 + 65 - 2 = 159
    # -> 318 (SCALE-Sim: 317); pipelined 32 + 1 * max(65, 32) + (65 + 32 + 32 - 2) = 224.
    got = run_and_check(32, 32, "is", timing, 33, 65, 17)
    assert got.cycles == {"scalesim": 318, "pipelined": 224}[timing]


@pytest.mark.parametrize("timing", TIMINGS)
def test_os_partial_fold_cycles(timing: str) -> None:
    # OS M=10, N=7, K=5 on 4x3: 3 x 3 folds, the last row fold holds 2 of 4 rows, the last
    # column fold 1 of 3 columns. A partial fold takes as long as a full one:
    # scalesim 9 * (5 + 4 + 3 - 2) = 90; pipelined 8 * max(5, 4) + 10 = 50.
    got = run_and_check(4, 3, "os", timing, 10, 7, 5)
    assert got.cycles == {"scalesim": 90, "pipelined": 50}[timing]
    assert (got.row_folds, got.col_folds) == (3, 3)


@pytest.mark.parametrize("dataflow", ["ws", "is"])
@pytest.mark.parametrize("timing", TIMINGS)
def test_stationary_partial_k_fold_accumulates(dataflow: str, timing: str) -> None:
    # K = 9 on 4 rows: 3 K folds (4, 4, 1); partial sums written 3x and read back 2x per output.
    got = run_and_check(4, 5, dataflow, timing, 6, 7, 9)
    assert got.row_folds == 3
    assert got.ofmap_writes == 3 * 6 * 7
    assert got.ofmap_reads == 2 * 6 * 7


@pytest.mark.parametrize(("dataflow", "timing"), MODES)
def test_pipelined_interval_when_stream_shorter_than_array(dataflow: str, timing: str) -> None:
    # T = 2 < R = 8: the issue interval is max(T, R) = R (the output ports / the load bus).
    m, n, k = {"os": (20, 20, 2), "ws": (2, 20, 20), "is": (20, 2, 20)}[dataflow]
    run_and_check(8, 6, dataflow, timing, m, n, k)


@pytest.mark.parametrize(("dataflow", "timing"), MODES)
@pytest.mark.parametrize(("m", "n", "k"), [(1, 13, 9), (13, 1, 9), (13, 9, 1), (1, 1, 1),
                                           (1, 1, 17), (17, 1, 1), (1, 17, 1)])
def test_degenerate_dims(dataflow: str, timing: str, m: int, n: int, k: int) -> None:
    # M = 1, N = 1, K = 1 and their combinations, on a non-square array with partial folds.
    run_and_check(3, 5, dataflow, timing, m, n, k)


@pytest.mark.parametrize(("dataflow", "timing"), MODES)
@pytest.mark.parametrize(("rows", "cols"), [(1, 1), (1, 8), (8, 1), (3, 7), (7, 3), (16, 2)])
def test_non_square_arrays(dataflow: str, timing: str, rows: int, cols: int) -> None:
    run_and_check(rows, cols, dataflow, timing, 11, 10, 9)


@pytest.mark.parametrize(("dataflow", "timing"), MODES)
def test_shape_smaller_than_array(dataflow: str, timing: str) -> None:
    # Everything fits in one fold of a 16x12 array.
    got = run_and_check(16, 12, dataflow, timing, 3, 2, 5)
    assert got.folds == 1
    assert got.mapping_efficiency < 0.1


@pytest.mark.parametrize(("dataflow", "timing"), MODES)
def test_shape_larger_than_array(dataflow: str, timing: str) -> None:
    # Several full folds plus a partial one in every dimension of a 5x4 array.
    got = run_and_check(5, 4, dataflow, timing, 23, 19, 17)
    assert got.folds > 1


def test_single_fold_timings_agree_in_reference() -> None:
    for dataflow in DATAFLOWS:
        a = run_and_check(8, 8, dataflow, "scalesim", 8, 8, 8)
        b = run_and_check(8, 8, dataflow, "pipelined", 8, 8, 8)
        assert a.folds == 1 and a.cycles == b.cycles


@pytest.mark.parametrize(("dataflow", "expected"), [("os", 503), ("ws", 631), ("is", 631)])
def test_reference_matches_scalesim_fixture(dataflow: str, expected: int) -> None:
    # tests/data/scalesim/cases/gemm_32x32_*/COMPUTE_REPORT.csv, layer 0: SCALE-Sim's Total
    # Cycles are pysim cycles - 1.
    s = spec(32, 32, dataflow, "scalesim")
    assert _core.systolic_simulate_cycles(s, _core.GemmShape(64, 64, 64)).cycles - 1 == expected


# --- numerics ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_int8_accumulates_in_int32(dataflow: str) -> None:
    # 300 * (-128)^2 = 4_915_200: far past int16, exact in int32.
    a = np.full((3, 300), -128, np.int8)
    b = np.full((300, 2), -128, np.int8)
    out, _, _ = _core.systolic_simulate_gemm(spec(4, 4, dataflow, "pipelined"), a, b)
    np.testing.assert_array_equal(out, np.full((3, 2), 300 * 128 * 128, np.int32))


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_int16_accumulates_in_int64(dataflow: str) -> None:
    # 8 * (-32768)^2 = 2^33: overflows int32, exact in int64.
    a = np.full((2, 8), -32768, np.int16)
    b = np.full((8, 3), -32768, np.int16)
    out, _, _ = _core.systolic_simulate_gemm(spec(3, 2, dataflow, "scalesim"), a, b)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, np.full((2, 3), 2**33, np.int64))


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_float32_small_integers_exact(dataflow: str) -> None:
    # Integer-valued float32 with partial sums below 2^24 are exact in any order.
    rng = np.random.default_rng(7)
    a = rng.integers(-8, 9, (9, 40)).astype(np.float32)
    b = rng.integers(-8, 9, (40, 6)).astype(np.float32)
    out, _, _ = _core.systolic_simulate_gemm(spec(4, 4, dataflow, "pipelined"), a, b)
    np.testing.assert_array_equal(out, a @ b)


def test_non_contiguous_operands() -> None:
    # Fortran-ordered and strided views are read by value, not by memory layout.
    rng = np.random.default_rng(3)
    a = np.asfortranarray(rng.integers(-128, 128, (7, 5), dtype=np.int8))
    b_base = rng.integers(-128, 128, (5, 12), dtype=np.int8)
    b = b_base[:, ::2]
    for dataflow in DATAFLOWS:
        out, _, _ = _core.systolic_simulate_gemm(spec(3, 4, dataflow, "scalesim"), a, b)
        np.testing.assert_array_equal(out, a.astype(np.int32) @ b.astype(np.int32))


def test_reference_is_deterministic() -> None:
    a, b = operands(9, 7, 11, np.float32, 5)
    s = spec(4, 3, "ws", "pipelined")
    out1, c1, p1 = _core.systolic_simulate_gemm(s, a, b)
    out2, c2, p2 = _core.systolic_simulate_gemm(s, a, b)
    np.testing.assert_array_equal(out1, out2)
    assert c1.to_dict() == c2.to_dict() and p1 == p2


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_systolic_array_simulate_wrapper(dataflow: str) -> None:
    arr = pysim.SystolicArray(4, 6, dataflow, "pipelined")
    a, b = operands(10, 8, 7, np.int8, 11)
    out, got, pe_updates = arr.simulate(a, b)
    np.testing.assert_array_equal(out, a.astype(np.int32) @ b.astype(np.int32))
    assert got.to_dict() == arr.simulate_cycles(10, 8, 7).to_dict()
    assert pe_updates == got.cycles * arr.pes
    check_counts(arr.spec, 10, 8, 7, got)
