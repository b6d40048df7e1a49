"""Closed-form systolic array cost (`_core.systolic_cost`): formulas, hand-derived numbers,
SCALE-Sim 3.0.0 cross-checks and properties.

Notation (docs/systolic_timing.md): an R x C array runs C[M, N] = A[M, K] x B[K, N] with
  OS: Sr = M, Sc = N, T = K      WS: Sr = K, Sc = N, T = M      IS: Sr = K, Sc = M, T = N
in F = ceil(Sr / R) * ceil(Sc / C) folds.
  scalesim : OS F * (T + R + C - 2)            WS/IS F * (2R + C + T - 2)
  pipelined: OS (F - 1) * max(T, R) + T + R + C - 2
             WS/IS R + (F - 1) * max(T, R) + T + R + C - 2
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pysim
from pysim import _core

DATAFLOWS = ("os", "ws", "is")
TIMINGS = ("scalesim", "pipelined")
SCALESIM_CASES = Path(__file__).parent / "data" / "scalesim" / "cases"


def cost(
    rows: int, cols: int, dataflow: str, timing: str, m: int, n: int, k: int
) -> _core.SystolicCost:
    return _core.systolic_cost(
        _core.SystolicSpec(rows, cols, dataflow, timing), _core.GemmShape(m, n, k)
    )


def mapping(dataflow: str, m: int, n: int, k: int) -> tuple[int, int, int]:
    """(Sr, Sc, T) of a dataflow."""
    return {"os": (m, n, k), "ws": (k, n, m), "is": (k, m, n)}[dataflow]


def oracle_cycles(rows: int, cols: int, dataflow: str, timing: str, m: int, n: int, k: int) -> int:
    """The documented formulas, written out independently of the C++."""
    sr, sc, t = mapping(dataflow, m, n, k)
    folds = math.ceil(sr / rows) * math.ceil(sc / cols)
    if timing == "scalesim":
        per_fold = t + rows + cols - 2 if dataflow == "os" else 2 * rows + cols + t - 2
        return folds * per_fold
    preload = 0 if dataflow == "os" else rows
    return preload + (folds - 1) * max(t, rows) + t + rows + cols - 2


# Hypothesis strategies: array dims up to 64 (non-square allowed), GEMM dims up to 300, so that
# shapes smaller than, equal to and several folds larger than the array all occur.
array_dim = st.integers(1, 64)
gemm_dim = st.integers(1, 300)
dataflow_st = st.sampled_from(DATAFLOWS)
timing_st = st.sampled_from(TIMINGS)
PROPERTY = settings(derandomize=True, max_examples=300, deadline=None)


# --- hand-derived numbers -------------------------------------------------------------------

# (rows, cols, dataflow, timing, M, N, K, cycles, folds), each derived in the comment above it.
HAND_DERIVED = [
    # OS 64^3 on 32x32: F = ceil(64/32) * ceil(64/32) = 4; fold = 64 + 32 + 32 - 2 = 126;
    # 4 * 126 = 504 (SCALE-Sim reports 503 = 504 - 1).
    (32, 32, "os", "scalesim", 64, 64, 64, 504, 4),
    # WS 64^3 on 32x32: Sr = K = 64, Sc = N = 64, T = M = 64; F = 4;
    # fold = 2*32 + 32 + 64 - 2 = 158; 4 * 158 = 632 (SCALE-Sim 631).
    (32, 32, "ws", "scalesim", 64, 64, 64, 632, 4),
    # IS 64^3: Sr = K, Sc = M, T = N, all 64: same as WS, 632 (SCALE-Sim 631).
    (32, 32, "is", "scalesim", 64, 64, 64, 632, 4),
    # OS M=1, N=100, K=300 on 32x32: F = 1 * ceil(100/32) = 4; fold = 300 + 62 = 362;
    # 4 * 362 = 1448 (SCALE-Sim 1447).
    (32, 32, "os", "scalesim", 1, 100, 300, 1448, 4),
    # WS M=100, N=37, K=1 on 32x32: Sr = 1, Sc = 37, T = 100; F = 1 * 2 = 2;
    # fold = 64 + 32 + 100 - 2 = 194; 2 * 194 = 388 (SCALE-Sim 387).
    (32, 32, "ws", "scalesim", 100, 37, 1, 388, 2),
    # IS M=33, N=65, K=17 on 32x32: Sr = 17, Sc = 33, T = 65; F = 1 * 2 = 2;
    # fold = 64 + 32 + 65 - 2 = 159; 2 * 159 = 318 (SCALE-Sim 317).
    (32, 32, "is", "scalesim", 33, 65, 17, 318, 2),
    # Non-square OS M=10, N=7, K=5 on 4x3: F = ceil(10/4) * ceil(7/3) = 3 * 3 = 9;
    # fold = 5 + 4 + 3 - 2 = 10; 9 * 10 = 90.
    (4, 3, "os", "scalesim", 10, 7, 5, 90, 9),
    # Same, pipelined: (9 - 1) * max(5, 4) + 10 = 50.
    (4, 3, "os", "pipelined", 10, 7, 5, 50, 9),
    # WS 64^3 on 32x32 pipelined: 32 + (4 - 1) * max(64, 32) + (64 + 62) = 32 + 192 + 126 = 350.
    (32, 32, "ws", "pipelined", 64, 64, 64, 350, 4),
    # OS with T < R: M = N = 16, K = 2 on 8x8: F = 4; scalesim 4 * (2 + 14) = 64;
    # pipelined (4 - 1) * max(2, 8) + 16 = 40 (the output ports, not K, set the interval).
    (8, 8, "os", "scalesim", 16, 16, 2, 64, 4),
    (8, 8, "os", "pipelined", 16, 16, 2, 40, 4),
    # IS M=20, N=3, K=1 on 4x8: Sr = 1, Sc = 20, T = 3; F = 1 * ceil(20/8) = 3;
    # scalesim 3 * (8 + 8 + 3 - 2) = 51; pipelined 4 + 2 * max(3, 4) + (3 + 4 + 8 - 2) = 25.
    (4, 8, "is", "scalesim", 20, 3, 1, 51, 3),
    (4, 8, "is", "pipelined", 20, 3, 1, 25, 3),
    # Single PE, single MAC: OS 1 + 1 + 1 - 2 = 1 cycle; WS 2 + 1 + 1 - 2 = 2 (load, then MAC).
    (1, 1, "os", "scalesim", 1, 1, 1, 1, 1),
    (1, 1, "ws", "pipelined", 1, 1, 1, 2, 1),
]


@pytest.mark.parametrize(
    ("rows", "cols", "dataflow", "timing", "m", "n", "k", "cycles", "folds"), HAND_DERIVED
)
def test_hand_derived_cycles(
    rows: int, cols: int, dataflow: str, timing: str, m: int, n: int, k: int, cycles: int,
    folds: int,
) -> None:
    c = cost(rows, cols, dataflow, timing, m, n, k)
    assert c.cycles == cycles
    assert c.folds == folds
    assert c.macs == m * n * k


def test_os_per_fold_formula() -> None:
    # One full fold of OS on 16x8 with K = 40: 40 + 16 + 8 - 2 = 62; three row folds x two
    # column folds (M = 48, N = 16) -> 6 * 62 = 372.
    assert cost(16, 8, "os", "scalesim", 16, 8, 40).cycles == 62
    assert cost(16, 8, "os", "scalesim", 48, 16, 40).cycles == 6 * 62


@pytest.mark.parametrize("dataflow", ["ws", "is"])
def test_stationary_per_fold_formula(dataflow: str) -> None:
    # One fold of WS/IS on 16x8 with T = 40: 2*16 + 8 + 40 - 2 = 78. Sr = K = 16 and
    # Sc = 8 (N for WS, M for IS), T = 40 (M for WS, N for IS).
    m, n = (40, 8) if dataflow == "ws" else (8, 40)
    assert cost(16, 8, dataflow, "scalesim", m, n, 16).cycles == 78
    # K = 33 -> ceil(33/16) = 3 row folds, each 78 cycles.
    assert cost(16, 8, dataflow, "scalesim", m, n, 33).cycles == 3 * 78


def test_sram_counts_hand_derived() -> None:
    # M=10, N=7, K=5 on 4x3. MK = 50, KN = 35, MN = 70.
    # OS: row folds ceil(10/4) = 3, column folds ceil(7/3) = 3:
    #   ifmap 3 * 50 = 150, filter 3 * 35 = 105, ofmap writes 70, reads 0.
    os_ = cost(4, 3, "os", "scalesim", 10, 7, 5)
    assert (os_.ifmap_reads, os_.filter_reads, os_.ofmap_writes, os_.ofmap_reads) == (
        150, 105, 70, 0,
    )
    # WS: row folds ceil(5/4) = 2, column folds ceil(7/3) = 3:
    #   ifmap 3 * 50 = 150, filter 35, ofmap writes 2 * 70 = 140, reads 1 * 70 = 70.
    ws = cost(4, 3, "ws", "scalesim", 10, 7, 5)
    assert (ws.ifmap_reads, ws.filter_reads, ws.ofmap_writes, ws.ofmap_reads) == (
        150, 35, 140, 70,
    )
    # IS: row folds ceil(5/4) = 2, column folds ceil(10/3) = 4:
    #   ifmap 50, filter 4 * 35 = 140, ofmap writes 140, reads 70.
    is_ = cost(4, 3, "is", "scalesim", 10, 7, 5)
    assert (is_.ifmap_reads, is_.filter_reads, is_.ofmap_writes, is_.ofmap_reads) == (
        50, 140, 140, 70,
    )


def test_mapping_efficiency_hand_derived() -> None:
    # OS M=10, N=7 on 4x3: 9 folds of 12 PEs hold 70 outputs -> 70 / 108.
    assert cost(4, 3, "os", "scalesim", 10, 7, 5).mapping_efficiency == pytest.approx(70 / 108)
    # Full folds: 64x64 on 32x32 -> 1.0.
    assert cost(32, 32, "os", "scalesim", 64, 64, 64).mapping_efficiency == 1.0
    # IS 1x100x300 on 32x32: Sr = 300, Sc = 1 -> 10 x 1 folds -> 300 / (10 * 1024).
    assert cost(32, 32, "is", "scalesim", 1, 100, 300).mapping_efficiency == pytest.approx(
        300 / 10240
    )


def test_utilization_hand_derived() -> None:
    # OS 64^3 on 32x32: 262144 MACs / (504 cycles * 1024 PEs) = 0.5079... (SCALE-Sim's
    # Compute Util is 50.79365079365079 %, i.e. 64/126).
    c = cost(32, 32, "os", "scalesim", 64, 64, 64)
    assert c.utilization == pytest.approx(262144 / (504 * 1024))
    assert c.utilization * 100 == pytest.approx(50.79365079365079)


# --- SCALE-Sim 3.0.0 fixture ------------------------------------------------------------------


def read_report(case: str, name: str) -> list[dict[str, str]]:
    path = SCALESIM_CASES / case / name
    with path.open(newline="") as f:
        rows = [[cell.strip() for cell in row] for row in csv.reader(f)]
    header = rows[0]
    return [dict(zip(header, row, strict=True)) for row in rows[1:] if any(row)]


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_matches_scalesim_gemm_32x32(dataflow: str) -> None:
    """pysim cycles - 1 == SCALE-Sim 'Total Cycles'; SRAM ifmap/filter reads and mapping
    efficiency equal for every layer of the gemm_32x32 fixture."""
    case = f"gemm_32x32_{dataflow}"
    topology = read_report(case, "topology.csv")
    compute = read_report(case, "COMPUTE_REPORT.csv")
    access = read_report(case, "DETAILED_ACCESS_REPORT.csv")
    assert len(topology) == len(compute) == len(access) == 6
    for layer, comp, acc in zip(topology, compute, access, strict=True):
        m, n, k = int(layer["M"]), int(layer["N"]), int(layer["K"])
        c = cost(32, 32, dataflow, "scalesim", m, n, k)
        assert c.cycles - 1 == int(comp["Total Cycles"]), layer
        assert c.ifmap_reads == int(acc["SRAM IFMAP Reads"]), layer
        assert c.filter_reads == int(acc["SRAM Filter Reads"]), layer
        assert c.mapping_efficiency * 100 == pytest.approx(
            float(comp["Mapping Efficiency %"]), rel=1e-12
        ), layer


def test_scalesim_fixture_spot_numbers() -> None:
    # Pinned from tests/data/scalesim/cases/gemm_32x32_*/COMPUTE_REPORT.csv, layer 0 (64^3).
    assert cost(32, 32, "os", "scalesim", 64, 64, 64).cycles - 1 == 503
    assert cost(32, 32, "ws", "scalesim", 64, 64, 64).cycles - 1 == 631
    assert cost(32, 32, "is", "scalesim", 64, 64, 64).cycles - 1 == 631
    # Layer 1 (256 x 128 x 256): OS 10175, WS 11199, IS 14207.
    assert cost(32, 32, "os", "scalesim", 256, 128, 256).cycles - 1 == 10175
    assert cost(32, 32, "ws", "scalesim", 256, 128, 256).cycles - 1 == 11199
    assert cost(32, 32, "is", "scalesim", 256, 128, 256).cycles - 1 == 14207


# --- properties -------------------------------------------------------------------------------


@PROPERTY
@given(array_dim, array_dim, dataflow_st, timing_st, gemm_dim, gemm_dim, gemm_dim)
def test_cycles_match_documented_formula(
    rows: int, cols: int, dataflow: str, timing: str, m: int, n: int, k: int
) -> None:
    c = cost(rows, cols, dataflow, timing, m, n, k)
    assert c.cycles == oracle_cycles(rows, cols, dataflow, timing, m, n, k)


@PROPERTY
@given(array_dim, array_dim, dataflow_st, gemm_dim, gemm_dim, gemm_dim)
def test_pipelined_never_slower_than_scalesim(
    rows: int, cols: int, dataflow: str, m: int, n: int, k: int
) -> None:
    piped = cost(rows, cols, dataflow, "pipelined", m, n, k)
    serial = cost(rows, cols, dataflow, "scalesim", m, n, k)
    assert piped.cycles <= serial.cycles
    if serial.folds == 1:
        assert piped.cycles == serial.cycles
    # Timing changes time only, never the mapping or the access counts.
    for field in ("folds", "row_folds", "col_folds", "macs", "ifmap_reads", "filter_reads",
                  "ofmap_writes", "ofmap_reads", "mapping_efficiency"):
        assert getattr(piped, field) == getattr(serial, field), field


@PROPERTY
@given(array_dim, array_dim, dataflow_st, timing_st, st.integers(1, 64), st.integers(1, 64),
       st.integers(1, 64))
def test_single_fold_modes_agree(
    rows: int, cols: int, dataflow: str, timing: str, m: int, n: int, k: int
) -> None:
    sr, sc, t = mapping(dataflow, m, n, k)
    if sr > rows or sc > cols:
        rows, cols = max(rows, sr), max(cols, sc)
    c = cost(rows, cols, dataflow, timing, m, n, k)
    assert c.folds == 1
    preload = 0 if dataflow == "os" else rows
    assert c.cycles == preload + t + rows + cols - 2


@PROPERTY
@given(array_dim, array_dim, dataflow_st, timing_st, gemm_dim, gemm_dim, gemm_dim)
def test_fold_counts(
    rows: int, cols: int, dataflow: str, timing: str, m: int, n: int, k: int
) -> None:
    sr, sc, _ = mapping(dataflow, m, n, k)
    c = cost(rows, cols, dataflow, timing, m, n, k)
    assert c.row_folds == math.ceil(sr / rows)
    assert c.col_folds == math.ceil(sc / cols)
    assert c.folds == c.row_folds * c.col_folds


@PROPERTY
@given(array_dim, array_dim, dataflow_st, timing_st, gemm_dim, gemm_dim, gemm_dim)
def test_mapping_efficiency_and_utilization(
    rows: int, cols: int, dataflow: str, timing: str, m: int, n: int, k: int
) -> None:
    sr, sc, _ = mapping(dataflow, m, n, k)
    c = cost(rows, cols, dataflow, timing, m, n, k)
    assert c.mapping_efficiency == pytest.approx(sr * sc / (c.folds * rows * cols), rel=1e-12)
    assert 0.0 < c.mapping_efficiency <= 1.0
    assert c.utilization == pytest.approx(m * n * k / (c.cycles * rows * cols), rel=1e-12)
    assert 0.0 < c.utilization <= 1.0
    # Utilization can never beat mapping efficiency: idle PEs do no MACs.
    assert c.utilization <= c.mapping_efficiency + 1e-12


@PROPERTY
@given(array_dim, array_dim, dataflow_st, timing_st, gemm_dim, gemm_dim, gemm_dim)
def test_sram_counts_per_dataflow(
    rows: int, cols: int, dataflow: str, timing: str, m: int, n: int, k: int
) -> None:
    c = cost(rows, cols, dataflow, timing, m, n, k)
    mk, kn, mn = m * k, k * n, m * n
    if dataflow == "os":  # A per column fold, B per row fold, each output written once
        expected = (math.ceil(n / cols) * mk, math.ceil(m / rows) * kn, mn, 0)
    elif dataflow == "ws":  # B loaded once, A per column fold, partial sums per K fold
        kf = math.ceil(k / rows)
        expected = (math.ceil(n / cols) * mk, kn, kf * mn, (kf - 1) * mn)
    else:  # IS: A loaded once, B per column fold (Sc = M), partial sums per K fold
        kf = math.ceil(k / rows)
        expected = (mk, math.ceil(m / cols) * kn, kf * mn, (kf - 1) * mn)
    assert (c.ifmap_reads, c.filter_reads, c.ofmap_writes, c.ofmap_reads) == expected
    # Every operand word is read at least once; every output written at least once.
    assert c.ifmap_reads >= mk and c.filter_reads >= kn and c.ofmap_writes >= mn


@PROPERTY
@given(array_dim, array_dim, st.integers(0, 64), st.integers(0, 64), dataflow_st, timing_st,
       gemm_dim, gemm_dim, gemm_dim)
def test_more_rows_or_cols_never_increase_folds(
    rows: int, cols: int, extra_rows: int, extra_cols: int, dataflow: str, timing: str, m: int,
    n: int, k: int,
) -> None:
    small = cost(rows, cols, dataflow, timing, m, n, k)
    big = cost(rows + extra_rows, cols + extra_cols, dataflow, timing, m, n, k)
    assert big.row_folds <= small.row_folds
    assert big.col_folds <= small.col_folds
    assert big.folds <= small.folds


@PROPERTY
@given(array_dim, array_dim, dataflow_st, timing_st, gemm_dim, gemm_dim, gemm_dim,
       st.integers(1, 300), st.sampled_from("mnk"))
def test_larger_gemm_dim_never_decreases_cycles(
    rows: int, cols: int, dataflow: str, timing: str, m: int, n: int, k: int, extra: int,
    which: str,
) -> None:
    base = cost(rows, cols, dataflow, timing, m, n, k)
    dims = {"m": m, "n": n, "k": k}
    dims[which] += extra
    grown = cost(rows, cols, dataflow, timing, dims["m"], dims["n"], dims["k"])
    assert grown.cycles >= base.cycles
    assert grown.macs > base.macs


@PROPERTY
@given(array_dim, array_dim, dataflow_st, timing_st, gemm_dim, gemm_dim, gemm_dim)
def test_cycles_lower_bound(
    rows: int, cols: int, dataflow: str, timing: str, m: int, n: int, k: int
) -> None:
    # No schedule beats full-array throughput, nor streams a fold faster than T cycles.
    c = cost(rows, cols, dataflow, timing, m, n, k)
    _, _, t = mapping(dataflow, m, n, k)
    assert c.cycles >= math.ceil(m * n * k / (rows * cols))
    assert c.cycles >= c.folds * t


# --- API surface ------------------------------------------------------------------------------


def test_to_dict_round_trip() -> None:
    c = cost(4, 3, "ws", "pipelined", 10, 7, 5)
    d = c.to_dict()
    assert set(d) == {
        "cycles", "row_folds", "col_folds", "folds", "macs", "mapping_efficiency",
        "utilization", "ifmap_reads", "filter_reads", "ofmap_writes", "ofmap_reads",
    }
    for key, value in d.items():
        assert getattr(c, key) == value


@pytest.mark.parametrize("dataflow", DATAFLOWS)
@pytest.mark.parametrize("timing", TIMINGS)
def test_systolic_array_wrapper_matches_core(dataflow: str, timing: str) -> None:
    arr = pysim.SystolicArray(8, 4, dataflow.upper(), timing.upper())
    assert (arr.dataflow, arr.timing, arr.pes) == (dataflow, timing, 32)
    assert arr.cost(20, 9, 13).to_dict() == cost(8, 4, dataflow, timing, 20, 9, 13).to_dict()


def test_spec_accepts_any_case_and_reprs() -> None:
    spec = _core.SystolicSpec(4, 8, "WS", "Pipelined")
    assert (spec.rows, spec.cols, spec.dataflow, spec.timing) == (4, 8, "ws", "pipelined")
    assert repr(spec) == "SystolicSpec(rows=4, cols=8, dataflow='ws', timing='pipelined')"
    assert repr(_core.GemmShape(1, 2, 3)) == "GemmShape(m=1, n=2, k=3)"


def test_max_array_and_large_gemm() -> None:
    # 4096 x 4096 is the largest array; a 2^20-cube GEMM stays exact in int64.
    c = cost(4096, 4096, "os", "pipelined", 2**20, 2**20, 2**20)
    # F = 256 * 256 = 65536, interval max(2^20, 4096) = 2^20:
    # 65535 * 2^20 + 2^20 + 4096 + 4096 - 2 = 2^36 + 8190.
    assert c.folds == 65536
    assert c.cycles == 2**36 + 8190
    assert c.macs == 2**60
