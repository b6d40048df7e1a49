"""Row-stationary array (`_core.row_stationary_cost` / `_core.row_stationary_reference`, the face
`pysim.units.RowStationaryArray`) against the Python tile model it mirrors
(`pysim.mapping.tile_model.RowStationaryTiles`), its cycle-stepped reference, and Eyeriss's
AlexNet PE-set figures (Chen, Emer, Sze, ISCA 2016; Chen et al., JSSC 2017).

Notation: a tile is m output positions (E output rows of width F per image; a GEMM, out_h 0,
is m rows of width 1), n filters and k = channels x R x S; on a rows x cols array the PE set
(R filter rows x E output rows) is cut into ceil(E / cols) strips and ceil(R / rows) row chunks,
floor(rows / chunk height) sets stacked on the rows of each array.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pysim.units
from pysim import _core
from pysim.errors import ConfigError
from pysim.mapping.tile_model import ConvWindow, RowStationaryTiles
from pysim.units import RowStationaryArray

# (TileArrays field, RowStationaryCost field)
FIELDS = (("cycles", "cycles"), ("steady", "steady"), ("fill", "fill"), ("folds", "passes"),
          ("macs", "macs"), ("a_reads", "ifmap_reads"), ("b_reads", "filter_reads"),
          ("c_writes", "psum_writes"), ("c_reads", "psum_reads"))
PROPERTY = settings(derandomize=True, max_examples=400, deadline=None)


def window_st(max_out: int, max_kernel: int) -> st.SearchStrategy[ConvWindow]:
    """GEMM windows (out_h 0, 1 x 1 or not) and strided / dilated convolutions, filters up to
    max_kernel rows (taller than the array where the array is shorter)."""
    pair = st.tuples(st.integers(1, 4), st.integers(1, 4))
    conv = st.builds(ConvWindow, st.tuples(st.integers(1, max_kernel), st.integers(1, 11)),
                     st.integers(1, max_out), st.integers(1, max_out), pair,
                     st.tuples(st.integers(1, 3), st.integers(1, 3)))
    gemm = st.builds(ConvWindow, st.tuples(st.integers(1, 3), st.integers(1, 3)),
                     st.just(0), st.integers(1, 9))
    return st.one_of(st.just(ConvWindow()), gemm, conv)


arrays_st = st.builds(RowStationaryArray, st.integers(1, 24), st.integers(1, 24),
                      st.one_of(st.sampled_from((1, 9, 50, 224, 4096)), st.integers(1, 300)),
                      st.integers(1, 4))


def python_model(array: RowStationaryArray, window: ConvWindow, m: int, n: int, k: int
                 ) -> dict[str, int]:
    t = RowStationaryTiles(array.rows, array.cols, array.pe_weights, array.arrays, window)
    got = t.evaluate(m, n, k)
    return {ours: int(getattr(got, theirs)) for theirs, ours in FIELDS}


def as_dict(cost: _core.RowStationaryCost) -> dict[str, int]:
    return {ours: getattr(cost, ours) for _, ours in FIELDS}


def distinct_touched(outs: int, stride: int, taps: int, dilation: int) -> int:
    """The input rows outs output rows' windows touch, counted one by one."""
    return len({o * stride + t * dilation for o in range(outs) for t in range(taps)})


