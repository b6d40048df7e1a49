"""Vectorised per-tile cost of a MAC unit, for the mapping search and the planner alike.

The search scores thousands of candidate tilings per op; calling the C++ closed form once per
tile shape would cost milliseconds per op, so each unit offers a *tile model*: a hashable object
whose ``evaluate(m, n, k)`` returns, for arrays of tile shapes, the cycles and the scratchpad
accesses of one tile. The systolic array's is the closed form of
``csrc/units/systolic_array.cpp`` in NumPy (tests hold the two equal on random shapes); the
low-precision units' call their C++ closed form once per distinct shape.

Cycles are split into ``steady`` and ``fill``: a tile's ``steady + fill`` is its cycles alone,
and tiles issued back to back on a pipelined array overlap one tile's fill and drain with the
next tile's folds (docs/systolic_timing.md, "pipelined"), so an op of several tiles takes the
sum of their ``steady`` cycles plus one ``fill``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class TileArrays:
    """Per tile shape: cycles (``steady`` + ``fill``), folds, MACs and scratchpad accesses in
    operand elements (A reads, B reads, partial-sum writes and read-backs)."""

    steady: np.ndarray
    fill: np.ndarray
    folds: np.ndarray
    macs: np.ndarray
    a_reads: np.ndarray
    b_reads: np.ndarray
    c_writes: np.ndarray
    c_reads: np.ndarray

    @property
    def cycles(self) -> np.ndarray:
        return self.steady + self.fill


class TileModel(Protocol):
    def evaluate(self, m: ArrayLike, n: ArrayLike, k: ArrayLike) -> TileArrays: ...


# Each dataflow's GEMM dimensions on the array's rows, on its columns, and streamed in time
# (SCALE-Sim's fold model, docs/systolic_timing.md). Row stationary ("rs") is not a pair of
# GEMM dimensions: it unrolls a convolution's filter rows and output rows (RowStationaryTiles).
SPATIAL: dict[str, tuple[str, str, str]] = {
    "os": ("m", "n", "k"), "ws": ("k", "n", "m"), "is": ("k", "m", "n")}
DATAFLOWS: tuple[str, ...] = (*SPATIAL, "rs")


def _cdiv(a: np.ndarray, b: int | np.ndarray) -> np.ndarray:
    return -(-a // b)


def stationary(on_rows: str, on_cols: str) -> str:
    """The operand a spatial unrolling keeps in the PEs: the one indexed by the two spatial
    dimensions (A[m, k], B[k, n], C[m, n])."""
    pair = {on_rows, on_cols}
    return {frozenset("mk"): "a", frozenset("kn"): "b", frozenset("mn"): "c"}[frozenset(pair)]


# The preset each stationary operand names (its spatial pair as SCALE-Sim lays it out).
PRESET = {"c": "os", "b": "ws", "a": "is"}


@dataclass(frozen=True)
class SystolicTiles:
    """SCALE-Sim's fold model of an R x C systolic array (docs/systolic_timing.md), for any
    spatial unrolling of two GEMM dimensions over the rows and columns (``spatial``; default
    the dataflow preset's): the operand indexed by both stays in the PEs, the one indexed by
    the row dimension and the streamed one enters along the rows and is re-read once per
    column fold, the one indexed by the column dimension and the streamed one once per row
    fold; partial sums leave once per fold of the reduction dimension (K) unless C stays."""

    rows: int
    cols: int
    dataflow: str
    timing: str
    pe_weights: int = 1  # weights each PE holds (WS / IS): partial sums stay in the PE
    arrays: int = 1  # identical arrays side by side, a dimension split across them
    # (dimension on the rows, on the columns[, the one split over the arrays if not the
    # columns']); () = the preset, the columns split
    spatial: tuple[str, ...] = ()

    def evaluate(self, m: ArrayLike, n: ArrayLike, k: ArrayLike) -> TileArrays:
        m, n, k = (np.asarray(x, dtype=np.int64) for x in (m, n, k))
        r, c = self.rows, self.cols
        on_rows, on_cols = self.spatial[:2] or SPATIAL[self.dataflow][:2]
        split = self.spatial[2] if len(self.spatial) > 2 else on_cols
        (streamed,) = set("mnk") - {on_rows, on_cols}
        dims = {"m": m, "n": n, "k": k}
        # Several arrays run slices of the split dimension at once, each ceil(D / arrays) of
        # it; an operand the split dimension does not index is broadcast to all.
        each = dict(dims)
        used = np.full_like(m, self.arrays)
        if split == "k" and streamed != "k":  # K fills one array's lanes before the next:
            lanes = r if on_rows == "k" else c  # a K that fits one needs no sum across them
            used = np.minimum(self.arrays, _cdiv(k, lanes))
        each[split] = _cdiv(dims[split], used)
        sr, sc, t = each[on_rows], each[on_cols], each[streamed]
        row_folds, col_folds = _cdiv(sr, r), _cdiv(sc, c)
        folds = row_folds * col_folds
        still = stationary(on_rows, on_cols)
        preload = 0 if still == "c" else r
        last = t + r + c - 2  # stream + skew fill + drain of one fold
        if self.timing == "scalesim":  # every fold pays its own load, fill and drain
            steady, fill = folds * (preload + last), np.zeros_like(folds)
        else:  # the next fold issues max(T, R) cycles after the previous one
            interval = np.maximum(t, r)
            steady, fill = folds * interval, preload + last - interval
        size = {"a": m * k, "b": k * n, "c": m * n}
        index = {"a": "mk", "b": "kn", "c": "mn"}
        times = {}
        for x in "abc":
            if x == still:
                times[x] = np.ones_like(folds)
            elif on_rows in index[x]:  # enters along the rows: once per column fold
                times[x] = col_folds
            else:  # along the columns: once per row fold
                times[x] = row_folds
        cw = times["c"] * size["c"]
        cr = cw - size["c"] if still != "c" else np.zeros_like(cw)
        if self.pe_weights > 1 and still != "c":
            # A PE holding d weights walks them for each streamed operand, keeping the
            # partial sum in its register: the same folds and cycles, but partial sums leave
            # the array once per d folds of K (ZigZag's TPU-like: 128 weights per PE).
            k_lanes = r if on_rows == "k" else c
            psum_folds = _cdiv(each["k"], k_lanes * self.pe_weights)
            cw, cr = psum_folds * size["c"], (psum_folds - 1) * size["c"]
        if split == "k" and self.arrays > 1:
            # each array in use sums its slice of K: every one's partial sums leave it, and
            # all but the final value are read back to be added (C = sum over the arrays)
            cw = np.minimum(used, k) * cw
            cr = cw - size["c"]
        return TileArrays(steady, fill, folds, m * n * k, times["a"] * size["a"],
                          times["b"] * size["b"], cw, cr)


@dataclass(frozen=True)
class ClosedFormTiles:
    """A unit whose closed form is only in C++: ``cost(m, n, k) -> TileCost`` once per distinct
    shape. ``unit`` and ``key`` (the op's widths etc.) make the model hashable; tiles of these
    units are not pipelined across (``fill`` is 0)."""

    unit: Any
    key: tuple

    def evaluate(self, m: ArrayLike, n: ArrayLike, k: ArrayLike) -> TileArrays:
        shapes = np.stack(np.broadcast_arrays(*(np.asarray(x, np.int64) for x in (m, n, k))))
        flat = shapes.reshape(3, -1)
        uniq, inverse = np.unique(flat, axis=1, return_inverse=True)
        rows = np.array([_as_row(self.unit.tile_cost_of(int(a), int(b), int(c), self.key))
                         for a, b, c in uniq.T], dtype=np.int64).reshape(-1, 7)
        cycles, folds, macs, a, b, cw, cr = rows[np.ravel(inverse)].T.reshape(
            7, *shapes.shape[1:])
        return TileArrays(cycles, np.zeros_like(cycles), folds, macs, a, b, cw, cr)


def _as_row(cost: Any) -> tuple[int, ...]:
    return (cost.cycles, cost.folds, cost.macs, cost.input_reads, cost.weight_reads,
            cost.output_writes, cost.output_reads)


@dataclass(frozen=True)
class ConvWindow:
    """The convolution loops row stationary unrolls: filter rows x cols (R, S), output rows x
    cols (E, F), stride and dilation. A GEMM is a 1 x 1 convolution over an M x 1 image
    (``out_h`` 0: every row of M is one output row of width 1)."""

    kernel: tuple[int, int] = (1, 1)
    out_h: int = 0
    out_w: int = 1
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)

    @classmethod
    def of(cls, op: Any) -> ConvWindow:
        if getattr(op, "type", "") != "conv2d":
            return cls()
        return cls(tuple(op.kernel), op.out_h, op.out_w, tuple(op.stride), tuple(op.dilation))


@dataclass(frozen=True)
class RowStationaryTiles:
    """Eyeriss's row-stationary dataflow on an R x C PE array (Y.-H. Chen, J. Emer, V. Sze,
    ISCA 2016, Sec. V; Chen et al., JSSC 2017, Sec. III-B).

    Each PE runs a 1-D convolution: one filter row (S weights, kept in its spad) over one
    ifmap row, producing one row of F partial sums, S MACs per output. A *PE set* of R filter
    rows x E output rows computes one 2-D convolution (one channel of one filter): ifmap rows
    are shared diagonally, partial sums add up the R rows of a column. The set is fit onto the
    array as Eyeriss does: E is cut into strips of at most ``cols`` output rows, and
    ``floor(rows / R)`` strips or whole sets (other channels or filters) run stacked on the
    rows at once, so AlexNet's CONV1 (R 11, E 55) keeps 151 PEs busy on average, CONV2 (5 x 27
    as two stacked strips) 135 and CONV3-5 (four 3 x 13 sets) 156, as the JSSC paper's AlexNet
    table (154, 135, 156 active PEs) has them. A filter taller than the array is cut into row
    chunks.

    Per PE, the spad's ``pe_weights`` words hold S x p x q weights: p filters share each
    ifmap row read (ifmap reuse) and q channels accumulate in the psum register (psum reuse):
    q = floor(sqrt(pe_weights / S)), p = floor(pe_weights / S / q), each at least 1 (a spad
    smaller than one filter row streams it) and at most the tile's extent. Scratchpad
    accesses per tile: each ifmap element the tile's output rows read (the rows and columns
    the windows touch: a stride that skips rows skips them) once per p filters; each weight
    once per strip, a set keeping its weights across the images of a batch; partial sums
    leave the array once per q x (stacked sets) channels. A tile may cover whole images and
    part of one more; each is cut into strips of its own. Timing: passes x F x S cycles plus
    one set's fill (``timing`` does not apply). CONV1's 151 busy PEs are the mean over its
    four strips (the paper's 154 is one 11 x 14 strip's)."""

    rows: int
    cols: int
    pe_weights: int = 1
    arrays: int = 1
    window: ConvWindow = ConvWindow()

    def set_shape(self) -> tuple[int, int, int]:
        """(row chunks of a filter, rows per chunk, sets stacked on the rows)."""
        r = self.window.kernel[0]
        chunks = -(-r // self.rows)
        height = -(-r // chunks)
        return chunks, height, self.rows // height

    def evaluate(self, m: ArrayLike, n: ArrayLike, k: ArrayLike) -> TileArrays:
        m, n, k = (np.asarray(x, dtype=np.int64) for x in (m, n, k))
        w = self.window
        r, s = w.kernel
        chunks, height, stack = self.set_shape()
        # The tile's output rows: `whole` full images of E rows and a partial one of `part`
        # rows (a GEMM: one image of M rows of width 1).
        if w.out_h == 0:
            whole, part, e, f = np.zeros_like(m), m, 0, 1
        else:
            image = w.out_h * w.out_w
            whole, e, f = m // image, w.out_h, w.out_w
            part = _cdiv(m % image, f)
        some = (part > 0).astype(np.int64)
        strips_e, strips_part = -(-e // self.cols), _cdiv(part, self.cols)
        strips = np.where(whole > 0, strips_e, strips_part)  # of the tile's largest image
        channels = _cdiv(k, r * s)
        # 1-D convolutions of F outputs each, spread over the stacked set slots
        work = (whole * strips_e + some * strips_part) * channels * n * chunks
        passes = _cdiv(work, stack * self.arrays)
        steady = passes * f * s
        fill = np.full_like(steady, height + self.cols - 1)
        pairs = max(1, self.pe_weights // s)  # a spad below one filter row streams it
        q = np.clip(int(math.isqrt(pairs)), 1, channels)
        p = np.clip(pairs // q, 1, n)

        def touched(outs: Any, stride: int, taps: int, dilation: int) -> Any:
            # distinct input rows (columns) e x stride + r x dilation that outs output rows
            # read: two reads repeat a row only when shifted by a multiple of
            # (dilation / g, stride / g), g = gcd(stride, dilation) (the span when both are 1,
            # outs x taps when the stride skips rows)
            g = math.gcd(stride, dilation)
            return outs * taps - (np.maximum(0, outs - dilation // g)
                                  * max(0, taps - stride // g))

        in_cols = touched(f, w.stride[1], s, w.dilation[1])
        rows_read = (whole * touched(e, w.stride[0], r, w.dilation[0])
                     + some * touched(np.maximum(part, 1), w.stride[0], r, w.dilation[0]))
        a = rows_read * in_cols * channels * _cdiv(n, p)
        b = k * n * strips
        sets_summed = np.maximum(1, stack // strips)  # stacked sets hold other channels
        psum_folds = _cdiv(channels * chunks, q * sets_summed)
        mn = m * n
        return TileArrays(steady, fill, passes, m * n * k, a, b, psum_folds * mn,
                          (psum_folds - 1) * mn)
