"""C's sub-tile at its innermost level when the DRAM-level tile's partial sums live further out.

A memory hierarchy holds one tile per level (Timeloop's and ZigZag's loop nests): when a C tile
is too large for the innermost output level (an accumulator buffer, ZigZag's Eyeriss-like
``sram_8KB``) it lives at an outer level of its chain (``backed_by``), but the array can still
walk it in sub-tiles ``m' x n'`` that the inner level holds across the whole K of the tile. The
array's partial-sum writes and read-backs then hit the inner level, and each sub-tile leaves it
once, into the outer level. The price: the operands streamed per sub-tile are re-read (a
weight-stationary array reloads its weights for every ``m'`` rows).

The sub-tile is chosen after the DRAM-level tile, among those whose cycles add up to no more
than the whole tile's (so the search's latency stands), for the least energy of the accesses
it changes; no sub-tile is kept when walking the whole tile costs less.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pysim.mapping.tile_model import TileArrays, TileModel
from pysim.mapping.tiling import _candidates


@dataclass(frozen=True)
class SubTilePrices:
    """pJ per bit of the accesses a sub-tile changes, and per weight loaded into a PE."""

    a_read: float
    b_read: float
    inner_read: float
    inner_write: float
    outer_read: float
    outer_write: float
    weight_fill: float = 0.0


@dataclass(frozen=True)
class SubTile:
    m: int
    n: int
    cost: TileArrays  # per DRAM-level tile shape, walked in sub-tiles (the tile's own cycles)


def _split(dims: np.ndarray, sub: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(count, size) of the full sub-tiles and of the remainder, elementwise."""
    full, rest = np.divmod(dims, sub)
    return [(full, np.broadcast_to(sub, dims.shape)), ((rest > 0).astype(np.int64), rest)]


def choose_c_subtile(model: TileModel, whole: TileArrays, times: np.ndarray, ms: np.ndarray,
                     ns: np.ndarray, ks: np.ndarray, grains: tuple[int, int],
                     capacity_bytes: int, bits: tuple[int, int, int],
                     prices: SubTilePrices, must_pay: bool = True) -> SubTile | None:
    """The cheapest sub-tile of C for tiles ``(ms, ns, ks)`` (each occurring ``times``), or
    None. ``whole`` is the model's cost of the whole tiles; ``bits`` = (A, B, partial sum).
    ``must_pay``: None where walking the whole tile costs less energy (else the cheapest
    sub-tile all the same: the caller weighs what the outer level's ports make of it)."""
    a_bits, b_bits, p_bits = bits
    cm = _candidates(int(ms.max()), grains[0], below_grain=False)
    cn = _candidates(int(ns.max()), grains[1], below_grain=False)
    sm, sn = np.repeat(cm, len(cn)), np.tile(cn, len(cm))
    fits = (sm * sn * p_bits + 7) // 8 <= capacity_bytes
    sm, sn = sm[fits], sn[fits]
    if not len(sm):
        return None
    n_cand, n_shape = len(sm), len(ms)
    # every (candidate, tile shape, sub-shape): 4 sub-shapes (full / remainder in m and n)
    mm, nn, kk, cnt, owner = [], [], [], [], []
    M, N, K = (np.broadcast_to(x[None, :], (n_cand, n_shape)) for x in (ms, ns, ks))
    SM, SN = (np.broadcast_to(x[:, None], (n_cand, n_shape)) for x in (sm, sn))
    SM, SN = np.minimum(SM, M), np.minimum(SN, N)
    for mc, msz in _split(M, SM):
        for nc, nsz in _split(N, SN):
            mm.append(msz)
            nn.append(nsz)
            kk.append(K)
            cnt.append(mc * nc)
            owner.append(np.arange(n_cand * n_shape).reshape(n_cand, n_shape))
    mm_a, nn_a, kk_a, cnt_a, own_a = (np.stack(x).ravel() for x in (mm, nn, kk, cnt, owner))
    live = cnt_a > 0
    sub = model.evaluate(np.maximum(mm_a[live], 1), np.maximum(nn_a[live], 1), kk_a[live])
    cnt_l, own_l = cnt_a[live], own_a[live]

    def total(x: np.ndarray) -> np.ndarray:
        out = np.zeros(n_cand * n_shape, dtype=np.int64)
        np.add.at(out, own_l, cnt_l * np.asarray(x, dtype=np.int64))
        return out.reshape(n_cand, n_shape)

    steady, a, b, cw, cr = (total(x) for x in (sub.steady, sub.a_reads, sub.b_reads,
                                               sub.c_writes, sub.c_reads))
    ok = (steady <= whole.steady[None, :]).all(axis=1)
    if not ok.any():
        return None
    drain = ms * ns * p_bits * (prices.inner_read + prices.outer_write)
    pj = (times[None, :] * (a * a_bits * prices.a_read
                            + b * (b_bits * prices.b_read + prices.weight_fill)
                            + p_bits * (cw * prices.inner_write + cr * prices.inner_read)
                            + drain[None, :])).sum(axis=1)
    base = float((times * (whole.a_reads * a_bits * prices.a_read
                           + whole.b_reads * (b_bits * prices.b_read + prices.weight_fill)
                           + p_bits * (whole.c_writes * prices.outer_write
                                       + whole.c_reads * prices.outer_read))).sum())
    pj = np.where(ok, pj, np.inf)
    best = int(np.argmin(pj))
    if must_pay and not pj[best] < base:
        return None
    cost = TileArrays(whole.steady, whole.fill, whole.folds, whole.macs, a[best], b[best],
                      cw[best], cr[best])
    return SubTile(int(sm[best]), int(sn[best]), cost)
