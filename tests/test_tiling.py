"""GEMM tiling (``pysim.mapping.tiling.plan_gemm``) against an explicit walk of the loop nest.

The walk (``_walk``) steps through every (m, n, k) tile index in the plan's loop order, keeps
one resident tile per operand and counts a DRAM access each time the tile an operand needs
changes. C keeps its partial sums while its tile stays; each time it leaves before the
reduction is complete it spills them (written at ``psum_bits``) and reads them back on the next
visit; the last visit writes the result at ``c_bits``. Bytes follow tiling.py's DRAM layout
model: tensors are row-major; a tile spanning whole tensor rows is contiguous, so a pass over
the tensor in such tiles streams it (``ceil(bytes / burst)`` bursts per full pass); a narrower
tile costs each of its rows rounded up to whole bursts.

Properties, on random small GEMMs and capacities (hypothesis, derandomised):
(a) every tile of the chosen plan fits the capacity (twice, when double buffered);
(b) the reported DRAM bytes equal the walk's;
(c) no (tile sizes x loop order) combination from the same candidate sets that fits has fewer
    bytes by the walk (on power-of-two sizes), and ragged tiles are counted exactly;
plus tile_shapes() covering the GEMM exactly and ValueError when nothing fits.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pysim.mapping.tiling import ORDERS, Capacity, GemmTiling, _candidates, plan_gemm, tile_shapes

SETTINGS = settings(derandomize=True, database=None, deadline=None, max_examples=300,
                    suppress_health_check=[HealthCheck.too_slow])


def _nbytes(elements, bits: int):
    return (elements * bits + 7) // 8


def _round_up(x, burst: int):
    return -(-x // burst) * burst


def _extent(dim: int, tile: int, index: np.ndarray) -> np.ndarray:
    return np.minimum(tile, dim - index * tile)


def _accesses(rows: int, cols: int, tile_rows: int, tile_cols: int, ir: np.ndarray,
              ic: np.ndarray, bits: int, burst: int) -> int:
    """DRAM bytes of accessing tiles (ir[i], ic[i]) of a rows x cols row-major tensor."""
    if ir.size == 0:
        return 0
    h = _extent(rows, tile_rows, ir)
    if tile_cols >= cols:  # whole rows: contiguous tiles; a full pass streams the tensor
        passes, rest = divmod(int((h * cols).sum()), rows * cols)
        assert rest == 0, "contiguous tiles must cover whole passes over the tensor"
        return passes * _round_up(_nbytes(rows * cols, bits), burst)
    w = _extent(cols, tile_cols, ic)
    return int((h * _round_up(_nbytes(w, bits), burst)).sum())


def _walk(m, n, k, mt, nt, kt, order, a_bits, b_bits, c_bits, psum_bits, burst, a_on_chip,
          resident=""):
    """Explicit DRAM traffic of the loop nest: (A read, B read, C written, C read back). An
    operand named in ``resident`` ("A", "B", "C") stays in its buffer once fetched: each of
    its tiles moves once (C: written once, never read back)."""
    trips = {"m": -(-m // mt), "n": -(-n // nt), "k": -(-k // kt)}
    # Every iteration of the nest, outermost loop first, innermost varying fastest.
    grid = np.indices([trips[d] for d in order]).reshape(3, -1)
    idx = {d: grid[i] for i, d in enumerate(order)}

    def needs_new_tile(r: str, c: str, kept: bool = False) -> np.ndarray:
        """Iterations where the operand indexed by loops (r, c) needs a different tile (a
        kept operand: a tile it never held before)."""
        key = np.stack([idx[r], idx[c]])
        new = np.zeros(key.shape[1], dtype=bool)
        if kept:
            new[np.unique(key, axis=1, return_index=True)[1]] = True
            return new
        new[0] = True
        new[1:] = (key[:, 1:] != key[:, :-1]).any(axis=0)
        return new

    a = 0
    if not a_on_chip:
        sel = needs_new_tile("m", "k", "A" in resident)
        a = _accesses(m, k, mt, kt, idx["m"][sel], idx["k"][sel], a_bits, burst)
    sel = needs_new_tile("k", "n", "B" in resident)
    b = _accesses(k, n, kt, nt, idx["k"][sel], idx["n"][sel], b_bits, burst)
    # C: one visit per stretch of iterations on the same (m, n) tile (kept: one in all).
    sel = needs_new_tile("m", "n", "C" in resident)
    vm, vn = idx["m"][sel], idx["n"][sel]
    tile_id = vm * trips["n"] + vn
    first = np.zeros(tile_id.size, dtype=bool)
    first[np.unique(tile_id, return_index=True)[1]] = True
    last = np.zeros(tile_id.size, dtype=bool)
    last[tile_id.size - 1 - np.unique(tile_id[::-1], return_index=True)[1]] = True

    def c_bytes(mask: np.ndarray, bits: int) -> int:
        return _accesses(m, n, mt, nt, vm[mask], vn[mask], bits, burst)

    c_written = c_bytes(last, c_bits) + c_bytes(~last, psum_bits)
    c_read = c_bytes(~first, psum_bits)
    return a, b, c_written, c_read


def _footprints(p: dict, mt: int, nt: int, kt: int, order: str) -> dict[str, int]:
    """Per operand that is refetched across a loop it ignores: the most bytes of its distinct
    tiles touched within one trip of that loop (what its buffer holds to keep it)."""
    m, n, k = p["m"], p["n"], p["k"]
    tile, dim = {"m": mt, "n": nt, "k": kt}, {"m": m, "n": n, "k": k}
    trips = {d: -(-dim[d] // tile[d]) for d in "mnk"}
    grid = np.indices([trips[d] for d in order]).reshape(3, -1)
    idx = {d: grid[i] for i, d in enumerate(order)}
    out = {}
    for name, (r, c), other, bits in (("A", "mk", "n", p["a_bits"]), ("B", "kn", "m",
                                      p["b_bits"]), ("C", "mn", "k", p["psum_bits"])):
        if order.index(other) > max(order.index(r), order.index(c)):
            continue  # never refetched
        outer = order[:order.index(other) + 1]
        groups = np.stack([idx[d] for d in outer])
        worst = 0
        for g in np.unique(groups, axis=1).T:
            sel = (g == groups.T).all(axis=1)
            tiles = np.unique(np.stack([idx[r][sel], idx[c][sel]]), axis=1)
            elems = sum(int(_extent(dim[r], tile[r], i) * _extent(dim[c], tile[c], j))
                        for i, j in tiles.T)
            worst = max(worst, _nbytes(elems, bits))
        out[name] = worst
    return out


def _tile_bytes(mt, nt, kt, a_bits, b_bits, psum_bits, a_on_chip):
    return (0 if a_on_chip else _nbytes(mt * kt, a_bits), _nbytes(kt * nt, b_bits),
            _nbytes(mt * nt, psum_bits))


def _fits(cap: Capacity, tile: tuple[int, int, int]) -> bool:
    copies = 2 if cap.double_buffered else 1
    a, b, c = (copies * x for x in tile)
    if cap.unified:
        return a + b + c <= cap.input_bytes
    return a <= cap.input_bytes and b <= cap.weight_bytes and c <= cap.output_bytes


ANY_DIM = st.integers(1, 40)
ANY_GRAIN = st.sampled_from([1, 1, 2, 4, 8])


@st.composite
def gemm_problems(draw, dims=ANY_DIM, grains=ANY_GRAIN):
    m, n, k = (draw(dims) for _ in range(3))
    a_bits = draw(st.sampled_from([4, 8, 16]))
    b_bits = draw(st.sampled_from([4, 8, 16]))
    c_bits = draw(st.sampled_from([8, 16, 32]))
    psum_bits = draw(st.sampled_from([16, 32]))
    unified = draw(st.booleans())
    double_buffered = draw(st.booleans())
    a_on_chip = draw(st.booleans())
    if draw(st.integers(0, 4)) == 0:  # any capacity, often too small for anything
        sizes = [draw(st.integers(0, 4096)) for _ in range(3)]
    else:  # room for a random tile plus a little slack: tight, so tiling matters
        tile = _tile_bytes(draw(st.integers(1, m)), draw(st.integers(1, n)),
                           draw(st.integers(1, k)), a_bits, b_bits, psum_bits, a_on_chip)
        copies = 2 if double_buffered else 1
        sizes = [copies * x + draw(st.integers(0, 24)) for x in tile]
        if unified:
            sizes[0] = sum(sizes)
    cap = Capacity(input_bytes=sizes[0], weight_bytes=sizes[1], output_bytes=sizes[2],
                   unified=unified, double_buffered=double_buffered)
    return dict(m=m, n=n, k=k, a_bits=a_bits, b_bits=b_bits, c_bits=c_bits,
                psum_bits=psum_bits, capacity=cap, grains=tuple(draw(grains) for _ in range(3)),
                a_on_chip=a_on_chip, burst=draw(st.sampled_from([1, 8])))


def _plan(p: dict) -> GemmTiling:
    return plan_gemm(p["m"], p["n"], p["k"], p["a_bits"], p["b_bits"], p["c_bits"],
                     p["psum_bits"], p["capacity"], *p["grains"], p["a_on_chip"], p["burst"])


def _anything_fits(p: dict) -> bool:
    """Whether the smallest candidate tiles fit (the search's own feasibility)."""
    smallest = (int(_candidates(p["m"], p["grains"][0])[0]),
                int(_candidates(p["n"], p["grains"][1])[0]),
                int(_candidates(p["k"], p["grains"][2])[0]))
    return _fits(p["capacity"], _tile_bytes(*smallest, p["a_bits"], p["b_bits"],
                                            p["psum_bits"], p["a_on_chip"]))


def _walk_plan(p: dict, mt: int, nt: int, kt: int, order: str,
               resident: str = "") -> tuple[int, int, int, int]:
    return _walk(p["m"], p["n"], p["k"], mt, nt, kt, order, p["a_bits"], p["b_bits"],
                 p["c_bits"], p["psum_bits"], p["burst"], p["a_on_chip"], resident)


@SETTINGS
@given(gemm_problems())
def test_chosen_tiles_fit_and_bytes_match_the_loop_nest(p):
    if not _anything_fits(p):
        with pytest.raises(ValueError, match="no tile"):
            _plan(p)
        return
    t = _plan(p)
    m, n, k = p["m"], p["n"], p["k"]
    # The tile sizes come from the candidate sets.
    assert t.mt in _candidates(m, p["grains"][0])
    assert t.nt in _candidates(n, p["grains"][1])
    assert t.kt in _candidates(k, p["grains"][2])
    assert t.order in ORDERS
    # (a) Every tile shape fits (the full-size one is the largest), and so do the footprints
    # of the operands kept resident.
    shapes = tile_shapes(m, n, k, t)
    for _, mt, nt, kt in shapes:
        tile = _tile_bytes(mt, nt, kt, p["a_bits"], p["b_bits"], p["psum_bits"], p["a_on_chip"])
        assert _fits(p["capacity"], tile), (shapes, tile, p["capacity"])
    foot = _footprints(p, t.mt, t.nt, t.kt, t.order)
    kept = tuple(foot[x] if x in t.resident else b for x, b in zip(
        "ABC", _tile_bytes(t.mt, t.nt, t.kt, p["a_bits"], p["b_bits"], p["psum_bits"],
                           p["a_on_chip"]), strict=True))
    assert _fits(p["capacity"], kept), (t, kept, p["capacity"])
    # (b) Reported traffic equals the explicit walk of the loop nest.
    a, b, c_written, c_read = _walk_plan(p, t.mt, t.nt, t.kt, t.order, t.resident)
    reported = {"A read": t.a_read_bytes, "B read": t.b_read_bytes,
                "C written": t.c_write_bytes, "C read back": t.c_read_bytes}
    walked = {"A read": a, "B read": b, "C written": c_written, "C read back": c_read}
    for key in reported:
        assert reported[key] == walked[key], (key, t, walked)
    assert t.read_bytes == t.a_read_bytes + t.b_read_bytes + t.c_read_bytes
    assert t.write_bytes == t.c_write_bytes
    # Refetch counts and spills agree with the bytes.
    assert (t.a_refetch == 0) == p["a_on_chip"]
    if t.c_spills == 0:
        assert t.c_read_bytes == 0
    else:
        assert t.c_read_bytes > 0


def _brute_force_min(p: dict) -> tuple[int, tuple[int, int, int, str]]:
    """Fewest walked bytes over every fitting (candidate tile sizes x loop order)."""
    cands = [_candidates(d, g).tolist()
             for d, g in zip((p["m"], p["n"], p["k"]), p["grains"], strict=True)]
    best = None
    for mt, nt, kt in itertools.product(*cands):
        tile = _tile_bytes(mt, nt, kt, p["a_bits"], p["b_bits"], p["psum_bits"], p["a_on_chip"])
        if not _fits(p["capacity"], tile):
            continue
        for order in ORDERS:
            foot = _footprints(p, mt, nt, kt, order)
            for n_kept in range(len(foot) + 1):
                for kept in itertools.combinations(sorted(foot), n_kept):
                    need = tuple(foot[x] if x in kept else b
                                 for x, b in zip("ABC", tile, strict=True))
                    if p["a_on_chip"] and "A" in kept or not _fits(p["capacity"], need):
                        continue
                    total = sum(_walk_plan(p, mt, nt, kt, order, "".join(kept)))
                    if best is None or total < best[0]:
                        best = (total, (mt, nt, kt, order + " kept " + "".join(kept)))
    assert best is not None
    return best


# Power-of-two dimensions and grains: every candidate tile size divides its dimension, so no
# tile is ragged (the case that test_search_not_misled_by_ragged_tiles pins).
DIVISIBLE = gemm_problems(dims=st.sampled_from([1, 2, 4, 8, 16]),
                          grains=st.sampled_from([1, 2, 4, 8]))


# Dimensions up to 16 and 80 examples: the brute force walks every tile (sizes below the
# grain included) x order x kept set (150 examples took 20 s of CI's time).
@settings(SETTINGS, max_examples=80)
@given(DIVISIBLE)
def test_no_candidate_tiling_moves_fewer_bytes(p):
    if not _anything_fits(p):
        return
    t = _plan(p)
    chosen = sum(_walk_plan(p, t.mt, t.nt, t.kt, t.order, t.resident))
    assert chosen == t.read_bytes + t.write_bytes
    best, (mt, nt, kt, order) = _brute_force_min(p)
    assert chosen <= best, (
        f"chosen {t.mt}x{t.nt}x{t.kt} {t.order}: {chosen} B, but {mt}x{nt}x{kt} {order}: "
        f"{best} B")


def test_search_not_misled_by_ragged_tiles():
    p = dict(m=1, n=9, k=1, a_bits=4, b_bits=4, c_bits=32, psum_bits=16,
             capacity=Capacity(input_bytes=0, weight_bytes=8, output_bytes=32, unified=False),
             grains=(1, 4, 1), a_on_chip=True, burst=8)
    t = _plan(p)
    chosen = sum(_walk_plan(p, t.mt, t.nt, t.kt, t.order, t.resident))
    best, plan = _brute_force_min(p)
    assert best == 56
    assert chosen == best, (
        f"chosen {t.mt}x{t.nt}x{t.kt} {t.order} moves {chosen} B; {plan} moves {best} B")


def test_ragged_narrow_tiles_are_not_overcounted():
    cap = Capacity(input_bytes=107, weight_bytes=422, output_bytes=1037, unified=True,
                   double_buffered=False)
    t = plan_gemm(13, 23, 14, 4, 4, 8, 16, cap, 1, 1, 1, False, 1)
    assert t.c_spills == 0
    # Whatever the tiling, C (13 x 23 bytes) is written exactly once, byte-granular.
    assert t.c_write_bytes == 13 * 23, (
        f"tile {t.mt}x{t.nt}x{t.kt} order {t.order}: C written {t.c_write_bytes} B, "
        f"expected {13 * 23} B")


def test_walk_matches_hand_counts():
    # A 4 x 6 x 8 GEMM, 8-bit A and B, 32-bit C and partial sums, burst 1, tiles 2 x 3 x 4,
    # order "kmn": k outermost, so each C tile is visited twice (one spill + one read-back),
    # A (m, k) is read once, B (k, n) is re-read for each m tile (2 passes).
    a, b, c_written, c_read = _walk(4, 6, 8, 2, 3, 4, "kmn", 8, 8, 32, 32, 1, False)
    assert a == 4 * 8
    assert b == 2 * 8 * 6
    assert c_written == 2 * 4 * 6 * 4
    assert c_read == 4 * 6 * 4


@SETTINGS
@given(st.integers(1, 60), st.integers(1, 60), st.integers(1, 60),
       st.integers(1, 60), st.integers(1, 60), st.integers(1, 60))
def test_tile_shapes_cover_the_gemm(m, n, k, mt, nt, kt):
    mt, nt, kt = min(mt, m), min(nt, n), min(kt, k)
    tiles = -(-m // mt) * -(-n // nt) * -(-k // kt)
    t = GemmTiling(mt, nt, kt, "mnk", tiles, 0, 0, 0, 0, 1, 1, 0)
    shapes = tile_shapes(m, n, k, t)
    assert sum(c for c, *_ in shapes) == tiles
    assert sum(c * a * b * d for c, a, b, d in shapes) == m * n * k
    assert all(1 <= a <= mt and 1 <= b <= nt and 1 <= d <= kt for _, a, b, d in shapes)
    assert len({s[1:] for s in shapes}) == len(shapes)  # distinct


def test_raises_value_error_when_nothing_fits():
    cap = Capacity(input_bytes=11, weight_bytes=11, output_bytes=11, unified=True)
    # The smallest tile, 1 x 1 x 1 of 8-bit A and B and a 32-bit sum, needs 2 x 6 = 12 bytes.
    with pytest.raises(ValueError, match="no tile of GEMM M=5 N=6 K=7"):
        plan_gemm(5, 6, 7, 8, 8, 8, 32, cap)
    assert plan_gemm(5, 6, 7, 8, 8, 8, 32, Capacity(12, 0, 0, True)).tiles == 5 * 6 * 7
    # Per-operand scratchpads: any one of them too small is enough to fail.
    with pytest.raises(ValueError):
        plan_gemm(5, 6, 7, 8, 8, 8, 32, Capacity(1000, 1000, 7, unified=False))
    with pytest.raises(ValueError):
        plan_gemm(5, 6, 7, 8, 8, 8, 32, Capacity(0, 0, 0, unified=True, double_buffered=False))


def test_everything_fits_one_tile_reads_each_operand_once():
    # 16 x 24 x 32, 8-bit operands, 32-bit C: every operand fits whole, so one tile and one
    # pass each, rounded to 64-byte bursts.
    cap = Capacity(input_bytes=1 << 20, weight_bytes=1 << 20, output_bytes=1 << 20,
                   unified=False)
    t = plan_gemm(16, 24, 32, 8, 8, 32, 32, cap, 1, 1, 1, False, 64)
    assert (t.mt, t.nt, t.kt, t.tiles) == (16, 24, 32, 1)
    assert t.a_read_bytes == 512
    assert t.b_read_bytes == 768
    assert t.c_write_bytes == 16 * 24 * 4
    assert t.c_read_bytes == 0 and t.c_spills == 0
    assert t.a_refetch == t.b_refetch == 1
