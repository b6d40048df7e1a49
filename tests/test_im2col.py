"""Convolution lowering: `_core.im2col`, `_core.conv2d_to_gemm` and `Conv2dShape`.

im2col is checked against a plain NumPy im2col written here (NHWC input, rows ordered
(batch, out_y, out_x), K ordered (filter_y, filter_x, channel), zeros for padding), and the
whole lowering (im2col, then the cycle-stepped systolic GEMM) against a direct NumPy
convolution, bit-exact for int8 -> int32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import pysim
from pysim import _core


@dataclass(frozen=True)
class Conv:
    batch: int
    in_h: int
    in_w: int
    in_c: int
    filter_h: int
    filter_w: int
    filters: int
    stride_h: int = 1
    stride_w: int = 1
    pad_h: int = 0
    pad_w: int = 0
    dilation_h: int = 1
    dilation_w: int = 1

    def core(self) -> _core.Conv2dShape:
        return _core.Conv2dShape(**self.__dict__)

    def out_hw(self) -> tuple[int, int]:
        oh = (self.in_h + 2 * self.pad_h - self.dilation_h * (self.filter_h - 1) - 1)
        ow = (self.in_w + 2 * self.pad_w - self.dilation_w * (self.filter_w - 1) - 1)
        return oh // self.stride_h + 1, ow // self.stride_w + 1


def numpy_im2col(c: Conv, x: np.ndarray) -> np.ndarray:
    """(batch * out_h * out_w, filter_h * filter_w * in_c), K ordered (fy, fx, channel)."""
    oh, ow = c.out_hw()
    xp = np.pad(x, ((0, 0), (c.pad_h, c.pad_h), (c.pad_w, c.pad_w), (0, 0)))
    out = np.zeros((c.batch, oh, ow, c.filter_h, c.filter_w, c.in_c), dtype=x.dtype)
    for b in range(c.batch):
        for oy in range(oh):
            for ox in range(ow):
                for fy in range(c.filter_h):
                    for fx in range(c.filter_w):
                        iy = oy * c.stride_h + fy * c.dilation_h
                        ix = ox * c.stride_w + fx * c.dilation_w
                        out[b, oy, ox, fy, fx, :] = xp[b, iy, ix, :]
    return out.reshape(c.batch * oh * ow, c.filter_h * c.filter_w * c.in_c)


def numpy_conv(c: Conv, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Direct convolution (cross-correlation), NHWC x (fy, fx, cin, filters) -> NHWC, int64."""
    oh, ow = c.out_hw()
    xp = np.pad(x.astype(np.int64), ((0, 0), (c.pad_h, c.pad_h), (c.pad_w, c.pad_w), (0, 0)))
    out = np.zeros((c.batch, oh, ow, c.filters), dtype=np.int64)
    for fy in range(c.filter_h):
        for fx in range(c.filter_w):
            y0, x0 = fy * c.dilation_h, fx * c.dilation_w
            patch = xp[:, y0 : y0 + c.stride_h * (oh - 1) + 1 : c.stride_h,
                       x0 : x0 + c.stride_w * (ow - 1) + 1 : c.stride_w, :]
            out += np.einsum("bhwc,cf->bhwf", patch, w[fy, fx].astype(np.int64))
    return out


@st.composite
def convs(draw: st.DrawFn, max_in: int = 9, max_filters: int = 4) -> Conv:
    c = Conv(
        batch=draw(st.integers(1, 3)),
        in_h=draw(st.integers(1, max_in)),
        in_w=draw(st.integers(1, max_in)),
        in_c=draw(st.integers(1, 4)),
        filter_h=draw(st.integers(1, 4)),
        filter_w=draw(st.integers(1, 4)),
        filters=draw(st.integers(1, max_filters)),
        stride_h=draw(st.integers(1, 3)),
        stride_w=draw(st.integers(1, 3)),
        pad_h=draw(st.integers(0, 2)),
        pad_w=draw(st.integers(0, 2)),
        dilation_h=draw(st.integers(1, 3)),
        dilation_w=draw(st.integers(1, 3)),
    )
    assume(c.dilation_h * (c.filter_h - 1) + 1 <= c.in_h + 2 * c.pad_h)
    assume(c.dilation_w * (c.filter_w - 1) + 1 <= c.in_w + 2 * c.pad_w)
    return c


