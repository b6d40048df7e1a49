"""Cycle-stepped bit-serial reference (`BitSerialArray.simulate`, `_core.bit_serial_simulate_gemm`)
against the closed form and against NumPy.

The reference issues one step per cycle, forms every DPU's partial result from bit planes (bismo),
activation bits times whole weights (stripes) or 2x2-bit BitBricks (bitfusion), delays it through
the tree levels, accumulates and writes each tile; it counts cycles, MACs, bit operations and
operand bits itself. Every count must equal the closed form, and the output must equal
a.astype(int64) @ b.astype(int64) bit for bit, signed (two's complement, MSB plane negative) or
unsigned.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

import pysim
from pysim import _core

MODES = ("bismo", "stripes", "bitfusion")


def operand(
    rng: np.random.Generator, shape: tuple[int, int], bits: int, signed: bool
) -> np.ndarray:
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
    x = rng.integers(lo, hi, size=shape, endpoint=True, dtype=np.int64)
    # Include the extremes, where sign planes and carries matter most.
    if x.size >= 2:
        x.flat[0], x.flat[-1] = lo, hi
    return x


def check(
    mode: str, dm: int, dn: int, dk: int, m: int, n: int, k: int, a_bits: int, b_bits: int,
    a_signed: bool, b_signed: bool, seed: int,
) -> None:
    rng = np.random.default_rng(seed)
    a = operand(rng, (m, k), a_bits, a_signed)
    b = operand(rng, (k, n), b_bits, b_signed)
    arr = pysim.BitSerialArray(dm, dn, dk, mode)
    out, got, updates = arr.simulate(a, b, a_bits, b_bits, signed=(a_signed, b_signed))
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, a @ b)
    want = arr.cost(m, n, k, a_bits, b_bits)
    assert got.to_dict() == want.to_dict()
    assert updates == want.compute_cycles * dm * dn


@settings(max_examples=150, deadline=None)
@given(
    mode=st.sampled_from(MODES),
    dm=st.integers(1, 4), dn=st.integers(1, 4), dk=st.integers(1, 70),
    m=st.integers(1, 9), n=st.integers(1, 9), k=st.integers(1, 140),
    a_bits=st.integers(1, 9), b_bits=st.integers(1, 9),
    a_signed=st.booleans(), b_signed=st.booleans(), seed=st.integers(0, 2**32 - 1),
)
def test_bit_serial_reference_matches_cost_and_numpy(
    mode: str, dm: int, dn: int, dk: int, m: int, n: int, k: int, a_bits: int, b_bits: int,
    a_signed: bool, b_signed: bool, seed: int,
) -> None:
    check(mode, dm, dn, dk, m, n, k, a_bits, b_bits, a_signed, b_signed, seed)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("a_bits", "b_bits"), [(1, 1), (32, 32), (1, 32), (17, 3), (31, 9)])
@pytest.mark.parametrize("signed", [(True, True), (False, False), (True, False)])
def test_bit_serial_reference_at_extreme_widths(
    mode: str, a_bits: int, b_bits: int, signed: tuple[bool, bool]
) -> None:
    check(mode, 2, 3, 16, 5, 4, 37, a_bits, b_bits, signed[0], signed[1], seed=a_bits * b_bits)


def test_one_bit_signed_planes_weigh_minus_one() -> None:
    # A 1-bit signed value is {-1, 0}: its only plane is the sign plane.
    a = np.array([[-1, 0, -1]])
    b = np.array([[-1], [-1], [0]])
    for mode in MODES:
        out, _, _ = pysim.BitSerialArray(1, 1, 2, mode).simulate(a, b, 1, 1, signed=True)
        assert out.tolist() == [[1]]


@settings(max_examples=60, deadline=None)
@given(
    mode=st.sampled_from(MODES),
    dm=st.integers(1, 40), dn=st.integers(1, 40), dk=st.integers(1, 300),
    m=st.integers(1, 200), n=st.integers(1, 200), k=st.integers(1, 2000),
    a_bits=st.integers(1, 16), b_bits=st.integers(1, 16),
)
@example(mode="bismo", dm=1, dn=1, dk=1, m=14, n=123, k=886, a_bits=16, b_bits=16)  # over budget
def test_timing_only_reference_matches_cost(
    mode: str, dm: int, dn: int, dk: int, m: int, n: int, k: int, a_bits: int, b_bits: int
) -> None:
    arr = pysim.BitSerialArray(dm, dn, dk, mode)
    try:
        got = arr.simulate_cycles(m, n, k, a_bits, b_bits)
    except ValueError as exc:  # past the reference's 2^32-step budget (a 1x1x1 BISMO array
        assert "reference model's budget" in str(exc)  # at 16 x 16 bits): cost() only
        assume(False)
    assert got.to_dict() == arr.cost(m, n, k, a_bits, b_bits).to_dict()


def test_core_reference_accepts_any_integer_dtype() -> None:
    rng = np.random.default_rng(3)
    a8 = rng.integers(-8, 7, (6, 50), endpoint=True).astype(np.int8)
    bu = rng.integers(0, 15, (50, 5), endpoint=True).astype(np.uint16)
    spec = _core.BitSerialSpec(2, 2, 8, "bismo")
    out, _, _ = _core.bit_serial_simulate_gemm(spec, a8, bu, 4, 4, True, False)
    np.testing.assert_array_equal(out, a8.astype(np.int64) @ bu.astype(np.int64))
