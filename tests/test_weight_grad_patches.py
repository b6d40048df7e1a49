"""A convolution's weight gradient (dW = X^T dY) on an accelerator reads X's feature map, not
its patch matrix: the patches are built on chip, as the forward convolution's are
(pysim/mapping/planner.py, ``_patches_map``). Before, the dW GEMM read the im2col matrix from
DRAM, kh x kw times X's bytes for a stride-1 kernel, whenever X was not kept on chip."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pysim
from pysim.mapping.planner import PatchesGeometry, _patches_map
from pysim.training.ops import WeightGrad
from pysim.workload import Tensor, Workload

TPU = pysim.load_hardware("configs/tpu_v1.yaml")


def _weight_grad(h: int, c: int, kernel: int, stride: int, n: int = 64,
                 batch: int = 1) -> tuple[WeightGrad, Workload]:
    """The int8 dW GEMM of a ``kernel`` x ``kernel``, ``stride`` convolution of an h x h x c
    input ('same' padding), X and dY graph inputs (so read from DRAM)."""
    out = h // stride
    x, dy = (batch, h, h, c), (batch, out, out, n)
    dw = WeightGrad(name="dw", output="dw", inputs=("x", "dy"), m=kernel * kernel * c, n=n,
                    k=batch * out * out, x_shape=x, dy_shape=dy, act_bits=8, out_bits=32,
                    dtype="int")
    return dw, Workload(name="dw", ops=(dw,), inputs=(Tensor(name="x", shape=x, bits=8),
                                                      Tensor(name="dy", shape=dy, bits=8)))


@pytest.mark.parametrize(("h", "c", "kernel", "stride", "x_reads"), [
    (56, 64, 3, 1, 1.0),  # ResNet's 3x3 convolutions: X once where the patches were 9 X
    (56, 64, 3, 2, 1.0),  # strided: the patches are 2.25 X
    (28, 128, 3, 1, 1.0),
    (112, 3, 7, 2, 1.0),  # the stem: 3 channels, 49 taps, stride 2
    (56, 64, 1, 2, 0.25),  # a 1x1 stride-2 projection: its patches are X's every other pixel
])
def test_a_weight_gradient_reads_x_once_where_its_tile_holds_every_tap(
        h: int, c: int, kernel: int, stride: int, x_reads: float) -> None:
    """With the whole M (taps x channels) in one tile, the dW GEMM reads X's bytes (or the
    strided gather's, fewer) and dY's once: the reference is the tensors' sizes."""
    dw, wl = _weight_grad(h, c, kernel, stride)
    row = pysim.simulate(TPU, wl).layers.iloc[0]
    x_bytes, dy_bytes = h * h * c, math.prod(dw.dy_shape)
    patches = dw.m * dw.k
    assert row.tiling.split("tile ")[1].startswith(f"{dw.m}x"), row.tiling  # M in one tile
    assert row.dram_read_bytes == x_bytes * x_reads + dy_bytes
    assert row.dram_read_bytes - dy_bytes <= patches


def test_a_linear_layers_and_a_pointwise_convolutions_patches_are_x_itself() -> None:
    """No patch matrix to avoid: a 2-D X (a linear layer) or a 1x1 kernel (M = channels)."""
    dw, _ = _weight_grad(14, 256, 1, 1)
    assert PatchesGeometry.of(dw) is None
    linear = WeightGrad(name="dw", output="dw", inputs=("x", "dy"), m=512, n=64, k=128,
                        x_shape=(128, 512), dy_shape=(128, 64), act_bits=8, out_bits=32,
                        dtype="int")
    assert PatchesGeometry.of(linear) is None


def test_a_grouped_convolutions_geometry_is_per_group() -> None:
    dw = WeightGrad(name="dw", output="dw", inputs=("x", "dy"), m=9 * 8, n=8, k=28 * 28, count=4,
                    x_shape=(1, 28, 28, 32), dy_shape=(1, 28, 28, 32), act_bits=8, out_bits=32,
                    dtype="int")
    geo = PatchesGeometry.of(dw)
    assert geo is not None
    assert (geo.channels, geo.taps, geo.image_bytes, geo.row_bytes) == (8, 9, 28 * 28 * 8, 28 * 8)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(channels=st.integers(1, 512), taps=st.sampled_from([4, 9, 25, 49]),
       stride=st.integers(1, 3), out=st.integers(1, 64), bits=st.sampled_from([4, 8, 16]),
       mts=st.lists(st.integers(1, 4096), min_size=1, max_size=8, unique=True),
       burst=st.sampled_from([1, 32, 64]), whole_channels=st.booleans())
