"""Cycle-stepped XNOR reference (`XnorArray.simulate`, `_core.xnor_simulate_gemm`) against the
closed form and NumPy: outputs equal a @ b for +-1 operands (thresholded: +1 where a @ b >= t),
for any K (not a multiple of 64 or of SIMD, K = 1), and every counted cycle, read and write
equals `xnor_cost`."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import pysim
from pysim import _core


def pm1(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.choice(np.array([-1, 1], dtype=np.int8), size=shape)


@settings(max_examples=150, deadline=None)
@given(
    pe=st.integers(1, 9), simd=st.integers(1, 200),
    m=st.integers(1, 12), n=st.integers(1, 20), k=st.integers(1, 300),
    thresholded=st.booleans(), seed=st.integers(0, 2**32 - 1),
)
def test_xnor_reference_matches_cost_and_numpy(
    pe: int, simd: int, m: int, n: int, k: int, thresholded: bool, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    a, b = pm1(rng, (m, k)), pm1(rng, (k, n))
    ref = a.astype(np.int32) @ b.astype(np.int32)
    thresholds = rng.integers(-k, k, n, endpoint=True) if thresholded else None
    arr = pysim.XnorArray(pe, simd)
    out, got, updates = arr.simulate(a, b, thresholds)
    if thresholded:
        assert out.dtype == np.int8
        np.testing.assert_array_equal(out, np.where(ref >= thresholds, 1, -1))
    else:
        assert out.dtype == np.int32
        np.testing.assert_array_equal(out, ref)
    want = arr.cost(m, n, k, thresholded)
    assert got.to_dict() == want.to_dict()
    assert updates == want.compute_cycles * pe


def test_xnor_reference_on_strided_operands() -> None:
    rng = np.random.default_rng(1)
    a = pm1(rng, (20, 150))[::2, ::-1]  # non-contiguous views pack directly
    b = np.asfortranarray(pm1(rng, (150, 7)))
    out, _, _ = pysim.XnorArray(3, 64).simulate(a, b)
    np.testing.assert_array_equal(out, a.astype(np.int32) @ b.astype(np.int32))


def test_finn_cnv_layer0_reference_matches_published_cycles() -> None:
    # CNV W1A1 L0 folding (PE 16, SIMD 3; 30x30 outputs, K 27, N 64): 32400 cycles per frame.
    rng = np.random.default_rng(2)
    a, b = pm1(rng, (900, 27)), pm1(rng, (27, 64))
    out, cost, _ = pysim.XnorArray(pe=16, simd=3).simulate(a, b)
    assert cost.compute_cycles == 32400
    np.testing.assert_array_equal(out, a.astype(np.int32) @ b.astype(np.int32))


def reference_conv(
    x: np.ndarray, w: np.ndarray, stride: int, pad: int, pad_value: int
) -> np.ndarray:
    xp = np.pad(x.astype(np.int32), ((0, 0), (pad, pad), (pad, pad), (0, 0)),
                constant_values=pad_value)
    fh, fw, _, f = w.shape
    oh = (xp.shape[1] - fh) // stride + 1
    ow = (xp.shape[2] - fw) // stride + 1
    out = np.zeros((x.shape[0], oh, ow, f), dtype=np.int32)
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, i * stride:i * stride + fh, j * stride:j * stride + fw, :]
            out[:, i, j, :] = np.tensordot(patch, w.astype(np.int32), axes=([1, 2, 3], [0, 1, 2]))
    return out


@settings(max_examples=30, deadline=None)
@given(
    batch=st.integers(1, 2), hw=st.integers(3, 8), cin=st.integers(1, 70),
    filters=st.integers(1, 9), f=st.integers(1, 3), stride=st.integers(1, 2),
    pad=st.integers(0, 1), pad_value=st.sampled_from([-1, 1]), seed=st.integers(0, 1000),
)
def test_xnor_conv_matches_direct_convolution(
    batch: int, hw: int, cin: int, filters: int, f: int, stride: int, pad: int,
    pad_value: int, seed: int,
) -> None:
    rng = np.random.default_rng(seed)
    x, w = pm1(rng, (batch, hw, hw, cin)), pm1(rng, (f, f, cin, filters))
    conv = _core.Conv2dShape(batch=batch, in_h=hw, in_w=hw, in_c=cin, filter_h=f, filter_w=f,
                             filters=filters, stride_h=stride, stride_w=stride, pad_h=pad,
                             pad_w=pad)
    arr = pysim.XnorArray(pe=4, simd=32)
    out, cost, _ = arr.simulate_conv(x, w, conv, pad_value=pad_value)
    np.testing.assert_array_equal(out, reference_conv(x, w, stride, pad, pad_value))
    assert cost.to_dict() == arr.cost_conv(conv, thresholded=False).to_dict()
    thresholds = rng.integers(-5, 5, filters)
    out_t, _, _ = arr.simulate_conv(x, w, conv, thresholds=thresholds, pad_value=pad_value)
    np.testing.assert_array_equal(out_t, np.where(out >= thresholds, 1, -1))


@settings(max_examples=60, deadline=None)
@given(pe=st.integers(1, 64), simd=st.integers(1, 512), m=st.integers(1, 300),
       n=st.integers(1, 300), k=st.integers(1, 3000), thresholded=st.booleans())
def test_timing_only_reference_matches_cost(
    pe: int, simd: int, m: int, n: int, k: int, thresholded: bool
) -> None:
    arr = pysim.XnorArray(pe, simd)
    assert arr.simulate_cycles(m, n, k, thresholded).to_dict() == \
        arr.cost(m, n, k, thresholded).to_dict()
