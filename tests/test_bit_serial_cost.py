"""Closed-form cost of the bit-serial array (`BitSerialArray.cost`, `_core.bit_serial_cost`):
formulas, published peaks and cycle counts, and properties.

Notation (docs/low_precision_units.md): C[M, N] = A[M, K] x B[K, N] on Dm x Dn DPUs, Dk lanes:
  pf      = floor(8 / max(min(a, 8), 2)) * floor(8 / max(min(b, 8), 2))   (bitfusion; else 1)
  passes  = a * b (bismo), a (stripes), ceil(a / 8) * ceil(b / 8) (bitfusion)
  compute = ceil(M / Dm) * ceil(N / Dn) * ceil(K / (Dk * pf)) * passes
  fill    = ceil(log2(Dk)) + 2   (bitfusion: ceil(log2(16 Dk)) + 2)
  cycles  = compute + fill
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pysim
from pysim import _core

MODES = ("bismo", "stripes", "bitfusion")


def passes(mode: str, a: int, b: int) -> int:
    return {"bismo": a * b, "stripes": a, "bitfusion": math.ceil(a / 8) * math.ceil(b / 8)}[mode]


def pf(mode: str, a: int, b: int) -> int:
    if mode != "bitfusion":
        return 1
    return (8 // max(min(a, 8), 2)) * (8 // max(min(b, 8), 2))


# --- published figures -------------------------------------------------------------------


def test_bismo_peak_binary_tops_match_published() -> None:
    # BISMO (Umuroglu, Rasnayake, Sjalander, FPL 2018): peak binary ops/s = 2 Dm Dn Dk f
    # (an AND and an add per bit). 8x256x8 at 200 MHz: 2*8*256*8*200e6 = 6.5536e12 ("6.55");
    # 10x256x10 at 300 MHz (Ultra96): 2*10*256*10*300e6 = 15.36e12.
    small = pysim.BitSerialArray(dm=8, dn=256, dk=8, mode="bismo")
    big = pysim.BitSerialArray(dm=10, dn=256, dk=10, mode="bismo")
    assert small.peak_ops_per_s(200e6) == pytest.approx(6.5536e12, rel=1e-12)
    assert round(small.peak_ops_per_s(200e6) / 1e12, 2) == 6.55
    assert big.peak_ops_per_s(300e6) == pytest.approx(15.36e12, rel=1e-12)


@pytest.mark.parametrize(("m", "n", "k"), [(64, 64, 64), (100, 300, 1000), (8, 256, 8), (1, 1, 1)])
def test_bismo_w4a4_compute_cycles_are_a_quarter_of_w8a8(m: int, n: int, k: int) -> None:
    arr = pysim.BitSerialArray(dm=8, dn=256, dk=8, mode="bismo")
    w8a8 = arr.cost(m, n, k, a_bits=8, b_bits=8)
    w4a4 = arr.cost(m, n, k, a_bits=4, b_bits=4)
    assert 4 * w4a4.compute_cycles == w8a8.compute_cycles
    assert w4a4.fill_cycles == w8a8.fill_cycles  # the fill does not scale with precision
    assert 4 * w4a4.bit_ops == w8a8.bit_ops


def test_stripes_cycles_scale_with_activation_bits_only() -> None:
    # Stripes (Judd et al., MICRO 2016): activations bit-serial, weights bit-parallel.
    arr = pysim.BitSerialArray(dm=16, dn=16, dk=16, mode="stripes")
    base = arr.cost(256, 256, 256, a_bits=1, b_bits=16).compute_cycles
    for a in (1, 2, 5, 8, 16):
        for b in (1, 4, 8, 16):
            assert arr.cost(256, 256, 256, a_bits=a, b_bits=b).compute_cycles == a * base


# Bit Fusion (Sharma et al., ISCA 2018). The authors' simulator (github.com/hsharma35/bitfusion,
# bitfusion/src/simulator/accelerator.py, get_compute_cycles with im2col) counts
#   cycles = batch*oh*ow * ceil(oc / M) * ceil(kh*kw*ic / (N * pf)),
#   pf = int(pmax / max(iprec, pmin)) * int(pmax / max(wprec, pmin)),  pmax = 8, pmin = 2,
# for its published configuration bf_e_conf.ini: N = a = 16 rows (along K), M = c = 32 columns
# (output channels), 500 MHz. In pysim terms: dm = 1 (M streams), dn = 32, dk = 16, bitfusion
# mode, and their cycles are our compute_cycles. Layer shapes and precisions from its
# benchmarks (bitfusion/src/benchmarks/benchmarks.py, batch 16; an input's precision is the
# previous layer's output dtype):
#   AlexNet conv1_a: 227x227x3, 48 filters 11x11 stride 4 VALID -> 55x55; input FXP8, w FXP4:
#     pf = 1 * 2 = 2; 16*55*55 * ceil(48/32) * ceil(363/32) = 48400 * 2 * 12 = 1,161,600
#   AlexNet conv2_a: pool1 27x27x48, 128 filters 5x5 SAME; input FXP4, w FXP4: pf = 2 * 2 = 4;
#     16*27*27 * ceil(128/32) * ceil(1200/64) = 11664 * 4 * 19 = 886,464
#   AlexNet fc3: 4096 -> 1000; input FXP8, w FXP8: pf = 1; 16 * 32 * ceil(4096/16) = 131,072
#   SVHN-QNN conv1: 32x32x64, 64 filters 3x3 SAME; binary inputs and weights: pf = 4 * 4 = 16;
#     16*32*32 * ceil(64/32) * ceil(576/256) = 16384 * 2 * 3 = 98,304
BITFUSION_LAYERS = [
    # name, conv kwargs, (input bits, weight bits), cycles
    ("alexnet_conv1_a", dict(batch=16, in_h=227, in_w=227, in_c=3, filter_h=11, filter_w=11,
                             filters=48, stride_h=4, stride_w=4), (8, 4), 1_161_600),
    ("alexnet_conv2_a", dict(batch=16, in_h=27, in_w=27, in_c=48, filter_h=5, filter_w=5,
                             filters=128, pad_h=2, pad_w=2), (4, 4), 886_464),
    ("alexnet_fc3", dict(batch=16, in_h=1, in_w=1, in_c=4096, filter_h=1, filter_w=1,
                         filters=1000), (8, 8), 131_072),
    ("svhn_conv1", dict(batch=16, in_h=32, in_w=32, in_c=64, filter_h=3, filter_w=3,
                        filters=64, pad_h=1, pad_w=1), (1, 1), 98_304),
]


@pytest.mark.parametrize(("name", "conv", "bits", "cycles"), BITFUSION_LAYERS,
                         ids=[x[0] for x in BITFUSION_LAYERS])
def test_bit_fusion_cycles_on_published_layers(
    name: str, conv: dict, bits: tuple[int, int], cycles: int
) -> None:
    arr = pysim.BitSerialArray(dm=1, dn=32, dk=16, mode="bitfusion")
    shape = _core.Conv2dShape(**conv)
    cost = arr.cost_conv(shape, a_bits=bits[0], b_bits=bits[1])
    assert cost.compute_cycles == cycles
    # The same from Bit Fusion's own expression.
    g = _core.conv2d_to_gemm(shape)
    perf = (8 // max(bits[0], 2)) * (8 // max(bits[1], 2))
    assert g.m * math.ceil(g.n / 32) * math.ceil(g.k / (16 * perf)) == cycles


@pytest.mark.parametrize(
    ("a", "b", "factor"),
    [(1, 1, 16), (2, 2, 16), (1, 8, 4), (8, 2, 4), (4, 4, 4), (3, 3, 4), (5, 5, 1), (8, 8, 1),
     (16, 16, 1), (32, 4, 2)],
)
def test_bit_fusion_factor(a: int, b: int, factor: int) -> None:
    assert _core.bit_fusion_factor(a, b) == factor
    cost = pysim.BitSerialArray(1, 1, 1, "bitfusion").cost(1, 1, 1, a, b)
    assert cost.products_per_lane == factor


# --- formulas ----------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    mode=st.sampled_from(MODES),
    dm=st.integers(1, 64), dn=st.integers(1, 300), dk=st.integers(1, 300),
    m=st.integers(1, 5000), n=st.integers(1, 5000), k=st.integers(1, 5000),
    a=st.integers(1, 32), b=st.integers(1, 32),
)
def test_closed_form_matches_formulas(
    mode: str, dm: int, dn: int, dk: int, m: int, n: int, k: int, a: int, b: int
) -> None:
    c = pysim.BitSerialArray(dm, dn, dk, mode).cost(m, n, k, a, b)
    mt, nt, p = math.ceil(m / dm), math.ceil(n / dn), pf(mode, a, b)
    ks = math.ceil(k / (dk * p))
    assert (c.m_tiles, c.n_tiles, c.k_steps) == (mt, nt, ks)
    assert c.passes == passes(mode, a, b)
    assert c.compute_cycles == mt * nt * ks * passes(mode, a, b)
    lanes = 16 * dk if mode == "bitfusion" else dk
    assert c.fill_cycles == math.ceil(math.log2(lanes)) + 2
    assert c.cycles == c.compute_cycles + c.fill_cycles
    assert c.macs == m * n * k
    assert c.bit_ops == m * n * k * a * b
    a_reread, b_reread = (b, a) if mode == "bismo" else (1, 1)
    assert c.a_read_bits == nt * m * k * a * a_reread
    assert c.b_read_bits == mt * k * n * b * b_reread
    assert c.out_writes == m * n and c.out_write_bits == 32 * m * n
    peak = dm * dn * dk * p / passes(mode, a, b)
    assert c.utilization == pytest.approx(m * n * k / (c.cycles * peak), rel=1e-12)
    assert 0 < c.utilization <= 1


def test_full_tiles_reach_near_full_utilization() -> None:
    arr = pysim.BitSerialArray(8, 8, 64, "bismo")
    c = arr.cost(800, 800, 6400, 2, 2)
    assert c.utilization == pytest.approx(c.compute_cycles / c.cycles, rel=1e-12)
    assert c.utilization > 0.9999


def test_simulate_cycles_face_matches_cost() -> None:
    arr = pysim.BitSerialArray(3, 5, 16, "stripes")
    assert arr.simulate_cycles(10, 11, 70, 3, 9).to_dict() == arr.cost(10, 11, 70, 3, 9).to_dict()


def test_spec_repr_and_fields() -> None:
    s = pysim.BitSerialArray(8, 256, 8, "BISMO").spec
    assert (s.dm, s.dn, s.dk, s.mode, s.acc_bits) == (8, 256, 8, "bismo", 32)
    assert repr(s) == "BitSerialSpec(dm=8, dn=256, dk=8, mode='bismo', acc_bits=32)"