def random_input(c: Conv, dtype: type, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (c.batch, c.in_h, c.in_w, c.in_c)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    return rng.standard_normal(shape).astype(dtype)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(convs(), st.sampled_from([np.int8, np.int16, np.float32]), st.integers(0, 2**32 - 1))
def test_im2col_matches_numpy(c: Conv, dtype: type, seed: int) -> None:
    x = random_input(c, dtype, seed)
    got = _core.im2col(c.core(), x)
    want = numpy_im2col(c, x)
    assert got.dtype == x.dtype
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


@settings(derandomize=True, max_examples=200, deadline=None)
@given(convs())
def test_conv_shape_matches_formula(c: Conv) -> None:
    core = c.core()
    oh, ow = c.out_hw()
    assert (core.out_h, core.out_w) == (oh, ow)
    assert oh >= 1 and ow >= 1
    g = _core.conv2d_to_gemm(core)
    assert (g.m, g.n, g.k) == (c.batch * oh * ow, c.filters, c.filter_h * c.filter_w * c.in_c)
    for field, value in c.__dict__.items():
        assert getattr(core, field) == value


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
@settings(derandomize=True, max_examples=25, deadline=None)
@given(c=convs(max_in=7), seed=st.integers(0, 2**32 - 1))
def test_conv_via_im2col_and_reference_gemm_matches_direct_conv(
    dataflow: str, c: Conv, seed: int
) -> None:
    x = random_input(c, np.int8, seed)
    rng = np.random.default_rng(seed + 1)
    w = rng.integers(-128, 128, (c.filter_h, c.filter_w, c.in_c, c.filters), dtype=np.int8)
    cols = _core.im2col(c.core(), x)
    b = np.ascontiguousarray(w.reshape(-1, c.filters))  # K = (fy, fx, cin), as im2col orders it
    spec = _core.SystolicSpec(5, 3, dataflow, "pipelined")
    out, cost, _ = _core.systolic_simulate_gemm(spec, cols, b)
    assert out.dtype == np.int32
    oh, ow = c.out_hw()
    want = numpy_conv(c, x, w)
    np.testing.assert_array_equal(out.reshape(c.batch, oh, ow, c.filters), want)
    # The reference's counts for the lowered conv equal the closed-form conv cost.
    closed = pysim.SystolicArray(5, 3, dataflow, "pipelined").cost_conv(c.core())
    assert cost.cycles == closed.cycles and cost.macs == closed.macs


def test_resnet50_conv1_dims() -> None:
    # 224x224x3, 7x7, 64 filters, stride 2, pad 3: out = floor((224 + 6 - 6 - 1) / 2) + 1 = 112;
    # M = 112 * 112 = 12544, N = 64, K = 7 * 7 * 3 = 147.
    conv = _core.Conv2dShape(batch=1, in_h=224, in_w=224, in_c=3, filter_h=7, filter_w=7,
                             filters=64, stride_h=2, stride_w=2, pad_h=3, pad_w=3)
    assert (conv.out_h, conv.out_w) == (112, 112)
    g = _core.conv2d_to_gemm(conv)
    assert (g.m, g.n, g.k) == (12544, 64, 147)


@pytest.mark.parametrize(
    ("kwargs", "out_hw", "mnk"),
    [
        # ResNet 3x3 stride 1 pad 1 keeps 56x56: M = 3136, K = 9 * 64 = 576.
        (dict(in_h=56, in_w=56, in_c=64, filter_h=3, filter_w=3, filters=64, pad_h=1, pad_w=1),
         (56, 56), (3136, 64, 576)),
        # 1x1 stride 2 downsample 56 -> 28: floor((56 - 1) / 2) + 1 = 28; K = 256.
        (dict(in_h=56, in_w=56, in_c=256, filter_h=1, filter_w=1, filters=512, stride_h=2,
              stride_w=2), (28, 28), (784, 512, 256)),
        # Dilation 2, 3x3 on 10x10, no pad: span 5 -> out 6; K = 9 * 2 = 18.
        (dict(in_h=10, in_w=10, in_c=2, filter_h=3, filter_w=3, filters=4, dilation_h=2,
              dilation_w=2), (6, 6), (36, 4, 18)),
        # Asymmetric: 5x8 input, 2x3 filter, stride (1, 2), pad (0, 1):
        # out_h = 5 - 2 + 1 = 4, out_w = floor((8 + 2 - 3) / 2) + 1 = 4; K = 6 * 3 = 18.
        (dict(in_h=5, in_w=8, in_c=3, filter_h=2, filter_w=3, filters=7, stride_w=2, pad_w=1),
         (4, 4), (16, 7, 18)),
        # Filter equal to the padded input: a single output pixel.
        (dict(in_h=3, in_w=3, in_c=1, filter_h=5, filter_w=5, filters=1, pad_h=1, pad_w=1),
         (1, 1), (1, 1, 25)),
    ],
)
def test_conv2d_to_gemm_dims(
    kwargs: dict[str, int], out_hw: tuple[int, int], mnk: tuple[int, int, int]
) -> None:
    conv = _core.Conv2dShape(**kwargs)
    assert (conv.out_h, conv.out_w) == out_hw
    g = _core.conv2d_to_gemm(conv)
    assert (g.m, g.n, g.k) == mnk


@settings(derandomize=True, max_examples=100, deadline=None)
@given(convs(), st.integers(1, 64))
def test_batch_scales_m(c: Conv, batch: int) -> None:
    one = _core.conv2d_to_gemm(Conv(**{**c.__dict__, "batch": 1}).core())
    many = _core.conv2d_to_gemm(Conv(**{**c.__dict__, "batch": batch}).core())
    assert many.m == batch * one.m
    assert (many.n, many.k) == (one.n, one.k)


@settings(derandomize=True, max_examples=50, deadline=None)
@given(convs(), st.integers(0, 2**32 - 1))
def test_batched_im2col_stacks_images(c: Conv, seed: int) -> None:
    # Batch is first-class: the batched patch matrix is the per-image matrices stacked.
    x = random_input(c, np.int16, seed)
    whole = _core.im2col(c.core(), x)
    single = Conv(**{**c.__dict__, "batch": 1}).core()
    parts = [_core.im2col(single, np.ascontiguousarray(x[i : i + 1])) for i in range(c.batch)]
    np.testing.assert_array_equal(whole, np.vstack(parts))


def test_batch_cost_is_a_bigger_m() -> None:
    # Cost of a batched conv is the cost of the GEMM with M = batch * out pixels.
    arr = pysim.SystolicArray(32, 32, "ws", "scalesim")
    conv = _core.Conv2dShape(batch=8, in_h=14, in_w=14, in_c=16, filter_h=3, filter_w=3,
                             filters=32, pad_h=1, pad_w=1)
    assert arr.cost_conv(conv).to_dict() == arr.cost(8 * 14 * 14, 32, 144).to_dict()


def test_im2col_padding_is_zero() -> None:
    # 1x1 input of ones, 3x3 filter, pad 1: the single output row has a one only at the
    # centre tap (fy, fx) = (1, 1), i.e. K index 4 per channel.
    conv = _core.Conv2dShape(in_h=1, in_w=1, in_c=2, filter_h=3, filter_w=3, filters=1,
                             pad_h=1, pad_w=1)
    cols = _core.im2col(conv, np.ones((1, 1, 1, 2), np.float32))
    want = np.zeros((1, 18), np.float32)
    want[0, 8:10] = 1.0
    np.testing.assert_array_equal(cols, want)


def test_im2col_non_contiguous_input() -> None:
    c = Conv(batch=2, in_h=5, in_w=6, in_c=3, filter_h=2, filter_w=3, filters=1, stride_w=2)
    x = np.asfortranarray(random_input(c, np.int8, 9))
    np.testing.assert_array_equal(_core.im2col(c.core(), x), numpy_im2col(c, x))