def ifmap_elements(window: ConvWindow, m: int, touched: Callable[[int, int, int, int], int]
                   ) -> int:
    """Ifmap elements one channel of a tile of m positions reads: each full image and the
    partial one's rows (a GEMM: m rows of width 1), times the columns of a row."""
    (r, s), (sh, sw), (dh, dw) = window.kernel, window.stride, window.dilation
    if window.out_h == 0:
        whole, part, f = 0, m, 1
    else:
        f = window.out_w
        whole, rest = divmod(m, window.out_h * f)
        part = -(-rest // f)
    rows = whole * touched(window.out_h, sh, r, dh) + (touched(part, sh, r, dh) if part else 0)
    return rows * touched(f, sw, s, dw)


# -- (a) the C++ closed form is the Python tile model ---------------------------------------------


@PROPERTY
@given(arrays_st, window_st(60, 30), st.integers(1, 8000), st.integers(1, 200),
       st.integers(1, 8000))
def test_closed_form_equals_the_python_tile_model(
    array: RowStationaryArray, window: ConvWindow, m: int, n: int, k: int
) -> None:
    assert as_dict(array.cost(m, n, k, window)) == python_model(array, window, m, n, k)


@PROPERTY
@given(arrays_st, window_st(300, 12), st.integers(1, 10**7), st.integers(1, 4096),
       st.integers(1, 10**5))
def test_closed_form_equals_the_python_tile_model_on_large_tiles(
    array: RowStationaryArray, window: ConvWindow, m: int, n: int, k: int
) -> None:
    assert as_dict(array.cost(m, n, k, window)) == python_model(array, window, m, n, k)


def test_closed_form_on_vectors_of_shapes() -> None:
    """The tile model is vectorised; every element equals the C++ on that shape."""
    array = RowStationaryArray(12, 14, 224, 2)
    window = ConvWindow((5, 5), 27, 27, (1, 1), (2, 1))
    ms, ns, ks = [1, 27, 500, 729, 1458, 2000], [1, 3, 16, 7, 96, 33], [1, 25, 26, 1200, 49, 777]
    t = RowStationaryTiles(12, 14, 224, 2, window).evaluate(ms, ns, ks)
    for i, (m, n, k) in enumerate(zip(ms, ns, ks, strict=True)):
        c = array.cost(m, n, k, window)
        assert [int(getattr(t, a)[i]) for a, _ in FIELDS] == list(as_dict(c).values())


# -- (b) the cycle-stepped reference is the closed form -------------------------------------------


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.builds(RowStationaryArray, st.integers(1, 12), st.integers(1, 12),
                 st.sampled_from((1, 3, 9, 16, 50, 224)), st.integers(1, 3)),
       window_st(16, 16), st.integers(1, 400), st.integers(1, 12), st.integers(1, 300))
def test_reference_equals_closed_form(
    array: RowStationaryArray, window: ConvWindow, m: int, n: int, k: int
) -> None:
    assert as_dict(array.reference(m, n, k, window)) == as_dict(array.cost(m, n, k, window))


@pytest.mark.parametrize(("rows", "cols", "window", "m", "n", "k"), [
    (12, 14, ConvWindow((11, 11), 55, 55, (4, 4)), 2 * 55 * 55, 4, 3 * 121),  # two images
    (4, 5, ConvWindow((11, 3), 7, 9, (1, 2), (1, 1)), 40, 3, 2 * 33 + 5),  # 3 chunks, part channel
    (3, 2, ConvWindow((2, 2), 5, 5, (2, 2), (3, 3)), 7, 5, 13),  # rows skipped by stride/dilation
    (1, 1, ConvWindow(), 17, 3, 11),  # a GEMM on one PE
    (16, 16, ConvWindow((1, 1), 0, 1), 300, 40, 64),  # a GEMM on a square array
])
def test_reference_equals_closed_form_on_chosen_tiles(
    rows: int, cols: int, window: ConvWindow, m: int, n: int, k: int
) -> None:
    for pe_weights in (1, 12, 224):
        array = RowStationaryArray(rows, cols, pe_weights, 2)
        want = array.cost(m, n, k, window)
        assert as_dict(array.reference(m, n, k, window)) == as_dict(want)
        assert as_dict(want) == python_model(array, window, m, n, k)
        assert want.macs == m * n * k
        assert want.cycles == want.steady + want.fill


# -- (b2) a tile of whole images and a part; rows a stride skips -------------------------------


def test_tile_of_one_image_and_a_part_cuts_each_into_its_own_strips() -> None:
    """CONV3 (13 x 13, 256 channels, 16 filters): m = 170 is one full image and one output
    position of the next, a part of one output row cut into one strip of its own. It reads the
    3 ifmap rows that row's windows touch, not another image's 15, and on a 4-column array
    runs one more strip, not another image's four."""
    window, n, k = ConvWindow((3, 3), 13, 13), 16, 256 * 9
    per_row = 15 * 256 * 16  # 15 columns x channels x filter groups (p = 1)
    eyeriss, narrow = RowStationaryArray(12, 14), RowStationaryArray(12, 4)
    one, part, two = (eyeriss.cost(m, n, k, window) for m in (169, 170, 338))
    assert (one.ifmap_reads, part.ifmap_reads, two.ifmap_reads) == (
        15 * per_row, (15 + 3) * per_row, (15 + 15) * per_row)
    # 14 columns hold all 13 rows: each image and the part is one strip, so the part still
    # takes a strip's passes (each unit runs its F x S cycles, one output row or 13).
    assert (one.passes, part.passes, two.passes) == (1024, 2048, 2048)
    assert part.filter_reads == one.filter_reads == two.filter_reads  # one image's strips
    one, part, two = (narrow.cost(m, n, k, window) for m in (169, 170, 338))
    assert (one.passes, part.passes, two.passes) == (4 * 1024, 5 * 1024, 8 * 1024)
    assert part.steady * 8 == two.steady * 5
    for array in (eyeriss, narrow):
        for m in (170, 169 + 27):  # one row, or three (two and a bit) of the next image
            cost = array.cost(m, n, k, window)
            assert as_dict(cost) == python_model(array, window, m, n, k)
            assert as_dict(array.reference(m, n, k, window)) == as_dict(cost)