def test_a_pass_reads_no_more_than_the_patches_and_a_tile_holds_no_more(
        channels: int, taps: int, stride: int, out: int, bits: int, mts: list[int],
        burst: int, whole_channels: bool) -> None:
    """Each pass reads no more than the patch matrix, and the cheaper of its two row orders:
    tap-major (the whole feature map once per row tile of whole channel sets, else the
    patches) and channel-major (a tile of c whole channels reads every pixel's c channels,
    rounded up to bursts, once per tile); a tile holds no more than its patches."""
    side = out * stride
    gm, gk = taps * channels, out * out
    geo = PatchesGeometry(channels, taps, side * side / gk, -(-side * side * channels * bits // 8),
                          -(-side * channels * bits // 8), bits)
    if whole_channels:  # row tiles of whole channels' taps, as the searched grains give
        mts = [taps * max(1, mt % channels) for mt in mts]
    mts = list(dict.fromkeys(min(mt, gm) for mt in mts))
    fmap = _patches_map(geo, gm, gk, tuple(mts), burst)
    patches = -(-gm * gk * bits // 8)
    pixel = -(-channels * bits // 8)
    for (mt, pass_bytes), (_, per_k) in zip(fmap.pass_bytes, fmap.tile_bytes_per_k, strict=True):
        assert pass_bytes <= patches
        assert per_k <= mt * bits / 8
        tap_major = min(patches, -(-gm // mt) * geo.image_bytes) if mt >= channels else patches
        run = ((geo.row_bytes, geo.row_bytes) if mt >= channels  # whole rows, else a slice
               else (min(pixel, -(-mt * bits // 8)), pixel))
        expected = tap_major
        c = mt // taps
        if mt % taps == 0 and 0 < c < channels:
            c_bytes = -(-c * bits // 8)
            fetch = min(pixel, -(-c_bytes // burst) * burst)
            expected = min(tap_major, -(-channels // c) * (side * side) * fetch)
            if expected < tap_major:
                run = (fetch, pixel)
        assert pass_bytes == expected
        assert fmap.run_of(mt) == run
    if burst == 1 and bits >= 8:  # no burst to round up: X about once for every such tile
        for mt, pass_bytes in fmap.pass_bytes:
            c = mt // taps
            if mt % taps == 0 and c < channels:
                assert pass_bytes <= (channels + c) * side * side * bits // 8, (mt, pass_bytes)


def test_a_narrow_row_tile_of_whole_channels_reads_x_once_on_a_small_buffer() -> None:
    """lowp_edge's buffers hold C's tile only for a few hundred rows of the dW GEMM of a
    28 x 28 x 128 3x3 convolution: tap-major, its 144-row tile read X's patches (8x X, 290 K
    cycles); channel-major, a tile of 32 channels' taps reads those channels of each pixel, a
    32-byte run per pixel, and X is read once (140 K cycles)."""
    hw = pysim.load_hardware("configs/lowp_edge.yaml")
    dw, wl = _weight_grad(28, 128, 3, 1, n=128)
    row = pysim.simulate(hw, wl).layers.iloc[0]
    x_bytes, dy_bytes = 28 * 28 * 128, math.prod(dw.dy_shape)
    mt = int(row.tiling.split("tile ")[1].split("x")[0])
    assert mt < dw.m and mt % 9 == 0, row.tiling  # a row tile of whole channels' taps
    assert row.dram_read_bytes == x_bytes + dy_bytes


def test_shapes_that_are_no_convolutions_read_the_patch_matrix() -> None:
    """A WeightGrad built by hand whose K is not dY's positions (or whose batches differ) has
    no convolution's geometry: its A is read as the matrix it declares."""
    dw, _ = _weight_grad(56, 64, 3, 1)
    assert PatchesGeometry.of(dw) is not None
    assert PatchesGeometry.of(dw.model_copy(update={"k": dw.k // 2})) is None
    assert PatchesGeometry.of(dw.model_copy(update={"dy_shape": (2, 28, 56, 64)})) is None