def test_strided_1x1_conv_reads_only_the_pixels_its_windows_touch() -> None:
    """A 1 x 1 convolution at stride 2 with a 4 x 4 output reads 16 of its 7 x 7 input's 49
    pixels: the rows and columns between the taps are skipped, not streamed."""
    window, channels = ConvWindow((1, 1), 4, 4, (2, 2)), 3
    for array in (RowStationaryArray(12, 14), RowStationaryArray(3, 2, 9, 2)):
        cost = array.cost(16, 1, channels, window)
        assert cost.ifmap_reads == 16 * channels
        assert as_dict(array.reference(16, 1, channels, window)) == as_dict(cost)
        assert as_dict(cost) == python_model(array, window, 16, 1, channels)
    # two images and a part of two rows: 16 + 16 + 2 x 4 pixels
    cost = RowStationaryArray(12, 14).cost(2 * 16 + 5, 1, channels, window)
    assert cost.ifmap_reads == (16 + 16 + 2 * 4) * channels
    assert as_dict(RowStationaryArray(12, 14).reference(37, 1, channels, window)) == as_dict(cost)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.integers(1, 40), st.integers(1, 7), st.integers(1, 12), st.integers(1, 7))
def test_ifmap_reads_count_the_rows_the_windows_touch(
    outs: int, stride: int, taps: int, dilation: int
) -> None:
    """One channel, one filter, one image of outs x 1 outputs: the tile model's and the C++
    ifmap reads are the distinct input rows the windows touch, counted one by one."""
    window = ConvWindow((taps, 1), outs, 1, (stride, 1), (dilation, 1))
    want = distinct_touched(outs, stride, taps, dilation)
    assert python_model(RowStationaryArray(64, 64), window, outs, 1, taps)["ifmap_reads"] == want
    assert RowStationaryArray(64, 64).cost(outs, 1, taps, window).ifmap_reads == want


# The smallest windows where the span and outs x taps both over-count: stride 2, dilation 2,
# 2 taps, 2 outputs read input rows {0, 2} and {2, 4}, three rows (min(5, 4) would say 4).
SKIPPING = [ConvWindow((2, 1), 2, 1, (2, 1), (2, 1)), ConvWindow((1, 2), 1, 2, (1, 2), (1, 2))]


@pytest.mark.parametrize("window", SKIPPING)
def test_reference_counts_the_distinct_rows_windows_touch(window: ConvWindow) -> None:
    assert RowStationaryArray(1, 1).reference(2, 1, 2, window).ifmap_reads == 3


@pytest.mark.parametrize("window", SKIPPING)
def test_touched_rows_rule_is_the_distinct_count(window: ConvWindow) -> None:
    array = RowStationaryArray(1, 1)
    assert python_model(array, window, 2, 1, 2)["ifmap_reads"] == 3
    assert array.cost(2, 1, 2, window).ifmap_reads == 3


# -- (c) Eyeriss's AlexNet PE sets (JSSC 2017) -----------------------------------------------------


@pytest.mark.parametrize(("name", "window", "channels", "busy"), [
    # CONV1: an 11 x 55 set in 4 strips of <= 14 output rows, one set on the 12 rows
    ("CONV1", ConvWindow((11, 11), 55, 55, (4, 4)), 3, Fraction(11 * 55, 4)),
    # CONV2: 5 x 27 as two strips stacked on 10 of the 12 rows
    ("CONV2", ConvWindow((5, 5), 27, 27), 48, Fraction(135)),
    # CONV3-5: four 3 x 13 sets stacked
    ("CONV3", ConvWindow((3, 3), 13, 13), 256, Fraction(156)),
    ("CONV4", ConvWindow((3, 3), 13, 13), 192, Fraction(156)),
])
@pytest.mark.parametrize("images", [1, 2])
def test_alexnet_busy_pes(
    name: str, window: ConvWindow, channels: int, busy: Fraction, images: int
) -> None:
    """MACs / steady cycles of a tile of whole images, whole channels and several filters."""
    eyeriss = RowStationaryArray(12, 14)
    r, s = window.kernel
    m, n, k = images * window.out_h * window.out_w, 16, channels * r * s
    cost = eyeriss.cost(m, n, k, window)
    assert Fraction(cost.macs, cost.steady) == busy, name
    assert as_dict(eyeriss.reference(m, n, k, window)) == as_dict(cost)
    assert cost.fill == window.kernel[0] + 14 - 1  # one set's skew and drain


# -- (d) bad input -----------------------------------------------------------------------------


SPEC_FIELDS = {"rows": 4096, "cols": 4096, "pe_weights": 4096, "arrays": 256}
WINDOW_FIELDS = ("kernel_h", "kernel_w", "out_h", "out_w", "stride_h", "stride_w",
                 "dilation_h", "dilation_w")


@pytest.mark.parametrize("field", list(SPEC_FIELDS))
def test_bad_spec_fields_name_the_field(field: str) -> None:
    good = {"rows": 12, "cols": 14, "pe_weights": 1, "arrays": 1}
    for value in (0, -1, SPEC_FIELDS[field] + 1, 2**40):
        with pytest.raises(ValueError, match=f"{field} must be in 1..{SPEC_FIELDS[field]}"):
            _core.RowStationarySpec(**{**good, field: value})
        with pytest.raises(ConfigError, match=field):
            RowStationaryArray(**{**good, field: value})
    with pytest.raises(ConfigError, match=field):
        RowStationaryArray(**{**good, field: 2.0})


@pytest.mark.parametrize("field", WINDOW_FIELDS)
def test_bad_window_fields_name_the_field(field: str) -> None:
    bad = (-1, -(2**40)) if field == "out_h" else (0, -1, -(2**40))
    for value in bad:
        with pytest.raises(ValueError, match=f"{field} must be >= {int(field != 'out_h')}"):
            _core.ConvWindowSpec(**{field: value})


def test_bad_windows_through_the_face() -> None:
    rs = RowStationaryArray(12, 14)
    cases = [(ConvWindow((0, 3), 5, 5), "kernel_h"), (ConvWindow((3, 3), -1, 5), "out_h"),
             (ConvWindow((3, 3), 5, 0), "out_w"), (ConvWindow((3, 3), 5, 5, (1, 0)), "stride_w"),
             (ConvWindow((3, 3), 5, 5, (1, 1), (0, 1)), "dilation_h"),
             (ConvWindow((3.0, 3), 5, 5), "kernel_h"),  # type: ignore[arg-type]
             (ConvWindow((3, 3), 5, 2**64), "out_w")]
    for window, field in cases:
        with pytest.raises(ValueError, match=field):
            rs.cost(10, 2, 9, window)
    with pytest.raises(ValueError, match="window must be a ConvWindow"):
        rs.cost(10, 2, 9, (3, 3))  # type: ignore[arg-type]


@pytest.mark.parametrize(("m", "n", "k", "field"), [
    (0, 1, 1, "M"), (1, 0, 1, "N"), (1, 1, 0, "K"), (-5, 1, 1, "M"), (1, 1, -(2**62), "K"),
])
def test_bad_dims_name_the_dimension(m: int, n: int, k: int, field: str) -> None:
    spec, window = _core.RowStationarySpec(12, 14), _core.ConvWindowSpec()
    for fn in (_core.row_stationary_cost, _core.row_stationary_reference):
        with pytest.raises(ValueError, match=f"{field} must be >= 1, got "):
            fn(spec, window, m, n, k)
    with pytest.raises(ValueError, match=f"{field} must be in 1..2\\*\\*63 - 1, got "):
        RowStationaryArray(12, 14).cost(m, n, k)


@pytest.mark.parametrize(("window", "m", "n", "k", "what"), [
    (_core.ConvWindowSpec(), 2**62, 4, 1, "MACs|M\\*N"),
    (_core.ConvWindowSpec(), 2**31, 2**31, 2**31, "work units|MACs|M\\*N"),
    (_core.ConvWindowSpec(3, 3, 2**40, 2**20), 2**62, 2, 9, "work units|M\\*N|ifmap"),
    (_core.ConvWindowSpec(4, 1, 0, 1, 2, 1), 2**62, 1, 1, "ifmap rows"),
    (_core.ConvWindowSpec(1, 4, 1, 2**62, 1, 2), 1, 1, 4, "ifmap cols"),
])
def test_absurd_sizes_raise_value_error(
    window: _core.ConvWindowSpec, m: int, n: int, k: int, what: str
) -> None:
    spec = _core.RowStationarySpec(12, 14)
    for fn in (_core.row_stationary_cost, _core.row_stationary_reference):
        with pytest.raises(ValueError, match=f"({what}).* overflows 64-bit integers"):
            fn(spec, window, m, n, k)


@pytest.mark.parametrize(("window", "m", "k", "reads"), [
    (_core.ConvWindowSpec(1, 1, 0, 1, 2**62, 1), 5, 1, 5),  # 5 rows 2^62 apart
    (_core.ConvWindowSpec(2**40, 1, 0, 1, 1, 1, 2**30), 1, 2**40, 2**40),  # 2^40 taps 2^30 apart
    (_core.ConvWindowSpec(1, 3, 0, 1, 1, 1, 1, 2**62), 1, 3, 3),  # 3 columns 2^62 apart
])
def test_far_apart_taps_read_outs_x_taps_rows(
    window: _core.ConvWindowSpec, m: int, k: int, reads: int
) -> None:
    """A span past 2^63 that a stride or dilation spreads out is outs x taps rows, no overflow."""
    spec = _core.RowStationarySpec(12, 14)
    cost = _core.row_stationary_cost(spec, window, m, 1, k)
    assert cost.ifmap_reads == reads
    if k < 2**40:  # the tall filter is over the reference's budget
        assert as_dict(_core.row_stationary_reference(spec, window, m, 1, k)) == as_dict(cost)


def test_window_products_that_overflow() -> None:
    with pytest.raises(ValueError, match="kernel_h\\*kernel_w overflows"):
        _core.ConvWindowSpec(2**40, 2**40)
    with pytest.raises(ValueError, match="out_h\\*out_w overflows"):
        _core.ConvWindowSpec(3, 3, 2**40, 2**40)
    _core.ConvWindowSpec(3, 3, 0, 2**62)  # a GEMM ignores out_w


def test_huge_dims_through_the_face() -> None:
    rs = RowStationaryArray(12, 14)
    with pytest.raises(ValueError, match="M must be in 1..2\\*\\*63 - 1, got 18446744073709551616"):
        rs.cost(2**64, 1, 1)
    with pytest.raises(ValueError, match="N must be a positive integer"):
        rs.reference(1, 1.5, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="overflows"):
        rs.cost(2**40, 2**40, 1)


# -- (e) the reference's budget and Ctrl-C ---------------------------------------------------------


def test_reference_over_budget_raises_before_starting() -> None:
    rs = RowStationaryArray(12, 14)
    window = ConvWindow((3, 3), 13, 13)
    start = time.monotonic()
    with pytest.raises(ValueError, match="budget of 2\\^32 PE updates"):
        rs.reference(169, 4096, 9 * 4096, window)
    with pytest.raises(ValueError, match="budget"):
        rs.reference(10**9, 10**4, 10**4)
    assert time.monotonic() - start < 1.0


def test_ctrl_c_stops_the_reference() -> None:
    """SIGINT during a long run (0.8 x 2^32 PE updates, seconds) stops it within a poll period."""

    class Stop(Exception):
        pass

    def on_sigint(signum: int, frame: object) -> None:
        raise Stop

    rs = RowStationaryArray(12, 14)
    window = ConvWindow((3, 3), 13, 13)
    previous = signal.signal(signal.SIGINT, on_sigint)
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    try:
        start = time.monotonic()
        timer.start()
        with pytest.raises(Stop):
            rs.reference(169, 2048, 9 * 1024, window)
        assert time.monotonic() - start < 2.0
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)


def test_face_exports_and_repr() -> None:
    assert pysim.units.RowStationaryArray is RowStationaryArray
    rs = RowStationaryArray(12, 14, 224, 2)
    assert rs.pes == 336
    assert repr(rs.spec) == "RowStationarySpec(rows=12, cols=14, pe_weights=224, arrays=2)"
    assert "kernel_h=1" in repr(_core.ConvWindowSpec())
    d = rs.cost(100, 3, 7).to_dict()
    assert set(d) == {ours for _, ours in FIELDS}
