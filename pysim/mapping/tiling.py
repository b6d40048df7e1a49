"""The mapping search: tiles, loop order and kept operands of a GEMM, and the DRAM traffic,
cycles and energy they imply.

A GEMM C[M, N] = A[M, K] x B[K, N] is cut into tiles (Mt, Nt, Kt), multiples of the unit's
spatial grains (or narrower, where a tight scratchpad needs it), that fit the scratchpads with
double buffering, and walked by a three-deep loop nest over tile indices in one of six orders.
Off-chip traffic follows the reuse analysis of Timeloop's and ZigZag's loop-nest models: an
operand is fetched again for every trip of the loop it does not depend on when that loop sits
outside its innermost relevant loop, unless a level of its memory chain keeps its footprint
over the loops inside (then once; C's partial sums otherwise spill, written and read back at
the accumulator width). DRAM moves whole bursts, so a tile whose rows are shorter than a full
tensor row pays each row's rounding.

Every (tile, order, kept operands) candidate is scored by the ``Objective``: ``latency`` is
the engine's own schedule of the op (csrc/mapping/search.cpp) from the unit's tile model, each
DRAM stream's achieved bandwidth and the transfer latency, found by branch and bound over an
exact lower bound, ties within ``LATENCY_TIE`` broken by energy; ``energy`` and ``edp`` price
DRAM, scratchpad and DMA traffic per action; ``traffic`` is DRAM bytes plus a row-open penalty
(the objective before issue 11). The search is exhaustive over a small candidate set per
dimension; its per-candidate set-up (NumPy reference ``_setup_reference``, tests hold the two
equal to the bit) and its walk over candidates and slices run in C++ (csrc/mapping/search.cpp).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import permutations, product
from typing import Any, NamedTuple

import numpy as np

from pysim import _core
from pysim.engine.dram import run_efficiency
from pysim.mapping.tile_model import SPATIAL, SystolicTiles, TileArrays, TileModel

ORDERS: tuple[str, ...] = tuple("".join(p) for p in permutations("mnk"))
ROLES = ("input", "weight", "output")
ROLE = {"a": "input", "b": "weight", "c": "output"}
# Relative latency difference the latency objective treats as a tie (then energy decides):
# bigger memories or more bandwidth are so never slower by more than this.
LATENCY_TIE = 1e-4
MAX_SCHEDULES = 4096  # engine schedules scored per GEMM at most (the walk stops far sooner)


class NoTileFits(ValueError):
    """Not even the smallest candidate tiles of a GEMM fit the scratchpads. ``least``: per
    capacity group (scratchpad), the fewest bytes any candidate tile needs there (its
    operands' tiles, doubled when double-buffered, C counted where it is innermost)."""

    def __init__(self, message: str, least: tuple[int, ...] = ()) -> None:
        super().__init__(message)
        self.least = least


@dataclass(frozen=True)
class Capacity:
    """Bytes available to each operand's tiles.

    ``groups`` is the general form: one entry per scratchpad, ``(roles, bytes, double_buffered)``
    with roles drawn from "input", "weight", "output"; the tiles of the roles a scratchpad holds
    innermost must fit it together, twice over when it is double-buffered. ``outer`` lists
    ``(role, group index)`` for every level behind a role's innermost one (its memory
    hierarchy, innermost first): a kept footprint may live there instead. Without ``groups``,
    the three byte fields describe either one scratchpad holding all three (``unified``, sized
    ``input_bytes``) or three separate ones. ``varying``: the group whose bytes change from op
    to op (the input scratchpad, less the kept area's tensors: pysim/mapping/planner.py), -1
    none; ``plan_gemm`` reports the range of its bytes that finds the same tiling
    (``GemmTiling.room``).
    """

    input_bytes: int = 0
    weight_bytes: int = 0
    output_bytes: int = 0
    unified: bool = False
    double_buffered: bool = True
    groups: tuple[tuple[tuple[str, ...], int, bool], ...] = ()
    outer: tuple[tuple[str, int], ...] = ()
    varying: int = -1

    def resolved_groups(self) -> tuple[tuple[tuple[str, ...], int, bool], ...]:
        if self.groups:
            return self.groups
        db = self.double_buffered
        if self.unified:
            return ((("input", "weight", "output"), self.input_bytes, db),)
        return ((("input",), self.input_bytes, db), (("weight",), self.weight_bytes, db),
                (("output",), self.output_bytes, db))


@dataclass(frozen=True)
class GemmTiling:
    """The chosen tiling of one GEMM and its DRAM traffic in bytes."""

    mt: int
    nt: int
    kt: int
    order: str  # loop order over tiles, outermost first, e.g. "mnk"
    tiles: int
    a_read_bytes: int
    b_read_bytes: int
    c_write_bytes: int
    c_read_bytes: int  # partial sums read back
    a_refetch: int  # how many times A is read in full
    b_refetch: int
    c_spills: int  # partial-sum round trips per output element
    compute_cycles: int = 0  # the objective's estimates (0 under the traffic objective)
    latency_cycles: float = 0.0
    energy_pj: float = 0.0
    resident: str = ""  # operands ("A", "B", "C") whose buffer keeps them across a loop
    # (operand, group index) of those kept at an outer level, and the bytes that level serves
    # the inner one in place of DRAM (re-reads of A / B; partial-sum spills of C, each way)
    kept_outer: tuple[tuple[str, int], ...] = ()
    refill_bytes: tuple[tuple[str, int], ...] = ()
    c_level: int = -1  # capacity group holding C's tile when not its innermost level
    c_final_bytes: int = -1  # C's final write (of c_write_bytes; -1: not given, all of it)
    # the bytes of the capacity's varying group (lo, hi inclusive) that find this tiling: the
    # same candidates fit there (None: not known, the set-up in NumPy or no varying group)
    room: tuple[int, int] | None = field(default=None, compare=False)

    @property
    def read_bytes(self) -> int:
        return self.a_read_bytes + self.b_read_bytes + self.c_read_bytes

    @property
    def write_bytes(self) -> int:
        return self.c_write_bytes


@lru_cache(maxsize=8192)
def _candidates(dim: int, grain: int, below_grain: bool = True) -> np.ndarray:
    """Tile sizes for one dimension: the full size and halvings, rounded up to ``grain``; and
    with ``below_grain`` the halvings of ``min(dim, grain)`` down to an eighth of it (a tile
    narrower than the array leaves PEs idle, but a tight scratchpad may need it: without
    them a larger array, whose grain is larger, would lose the small tiles a smaller one can
    use; an eighth of the dimension, not of the grain, where the grain is wider than it, so
    every grain beyond the dimension has the same tiles)."""
    out = {dim}
    size = dim
    while size > 1:
        size = math.ceil(size / 2)
        out.add(min(dim, max(1, math.ceil(size / grain) * grain)))
    size = min(dim, grain)
    out.add(size)
    while below_grain and size > max(1, min(dim, grain) // 8):
        size = math.ceil(size / 2)
        out.add(size)
    # With ``below_grain``, a grain that is not a power of two (Eyeriss's 12 x 14 array, a
    # 33-row one) also gets the candidates of the largest power-of-two grain below it: the
    # tiles of the power-of-two array it contains, which fill whole DRAM bursts (a 33-row array
    # otherwise tiles K = 133 as 66 + 66 + 1, each 66-byte run spilling into a second 64-byte
    # burst, and lacks the 96-wide K tiles of 129 a 32-row one uses). A grain wider than the
    # dimension counts as the dimension (every such grain has the same tiles): a 64-column
    # array tiles N = 35 as a 47-column one does, 8 wide included (it had only 35's halvings,
    # and at 2 KiB wrote its output in 5-byte runs: 16 % slower than 47 columns).
    narrow = min(dim, grain)
    if below_grain and narrow & (narrow - 1):
        out.update(_candidates(dim, 1 << (narrow.bit_length() - 1)).tolist())
    cands = np.array(sorted(out), dtype=np.int64)
    cands.flags.writeable = False  # cached: shared by every caller
    return cands


@lru_cache(maxsize=4096)
def candidate_tiles(dims: tuple[int, int, int], grains: tuple[int, int, int],
                    more_grains: tuple[tuple[int, int, int], ...] = (),
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (m, n, k) tile sizes the search tries: ``_candidates`` of each dimension at its
    grain, joined by those at every grain of ``more_grains``."""
    out = []
    for d, dim in enumerate(dims):
        cands = _candidates(dim, grains[d])
        for g in more_grains:
            cands = np.union1d(cands, _candidates(dim, g[d]))
        cands.flags.writeable = False  # cached: shared by every caller
        out.append(cands)
    return out[0], out[1], out[2]


@lru_cache(maxsize=256)
def _grid(nm: int, nn: int, nk: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (mt, nt, kt) of the product of nm x nn x nk candidate sizes (mt slowest), the
    index of each of its sizes into its dimension's candidates."""
    flat = np.arange(nm * nn * nk, dtype=np.int64)
    out = (flat // (nn * nk), flat // nk % nn, flat % nk)
    for x in out:
        x.flags.writeable = False  # cached: shared by every caller
    return out


def _grain_pairs(pos: np.ndarray, index: tuple[np.ndarray, np.ndarray, np.ndarray],
                 cands: tuple[np.ndarray, np.ndarray, np.ndarray],
                 grains: tuple[int, int, int], dims: tuple[int, int, int],
                 ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per dimension with candidates narrower than its grain (``min(dim, grain)``): the
    (narrow, wide) pairs of a fitting tile narrower than the grain there and the same tile
    widened to it, where that one fits too, as positions into ``pos`` (the fitting
    candidates' ascending indices into the product of ``cands``, mt slowest; ``index``: each
    product member's index into ``cands``), narrow ascending."""
    at = np.full(len(index[0]), -1, dtype=np.int64)  # product index -> position in pos
    at[pos] = np.arange(len(pos))
    strides = (len(cands[1]) * len(cands[2]), len(cands[2]), 1)
    out = []
    for d, c in enumerate(cands):
        full = min(dims[d], grains[d])
        if c[0] >= full:  # sorted: none narrower
            continue
        idx = index[d][pos]
        narrow = np.flatnonzero(c[idx] < full)
        wide = at[pos[narrow] + (int(np.searchsorted(c, full)) - idx[narrow]) * strides[d]]
        ok = wide >= 0
        out.append((narrow[ok], wide[ok]))
    return out


def _nbytes(elements: np.ndarray | int, bits: int) -> np.ndarray | int:
    return (elements * bits + 7) // 8


def _pass_bytes(rows: int, cols: int, tile_cols: np.ndarray, bits: int, burst: int) -> np.ndarray:
    """Bytes DRAM moves to read (or write) a rows x cols row-major tensor once in tiles that
    are ``tile_cols`` wide: whole rows are contiguous; narrower tiles pay each row's burst
    rounding."""
    whole = -(-_nbytes(rows * cols, bits) // burst) * burst
    full, rest = cols // tile_cols, cols % tile_cols
    row_bytes = -(-_nbytes(tile_cols, bits) // burst) * burst
    rest_bytes = np.where(rest > 0, -(-_nbytes(rest, bits) // burst) * burst, 0)
    split = rows * (full * row_bytes + rest_bytes)
    return np.where(tile_cols >= cols, whole, split)


def _pass_bytes_of(rows: int, cols: int, tile_cols: np.ndarray, bits: int,
                   burst: int) -> np.ndarray:
    """``_pass_bytes`` of a dimension's few candidate widths, in Python ints (NumPy's cost
    per call dwarfs the arithmetic); by ``_pass_bytes`` where its int64 might wrap."""
    if rows * cols * (bits + 8 * burst) >= 1 << 62:
        return _pass_bytes(rows, cols, tile_cols, bits, burst)
    whole = -(-((rows * cols * bits + 7) // 8) // burst) * burst
    out = []
    for t in tile_cols.tolist():
        if t >= cols:
            out.append(whole)
            continue
        full, rest = divmod(cols, t)
        row_bytes = -(-((t * bits + 7) // 8) // burst) * burst
        rest_bytes = -(-((rest * bits + 7) // 8) // burst) * burst if rest > 0 else 0
        out.append(rows * (full * row_bytes + rest_bytes))
    return np.array(out, dtype=np.int64)


@lru_cache(maxsize=1024)
def _inverse_efficiency(key: tuple, headroom: float, tile_rows: tuple[int, ...],
                        tile_cols: tuple[int, ...], cols: int, bits: int) -> np.ndarray:
    """Per (i, j): 1 / ``stream_efficiency`` (engine/dram.py) of the DRAM runs of a row-major
    tensor ``cols`` wide read in tiles of ``tile_rows[i]`` rows and ``tile_cols[j]`` columns
    (a tile spanning whole rows is one run, else each of its rows is). Worked out per pair of
    candidate sizes, a few dozen, then gathered per candidate tiling: the same figures."""
    pitch = (cols * bits + 7) // 8
    out = np.empty((len(tile_rows), len(tile_cols)))
    # a narrow tile's run is one of its rows, whatever its height; a whole-row tile's is all
    out[:] = [1.0 / run_efficiency(key, (c * bits + 7) // 8, pitch, headroom) if c < cols
              else 0.0 for c in tile_cols]
    for j, c in enumerate(tile_cols):
        if c >= cols:
            out[:, j] = [1.0 / run_efficiency(key, pitch * r, pitch, headroom)
                         for r in tile_rows]
    out.flags.writeable = False  # cached: shared by every caller
    return out


@dataclass(frozen=True)
class Objective:
    """What the tiling search minimises, and the prices it needs (hashable: a cache key).

    ``kind``: "traffic" (DRAM bytes plus ``run_overhead_bytes`` per discontiguous run: the
    pre-mapper objective, kept for tests and for comparison), "latency" (the op's cycles as
    the engine runs it: S = min(tiles x Mt row chunks, ``max_steps``) steps in ``halves`` halves,
    loads and stores sharing the DRAM bus, each paying ``transfer_latency`` plus its bytes at
    the op's one achieved bandwidth, the harmonic mean of what the DRAM model achieves for
    each stream, as the engine times it; csrc/mapping/search.cpp), "energy"
    (DRAM bytes, scratchpad accesses and
    DMA fills priced per action, plus ``fixed_pj`` for what no tiling changes: MACs, register
    files) or "edp" (energy x latency). Ties go to fewer DRAM bytes, then fewer tiles.
    ``sram_pj_per_bit``: read and write energy per bit of the input, weight and output
    scratchpads, in that order."""

    kind: str = "traffic"
    bytes_per_cycle: float = math.inf
    max_steps: int = 16
    dram_read_pj_per_byte: float = 0.0
    dram_write_pj_per_byte: float = 0.0
    sram_pj_per_bit: tuple[float, float, float, float, float, float] = (0.0,) * 6
    fixed_pj: float = 0.0
    # (read, write) pJ per bit of every capacity group, for traffic through outer levels
    level_pj_per_bit: tuple[tuple[float, float], ...] = ()
    transfer_latency: float = 0.0  # cycles each DMA transfer waits for DRAM (tRCD + tCL)
    halves: int = 2  # buffer halves per operand (1: not double-buffered)
    dram_key: tuple | None = None  # the DRAM model (engine/dram.py): each stream's efficiency
    dram_headroom: float = 1.0  # pin / configured bandwidth when narrower (Dram.headroom)
    # The op's output stays on chip for its consumers: its final write is not priced (the
    # tiling's reported C writes still count it; the planner drops it afterwards).
    c_kept: bool = False
    # (read, write, any) bits per cycle the ports of every capacity group move: the array's
    # operand reads and partial sums at a level take at least their bits over these (empty:
    # ports unbounded)
    level_port_bits: tuple[tuple[float, float, float], ...] = ()


TRAFFIC = Objective()


@dataclass(frozen=True)
class FeatureMapA:
    """A convolution's A operand as its DMA reads it: per candidate row tile ``mt``, the
    bytes of one pass over the feature map (the rows the kernel touches, halos re-read by
    neighbouring tiles) and the on-chip bytes of a tile per unit of ``kt`` (the input rows its
    output rows touch); reads come in ``run_bytes`` runs ``pitch_bytes`` apart, or, per row
    tile, as ``runs`` gives them ((mt, run bytes, pitch bytes); a tile not in it: the
    former)."""

    pass_bytes: tuple[tuple[int, int], ...]
    tile_bytes_per_k: tuple[tuple[int, float], ...]
    run_bytes: int
    pitch_bytes: int
    runs: tuple[tuple[int, int, int], ...] = ()

    def run_of(self, mt: int) -> tuple[int, int]:
        """(run, pitch) bytes of the reads of row tile ``mt``."""
        for tile, run, pitch in self.runs:
            if tile == mt:
                return run, pitch
        return self.run_bytes, self.pitch_bytes


def op_cycles(model: TileModel, m: int, n: int, k: int, mt: np.ndarray, nt: np.ndarray,
              kt: np.ndarray) -> tuple[np.ndarray, np.ndarray, TileArrays]:
    """Cycles of a whole GEMM per candidate tiling (tiles back to back: the sum of their
    ``steady`` cycles plus the largest ``fill``), with the per-tile costs of the eight
    full / ragged tile shapes and how often each occurs, stacked as (8, candidates)."""
    parts = []
    for dim, tile in ((m, mt), (n, nt), (k, kt)):
        rest = dim % tile
        ragged = ((rest > 0).astype(np.int64), np.where(rest, rest, tile))
        parts.append(((dim // tile, tile), ragged))
    counts, shapes = [], []
    for (cm, sm), (cn, sn), (ck, sk) in product(*parts):
        counts.append(cm * cn * ck)
        shapes.append((sm, sn, sk))
    count = np.stack(counts)
    ms, ns, ks = (np.stack([s[i] for s in shapes]) for i in range(3))
    cost = model.evaluate(ms, ns, ks)
    cycles = (count * cost.steady).sum(axis=0) + np.where(count > 0, cost.fill, 0).max(axis=0)
    return cycles, count, cost


def tile_sums(model: TileModel, m: int, n: int, k: int, mt: np.ndarray, nt: np.ndarray,
              kt: np.ndarray) -> tuple[np.ndarray, ...]:
    """``tile_sums_reference``'s figures; a systolic array's in C++
    (``_core.systolic_tile_sums``: its tile model per full and ragged tile shape, summed per
    candidate, in place of NumPy passes over eight shapes x candidates)."""
    if not isinstance(model, SystolicTiles):
        return tile_sums_reference(model, m, n, k, mt, nt, kt)
    on_rows, on_cols = model.spatial[:2] or SPATIAL[model.dataflow][:2]
    split = model.spatial[2] if len(model.spatial) > 2 else on_cols
    dim = {"m": 0, "n": 1, "k": 2}
    i64 = np.int64
    return tuple(_core.systolic_tile_sums(
        model.rows, model.cols, (dim[on_rows], dim[on_cols], dim[split]),
        model.timing == "scalesim", model.pe_weights, model.arrays, m, n, k,
        *(np.ascontiguousarray(x, dtype=i64) for x in (mt, nt, kt))))


def tile_sums_reference(model: TileModel, m: int, n: int, k: int, mt: np.ndarray,
                        nt: np.ndarray, kt: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per candidate tiling of an M x N x K GEMM: its cycles (``op_cycles``) and, summed over
    its tiles, the elements of A and B the unit reads and of the partial sums it writes and
    reads back."""
    cycles, count, cost = op_cycles(model, m, n, k, mt, nt, kt)
    return (cycles, *((count * x).sum(axis=0) for x in (cost.a_reads, cost.b_reads,
                                                        cost.c_writes, cost.c_reads)))


def accumulate_reads(m: int, n: int, k: int, kt: np.ndarray | int) -> np.ndarray | int:
    """Partial sums read back from the output level when a K tile adds into the sums the
    previous K tiles of the same C tile left there (the tile-level twin of the array's
    per-fold read-back): (K tiles - 1) x M x N."""
    return (-(-k // kt) - 1) * m * n


@dataclass(frozen=True)
class _SliceTable:
    """The slices of the search (a loop order, and per operand whether it is re-read from
    DRAM, kept at its innermost level, or kept at an outer level of its chain), as arrays
    over slices. They depend only on the hierarchy's shape, so they are built once per shape.
    Per operand j (A, B, C): ``refetch[j]`` the trip row (0: none, 1-3: the m / n / k trips)
    of its DRAM re-reads, ``inner_row[j]`` the held row at its home level (0: its tile, 1-3:
    its footprint over the loops inside), ``outer_g[j]`` the outer group keeping it (-1:
    none), ``foot_row[j]`` its footprint row; ``c_level`` the outer group holding C's tile."""

    orders: tuple[str, ...]
    kept: tuple[str, ...]  # "AB": the operands some level keeps
    outer_kept: tuple[tuple[tuple[str, int], ...], ...]
    kept_count: np.ndarray
    refetch: np.ndarray
    inner_row: np.ndarray
    outer_g: np.ndarray
    foot_row: np.ndarray
    c_level: np.ndarray


_DIMS_OF = {"a": ("m", "k", "n"), "b": ("k", "n", "m"), "c": ("m", "n", "k")}


@lru_cache(maxsize=256)
def _slice_table(outer: tuple[tuple[str, int], ...], a_on_chip: bool) -> _SliceTable:
    dim_index = {"m": 1, "n": 2, "k": 3}
    slices: list[tuple[str, tuple[tuple[int, int, int, str], ...], tuple[int, int, int],
                       int]] = []
    output_outer = [g for role, g in outer if role == "output"]
    for order in ORDERS:
        pos = {d: order.index(d) for d in "mnk"}
        options: dict[str, tuple[tuple[int, int, int, str], ...]] = {}
        spans: dict[str, int] = {}
        for name, (d0, d1, other) in _DIMS_OF.items():
            spans[name] = 0
            if pos[other] < max(pos[d0], pos[d1]) and not (name == "a" and a_on_chip):
                spans[name] = (pos[d0] > pos[other]) + 2 * (pos[d1] > pos[other])
                options[name] = ((dim_index[other], 0, -1, ""),
                                 (0, spans[name], -1, name.upper()),
                                 *((0, 0, g, name.upper()) for role, g in outer
                                   if role == ROLE[name]))
            else:
                options[name] = ((0, 0, -1, ""),)
        for choice in product(options["a"], options["b"], options["c"]):
            slices.append((order, choice, (spans["a"], spans["b"], spans["c"]), -1))
        # C's tile (its partial sums) may also live at an outer level of its chain, when the
        # innermost one is too small for it: kept there or not, no level behind it serves it.
        for g in output_outer:
            c_options = options["c"][:2] if len(options["c"]) > 1 else options["c"]
            for choice in product(options["a"], options["b"], c_options):
                slices.append((order, choice, (spans["a"], spans["b"], spans["c"]), g))
    kept = tuple("".join(c[3] for c in sl[1]) for sl in slices)

    def field(i: int) -> np.ndarray:
        return np.array([[sl[1][j][i] for sl in slices] for j in range(3)], dtype=np.int64)

    return _SliceTable(
        orders=tuple(sl[0] for sl in slices),
        kept=kept,
        outer_kept=tuple(tuple((n.upper(), c[2]) for n, c in zip("abc", sl[1], strict=True)
                               if c[2] >= 0) for sl in slices),
        kept_count=np.array([len(x) for x in kept], dtype=np.int64),
        refetch=field(0), inner_row=field(1), outer_g=field(2),
        foot_row=np.array([[sl[2][j] for sl in slices] for j in range(3)], dtype=np.int64),
        c_level=np.array([sl[3] for sl in slices], dtype=np.int64),
    )


@lru_cache(maxsize=256)
def _held_sums(outer: tuple[tuple[str, int], ...], a_on_chip: bool,
               roles: tuple[tuple[str, ...], ...]) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """What each capacity group (its ``roles``) holds in each slice of ``_slice_table``, as
    the sum of rows of plan_gemm's held rows (4j + row: operand j's tile or footprint; 12:
    none): per group, the distinct sums (a (sums, terms) array of row indices, padded with
    12) and each slice's sum. An operand's tile lives at its innermost level (C's at the
    outer level the slice puts it at), its footprint at the outer level keeping it."""
    table = _slice_table(outer, a_on_chip)
    home = {r: g for g, rs in enumerate(roles) for r in rs}
    terms: list[list[list[int]]] = [[[] for _ in table.orders] for _ in roles]
    c_level, inner_row, outer_g, foot_row = (x.tolist() for x in (
        table.c_level, table.inner_row, table.outer_g, table.foot_row))
    for s in range(len(table.orders)):
        for j, name in enumerate("abc"):
            g = c_level[s] if name == "c" and c_level[s] >= 0 else home.get(ROLE[name], -1)
            if g >= 0:
                terms[g][s].append(4 * j + inner_row[j][s])
            if outer_g[j][s] >= 0:
                terms[outer_g[j][s]][s].append(4 * j + foot_row[j][s])
    out = []
    for per_slice in terms:
        index: dict[tuple[int, ...], int] = {}
        which = np.array([index.setdefault(tuple(sorted(t)), len(index)) for t in per_slice],
                         dtype=np.int64)
        width = max([1, *(len(t) for t in index)])
        rows = np.array([list(t) + [12] * (width - len(t)) for t in index], dtype=np.int64)
        rows.flags.writeable = which.flags.writeable = False  # cached: shared by every caller
        out.append((rows, which))
    return tuple(out)


class _Setup(NamedTuple):
    """plan_gemm's candidates before the search: the fitting tilings' indices into the product
    of the candidate sizes (mt slowest), their sizes, trips, tiles and one pass over A / B / C
    / the partial sums in bytes; search_plans' candidate rows (compute cycles, scratchpad
    energy and partial-sum bits, rows 1 and 11-13, left 0: the unit's tile model fills them);
    and per slice which candidates fit (grain-narrow tiles dominated by their grain-wide
    versions dropped)."""

    pos: np.ndarray
    mt: np.ndarray
    nt: np.ndarray
    kt: np.ndarray
    trips: dict[str, np.ndarray]
    tiles: np.ndarray
    a_pass: np.ndarray
    b_pass: np.ndarray
    c_pass: np.ndarray
    p_pass: np.ndarray
    candidates: np.ndarray
    fits2: np.ndarray
    room: tuple[int, int] | None = None  # the varying group's bytes with the same fits


def _setup_reference(m: int, n: int, k: int, a_bits: int, b_bits: int, c_bits: int,
                     psum_bits: int, capacity: Capacity, grain_m: int, grain_n: int,
                     grain_k: int, a_on_chip: bool, burst_bytes: int, objective: Objective,
                     a_map: FeatureMapA | None, b_pass_bytes: int | None, a_ratio: float,
                     c_ratio: float, b_scales: float,
                     more_grains: tuple[tuple[int, int, int], ...], a_scales: float) -> _Setup:
    """plan_gemm's candidate set-up in NumPy (``_setup`` is the same in C++). Raises
    NoTileFits when no tile fits."""
    cm, cn, ck = candidate_tiles((m, n, k), (grain_m, grain_n, grain_k), more_grains)
    # every (mt, nt, kt) combination, mt slowest (np.meshgrid's "ij" order, without its cost)
    mi, ni, ki = _grid(len(cm), len(cn), len(ck))  # each candidate's index into cm, cn, ck
    mt, nt, kt = cm[mi], cn[ni], ck[ki]
    a_tile = np.zeros_like(mt) if a_on_chip else _nbytes(mt * kt, a_bits)
    if a_map is not None and not a_on_chip:
        # A convolution's tile holds the input rows it touches, not the im2col patches.
        per_k = dict(a_map.tile_bytes_per_k)
        on_chip = np.ceil(kt * np.array([per_k[x] for x in cm.tolist()])[mi]).astype(np.int64)
        a_tile = np.minimum(a_tile, on_chip)
    if a_scales != 1.0:
        a_tile = np.ceil(a_tile * a_scales).astype(np.int64)
    b_tile = _nbytes(kt * nt, b_bits)
    if b_scales != 1.0:
        b_tile = np.ceil(b_tile * b_scales).astype(np.int64)
    c_tile = _nbytes(mt * nt, psum_bits)
    tile = {"input": a_tile, "weight": b_tile, "output": c_tile}
    fits = np.ones_like(mt, dtype=bool)
    # C's tile may live at any level of its chain: its innermost level does not bound it here
    movable = {"output"} if any(role == "output" for role, _ in capacity.outer) else set()
    groups = capacity.resolved_groups()
    home = {r: g for g, (roles, _, _) in enumerate(groups) for r in roles}  # innermost level
    for roles, size, double_buffered in groups:
        need = sum(tile[r] for r in roles if r not in movable) * (2 if double_buffered else 1)
        fits &= need <= size
    if movable:  # ... but some level must hold it with what else lives there
        anywhere = np.zeros_like(fits)
        for g in [home["output"]] + [g for role, g in capacity.outer if role == "output"]:
            roles, size, double_buffered = groups[g]
            need = sum(tile[r] for r in roles) if "output" in roles else (
                sum(tile[r] for r in roles) + tile["output"])
            anywhere |= need * (2 if double_buffered else 1) <= size
        fits &= anywhere
    if not fits.any():
        sizes = ", ".join(f"{'+'.join(r)}: {b} B" for r, b, _ in capacity.resolved_groups())
        least = tuple(int(np.min(sum(tile[r] for r in roles))) * (2 if db else 1) if roles else 0
                      for roles, _, db in groups)
        raise NoTileFits(f"no tile of GEMM M={m} N={n} K={k} fits the scratchpads ({sizes})",
                         least)
    pos = np.flatnonzero(fits)  # the fitting candidates' indices into the product
    wider = _grain_pairs(pos, (mi, ni, ki), (cm, cn, ck), (grain_m, grain_n, grain_k),
                         (m, n, k))
    mt, nt, kt, mi, ni, ki = mt[pos], nt[pos], kt[pos], mi[pos], ni[pos], ki[pos]
    a_tile, b_tile, c_tile = (np.asarray(x)[pos] for x in (a_tile, b_tile, c_tile))
    # Figures of one dimension's tile size are worked out per candidate size, then gathered.
    trips = {"m": (-(-m // cm))[mi], "n": (-(-n // cn))[ni], "k": (-(-k // ck))[ki]}
    tiles = trips["m"] * trips["n"] * trips["k"]
    (a_dim, b_dim, c_dim, p_dim), slow_dim = _dimension_figures(
        m, n, k, a_bits, b_bits, c_bits, psum_bits, burst_bytes, objective, a_map,
        b_pass_bytes, a_ratio, c_ratio, cm, cn, ck)
    a_pass = a_dim[mi if a_map is not None else ki]
    b_pass, c_pass, p_pass = b_dim[ni], c_dim[ni], p_dim[ni]
    # discontiguous runs in one pass: a tile per run when tiles span whole rows, else a run
    # per tile row
    a_runs = np.where(kt >= k, trips["m"], m * trips["k"])
    b_runs = np.where(nt >= n, trips["k"], k * trips["n"])
    c_runs = np.where(nt >= n, trips["m"], m * trips["n"])
    # Engine steps: a tile streams its rows of A through the unit, so its load, compute and
    # store pipeline in row chunks, not only tile by tile (one tile is not load-then-compute).
    steps = np.minimum(tiles * mt, objective.max_steps)
    # DRAM time per byte of each operand: a narrow tile reads short runs that the DRAM model
    # (row buffers, banks) serves below the configured bandwidth.
    slow: dict[str, Any] = {"a": 1.0, "b": 1.0, "c": 1.0}
    if slow_dim is not None:
        slow = {"a": slow_dim[0][mi, ki], "b": slow_dim[1][ki, ni], "c": slow_dim[2][mi, ni]}
    # Each operand is re-read once per trip of the loop it ignores when that loop sits outside
    # its innermost relevant loop - unless a level of its chain keeps its footprint over the
    # loops inside that one (Timeloop's / ZigZag's reuse at a level): then once. The slices
    # (order, what is kept where) are described in plain Python, then gathered as arrays.
    tile_of = {"a": a_tile, "b": b_tile, "c": c_tile}
    bits_of = {"a": a_bits, "b": b_bits, "c": psum_bits}
    extent = {"m": (mt, m), "n": (nt, n), "k": (kt, k)}
    # per operand j, rows 4j + 0-3: row 0 its tile; rows 1-3 its footprint with the first,
    # second or both of its dimensions spanning the whole tensor; row 12 nothing
    held_rows = np.empty((13, len(mt)), dtype=np.int64)
    held_rows[12] = 0
    for j, (name, (d0, d1, _)) in enumerate(_DIMS_OF.items()):
        held_rows[4 * j] = tile_of[name]
        for v in (1, 2, 3):
            held_rows[4 * j + v] = _nbytes((extent[d0][1] if v & 1 else extent[d0][0])
                                           * (extent[d1][1] if v & 2 else extent[d1][0]),
                                           bits_of[name])
    table = _slice_table(tuple(capacity.outer), a_on_chip)
    fits2: np.ndarray | None = None
    for (_, size, double_buffered), (terms, which) in zip(
            groups, _held_sums(tuple(capacity.outer), a_on_chip,
                               tuple(tuple(roles) for roles, _, _ in groups)), strict=True):
        held = held_rows[terms[:, 0]] if terms.shape[1] == 1 else held_rows[terms].sum(axis=1)
        level_fits = (held * (2 if double_buffered else 1) <= size)[which]
        fits2 = level_fits if fits2 is None else fits2 & level_fits
    if fits2 is None:  # no capacity groups
        fits2 = np.ones((len(table.orders), len(mt)), dtype=bool)
    # A tile narrower than the unit's grain in one dimension is dominated in every slice
    # where its grain-wide version fits: as many folds per tile, more tiles, and no fewer DRAM
    # bytes, unless its runs fill fewer bursts (a 32-wide K tile reads 64 B per row where the
    # 33-wide one reads 96), or, timed, its extra tiles give the engine more steps to overlap
    # loads, compute and stores in (N = 33 on two 32-column arrays: 32 + 1 in two steps beats
    # 33 in one) or its runs stream faster from DRAM (M = 33 on two input-stationary arrays:
    # 32-row runs fill whole bursts): then both stay. Only a scratchpad too tight for the
    # wider tile (or its kept footprints) keeps it otherwise.
    timed = objective.kind != "traffic"
    for narrow, wide in wider:
        no_more = ((a_pass[wide] <= a_pass[narrow]) & (b_pass[wide] <= b_pass[narrow])
                   & (c_pass[wide] <= c_pass[narrow]) & (p_pass[wide] <= p_pass[narrow]))
        if timed:  # ... nor fewer steps to overlap in, nor slower DRAM streams
            no_more &= steps[wide] >= steps[narrow]
            for x in "abc":
                if isinstance(slow[x], np.ndarray):
                    no_more &= slow[x][wide] <= slow[x][narrow]
        fits2[:, narrow[no_more]] &= ~fits2[:, wide[no_more]]
    rows = [steps, 0.0, tiles, kt, a_pass, b_pass, c_pass, p_pass, slow["a"], slow["b"],
            slow["c"], 0.0, 0.0, 0.0, a_runs, b_runs, c_runs, trips["m"], trips["n"],
            trips["k"]]
    candidates = np.empty((len(rows), len(mt)))
    for j, r in enumerate(rows):
        candidates[j] = r
    return _Setup(pos, mt, nt, kt, trips, tiles, a_pass, b_pass, c_pass, p_pass, candidates,
                  fits2)


_INT64 = 1 << 62  # the fast set-up's integers stay below it: no int64 figure of theirs wraps


@lru_cache(maxsize=1024)
def _capacity_rows(capacity: Capacity) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A capacity's checks for ``_core.plan_candidates``: the rows (role mask: 1 A, 2 B, 4 C;
    bytes; multiplier) every tile must pass, one per group, those one of which it must pass
    (C's tile at some level of its chain), and which of the latter are the varying group's."""
    bit = {"input": 1, "weight": 2, "output": 4}
    movable = any(role == "output" for role, _ in capacity.outer)
    groups = capacity.resolved_groups()
    if any(len(set(roles)) != len(roles) for roles, _, _ in groups):
        raise ValueError("a role twice in one group: the reference counts it twice")
    fit = [(sum(bit[r] for r in set(roles) if not (movable and r == "output")), size,
            2 if db else 1) for roles, size, db in groups]
    anywhere, varying = [], []
    if movable:
        home = {r: g for g, (roles, _, _) in enumerate(groups) for r in roles}
        for g in [home["output"]] + [g for role, g in capacity.outer if role == "output"]:
            roles, size, db = groups[g]
            anywhere.append((sum(bit[r] for r in set(roles)) | 4, size, 2 if db else 1))
            varying.append(g == capacity.varying)
    out = (np.array(fit, dtype=np.int64).reshape(-1, 3),
           np.array(anywhere, dtype=np.int64).reshape(-1, 3),
           np.array(varying, dtype=np.int64))
    for x in out:
        x.flags.writeable = False  # cached: shared by every caller
    return out


@lru_cache(maxsize=256)
def _held_pack(outer: tuple[tuple[str, int], ...], a_on_chip: bool,
               roles: tuple[tuple[str, ...], ...]) -> tuple[np.ndarray, np.ndarray]:
    """``_held_sums`` for ``_core.plan_candidates``: the groups' distinct sums padded to one
    width with row 12, and each slice's sum per group as an index into them."""
    sums = _held_sums(outer, a_on_chip, roles)
    width = max([1, *(t.shape[1] for t, _ in sums)])
    terms, which, base = [], [], 0
    for t, w in sums:
        terms.append(np.pad(t, ((0, 0), (0, width - t.shape[1])), constant_values=12))
        which.append(w + base)
        base += len(t)
    slices = len(_slice_table(outer, a_on_chip).orders)
    out = (np.concatenate(terms) if terms else np.zeros((0, 1), dtype=np.int64),
           np.array(which, dtype=np.int64).reshape(len(sums), slices))
    for x in out:
        x.flags.writeable = False  # cached: shared by every caller
    return out


def _dimension_figures(m: int, n: int, k: int, a_bits: int, b_bits: int, c_bits: int,
                       psum_bits: int, burst_bytes: int, objective: Objective,
                       a_map: FeatureMapA | None, b_pass_bytes: int | None, a_ratio: float,
                       c_ratio: float, cm: np.ndarray, cn: np.ndarray, ck: np.ndarray,
                       ) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...] | None]:
    """The figures that depend on one or two dimensions' tile sizes, per candidate size: the
    bytes of one pass over A (per ``cm`` with a feature map, else per ``ck``), over B, C and
    the partial sums (per ``cn``); and 1 / the DRAM efficiency of A's (``cm`` x ``ck``), B's
    (``ck`` x ``cn``) and C's (``cm`` x ``cn``) streams, or None where the objective prices
    no DRAM timing. Both set-ups gather them per candidate tiling."""
    if a_map is not None:
        passes = dict(a_map.pass_bytes)
        a_pass = np.array([passes[x] for x in cm.tolist()], dtype=np.int64)
    else:
        a_pass = _pass_bytes_of(m, k, ck, a_bits, burst_bytes)
    if a_ratio != 1.0:
        a_pass = np.ceil(a_pass * a_ratio).astype(np.int64)
    if b_pass_bytes is not None:
        b_pass = np.full_like(cn, b_pass_bytes)
    else:
        b_pass = _pass_bytes_of(k, n, cn, b_bits, burst_bytes)
    c_pass = _pass_bytes_of(m, n, cn, c_bits, burst_bytes)
    if c_ratio != 1.0:
        c_pass = np.ceil(c_pass * c_ratio).astype(np.int64)
    p_pass = _pass_bytes_of(m, n, cn, psum_bits, burst_bytes)
    slow = None
    if objective.kind != "traffic" and objective.dram_key is not None:
        key, headroom = objective.dram_key, objective.dram_headroom
        sm, sn, sk = (tuple(c.tolist()) for c in (cm, cn, ck))
        if a_map is not None:  # whole or gathered input rows: a run shape per row tile
            per_m = np.array([1.0 / run_efficiency(key, *a_map.run_of(mt), headroom)
                              for mt in cm.tolist()])
            slow_a = np.repeat(per_m[:, None], len(ck), axis=1)
        else:
            slow_a = _inverse_efficiency(key, headroom, sm, sk, k, a_bits)
        slow = (slow_a, _inverse_efficiency(key, headroom, sk, sn, n, b_bits),
                _inverse_efficiency(key, headroom, sm, sn, n, psum_bits))
    return (a_pass, b_pass, c_pass, p_pass), slow


def _prepare(m: int, n: int, k: int, a_bits: int, b_bits: int, c_bits: int, psum_bits: int,
             capacity: Capacity, a_on_chip: bool, burst_bytes: int, objective: Objective,
             a_map: FeatureMapA | None, b_pass_bytes: int | None, a_ratio: float,
             c_ratio: float, cm: np.ndarray, cn: np.ndarray, ck: np.ndarray) -> tuple | None:
    """``_setup``'s arguments for ``_core.plan_candidates`` beyond the candidates: the capacity
    rows, the held sums, A's on-chip bytes per kt of a feature map, each dimension's passes
    and the DRAM slowdown tables; None where the C++ would not reproduce NumPy's figures."""
    fit, anywhere, varying = _capacity_rows(capacity)
    terms, which = _held_pack(tuple(capacity.outer), a_on_chip,
                              tuple(tuple(roles) for roles, _, _ in capacity.resolved_groups()))
    if len(cm) * len(cn) * len(ck) * (46 + which.shape[1] * (which.shape[0] + 3)) > 1 << 30:
        return None  # past plan_candidates' work budget
    a_per_k = None
    if a_map is not None and not a_on_chip:
        per_k = dict(a_map.tile_bytes_per_k)
        a_per_k = np.array([per_k[x] for x in cm.tolist()])
        if a_per_k.dtype != np.float64:
            return None
    passes, slow = _dimension_figures(m, n, k, a_bits, b_bits, c_bits, psum_bits, burst_bytes,
                                      objective, a_map, b_pass_bytes, a_ratio, c_ratio, cm,
                                      cn, ck)
    return fit, anywhere, varying, terms, which, a_per_k, passes, slow


def _setup(m: int, n: int, k: int, a_bits: int, b_bits: int, c_bits: int, psum_bits: int,
           capacity: Capacity, grain_m: int, grain_n: int, grain_k: int, a_on_chip: bool,
           burst_bytes: int, objective: Objective, a_map: FeatureMapA | None,
           b_pass_bytes: int | None, a_ratio: float, c_ratio: float, b_scales: float,
           more_grains: tuple[tuple[int, int, int], ...], a_scales: float) -> _Setup:
    """``_setup_reference``'s figures to the bit, its per-candidate arithmetic in C++
    (``_core.plan_candidates``: tile bytes, the capacity fit, trips, passes, runs, DRAM
    slowdowns, what each level holds in each slice and the grain-narrow tiles' pruning, in
    place of some 150 NumPy passes, a quarter of a cold ResNet-50 point on tpu_v1); the
    per-dimension figures (passes, DRAM slowdown tables) stay here. Arguments the C++ would
    not take as NumPy does (integers whose products could wrap, non-float scales, more work
    than its budget), any the preparation refuses and a search where no tile fits go to the
    reference, which raises what NumPy's path raises."""
    args = (m, n, k, a_bits, b_bits, c_bits, psum_bits, capacity, grain_m, grain_n, grain_k,
            a_on_chip, burst_bytes, objective, a_map, b_pass_bytes, a_ratio, c_ratio, b_scales,
            more_grains, a_scales)
    cm, cn, ck = candidate_tiles((m, n, k), (grain_m, grain_n, grain_k), more_grains)
    ints = (m, n, k, a_bits, b_bits, psum_bits, grain_m, grain_n, grain_k, objective.max_steps)
    if (not all(type(x) is int and -_INT64 < x < _INT64 for x in ints)
            or min(m, n, k) < 1 or min(cm[0], cn[0], ck[0]) < 1
            or max(abs(m * k * a_bits), abs(k * n * b_bits), abs(m * n * psum_bits)) >= _INT64
            or len(cm) * len(cn) * len(ck) > 1 << 21
            or not all(type(x) is float or x == 1.0 for x in (a_scales, b_scales))):
        return _setup_reference(*args)
    try:
        prepared = _prepare(m, n, k, a_bits, b_bits, c_bits, psum_bits, capacity, a_on_chip,
                            burst_bytes, objective, a_map, b_pass_bytes, a_ratio, c_ratio, cm,
                            cn, ck)
    except Exception:  # noqa: BLE001 - the reference raises it where NumPy's path does
        return _setup_reference(*args)
    if prepared is None:
        return _setup_reference(*args)
    fit, anywhere, varying, terms, which, a_per_k, passes, slow = prepared
    pos, figures, candidates, fits2, room = _core.plan_candidates(
        (m, n, k), (cm, cn, ck), (grain_m, grain_n, grain_k), (a_bits, b_bits, psum_bits),
        a_on_chip, a_per_k, (float(a_scales), float(b_scales)), fit, anywhere, passes,
        0 if a_map is not None else 2, slow, objective.kind != "traffic", objective.max_steps,
        terms, which, capacity.varying, varying)
    if not len(pos):
        return _setup_reference(*args)  # raises NoTileFits, with the least bytes each needs
    mt, nt, kt, tm, tn, tk, tiles, a_pass, b_pass, c_pass, p_pass = figures
    return _Setup(pos, mt, nt, kt, {"m": tm, "n": tn, "k": tk}, tiles, a_pass, b_pass, c_pass,
                  p_pass, candidates, fits2, room)


@lru_cache(maxsize=4096)
def plan_gemm(
    m: int,
    n: int,
    k: int,
    a_bits: int,
    b_bits: int,
    c_bits: int,
    psum_bits: int,
    capacity: Capacity,
    grain_m: int = 1,
    grain_n: int = 1,
    grain_k: int = 1,
    a_on_chip: bool = False,
    burst_bytes: int = 1,
    run_overhead_bytes: int = 0,
    model: TileModel | None = None,
    objective: Objective = TRAFFIC,
    a_map: FeatureMapA | None = None,
    b_pass_bytes: int | None = None,
    a_ratio: float = 1.0,
    c_ratio: float = 1.0,
    b_scales: float = 1.0,
    more_grains: tuple[tuple[int, int, int], ...] = (),
    a_scales: float = 1.0,
) -> GemmTiling:
    """Pick the tiling of a GEMM that minimises ``objective`` (by default DRAM traffic).

    ``burst_bytes`` is the DRAM access granularity; ``run_overhead_bytes`` prices each
    discontiguous run in the traffic objective only (reported bytes are real bytes).
    ``a_on_chip`` says A is already resident (produced by the previous op and kept): it costs
    no DRAM reads and no scratchpad room beyond what the caller reserved. Grains align tiles to
    the unit's spatial unrolling (e.g. K on the rows and N on the columns of a weight-stationary
    array) so tiles do not waste folds. ``model`` (the unit's tile model) prices compute and
    scratchpad accesses; the latency, energy and EDP objectives need it. ``a_map`` describes
    a convolution's A as the DMA reads it (its feature map, not the im2col matrix);
    ``b_pass_bytes`` the bytes of one pass over B (compressed weights); ``a_ratio`` and
    ``c_ratio`` scale A's reads and C's final writes when activations cross DRAM compressed
    or carry a number format's scales
    (on chip they stay dense). ``b_scales`` (>= 1) is B's stored bits over its values' bits
    when a number format keeps block scales beside them (MXFP4 over a long K: 4.25 / 4): B's
    tiles and scratchpad reads carry them; ``a_scales`` the same for A when an activation
    format keeps block scales along K (MXFP8 activations). ``more_grains``: further (m, n, k)
    grains whose tile candidates join the search's (a unit's grains with fewer arrays side by
    side).

    Raises NoTileFits (a ValueError) if not even the smallest tiles fit.
    """
    return _plan(_setup, m, n, k, a_bits, b_bits, c_bits, psum_bits, capacity, grain_m, grain_n,
                 grain_k, a_on_chip, burst_bytes, run_overhead_bytes, model, objective, a_map,
                 b_pass_bytes, a_ratio, c_ratio, b_scales, more_grains, a_scales)


def plan_gemm_reference(*args: Any, **kwargs: Any) -> GemmTiling:
    """``plan_gemm`` (uncached, the same arguments) with its candidate set-up in NumPy
    (``_setup_reference``): the same tiling to the bit."""
    bound = inspect.signature(plan_gemm).bind(*args, **kwargs)
    bound.apply_defaults()
    return _plan(_setup_reference, *bound.arguments.values())


def _plan(setup: Any, m: int, n: int, k: int, a_bits: int, b_bits: int, c_bits: int,
          psum_bits: int, capacity: Capacity, grain_m: int, grain_n: int, grain_k: int,
          a_on_chip: bool, burst_bytes: int, run_overhead_bytes: int, model: TileModel | None,
          objective: Objective, a_map: FeatureMapA | None, b_pass_bytes: int | None,
          a_ratio: float, c_ratio: float, b_scales: float,
          more_grains: tuple[tuple[int, int, int], ...], a_scales: float) -> GemmTiling:
    """plan_gemm's search over the candidates ``setup`` (``_setup`` or ``_setup_reference``)
    finds."""
    groups = capacity.resolved_groups()
    home = {r: g for g, (roles, _, _) in enumerate(groups) for r in roles}  # innermost level
    pos, mt, nt, kt, trips, tiles, a_pass, b_pass, c_pass, p_pass, candidates, fits2, room = setup(
        m, n, k, a_bits, b_bits, c_bits, psum_bits, capacity, grain_m, grain_n, grain_k,
        a_on_chip, burst_bytes, objective, a_map, b_pass_bytes, a_ratio, c_ratio, b_scales,
        more_grains, a_scales)
    if objective.kind != "traffic" and model is None:
        raise ValueError(f"objective {objective.kind!r} needs the unit's tile model")
    # What follows reads the scratchpads' sizes only through what fits: an op of the same
    # GEMM that finds less room (more tensors kept on chip) but the same tilings fitting
    # searches the same space, so it gets the same tiling without the search.
    searched = _searched((m, n, k, a_bits, b_bits, c_bits, psum_bits, grain_m, grain_n,
                          grain_k, a_on_chip, burst_bytes, run_overhead_bytes, model, objective,
                          a_map, b_pass_bytes, a_ratio, c_ratio, b_scales, more_grains, a_scales,
                          tuple(capacity.outer), tuple((r, db) for r, _, db in groups),
                          pos.tobytes(), fits2.shape, fits2.tobytes()))
    if searched:  # found for another size of the same fits: this size's room
        return searched[0] if room is None else replace(searched[0], room=room)
    compute: np.ndarray = np.zeros(len(mt))
    psum_w_bits = psum_r_bits = compute
    if objective.kind != "traffic":
        assert model is not None
        compute, a_elems, b_elems, cw_elems, cr_elems = tile_sums(model, m, n, k, mt, nt, kt)
        ri, wi, rw, ww, ro, wo = objective.sram_pj_per_bit
        psum_w_bits = cw_elems * psum_bits
        # ... and every K tile after a C tile's first adds into its partial sums: one read each
        psum_r_bits = (cr_elems + accumulate_reads(m, n, k, kt)) * psum_bits
        candidates[1] = compute
        candidates[11] = a_elems * a_bits * a_scales * ri + b_elems * b_bits * b_scales * rw
        candidates[12] = psum_w_bits
        candidates[13] = psum_r_bits
    table = _slice_table(tuple(capacity.outer), a_on_chip)
    c_level = table.c_level
    keep = np.nonzero(fits2.any(axis=1))[0]
    feasible_rows = fits2[keep]
    c_level = c_level[keep]
    outer_g = table.outer_g[:, keep]
    # Each slice's prices: C's level (its own read / write energy per bit), what an outer
    # level costs to serve each operand kept there, and the levels behind C's that its DRAM
    # traffic passes through.
    level_pj = objective.level_pj_per_bit
    outer_on = bool(capacity.outer and level_pj) and objective.kind != "traffic"
    inner_r = {"a": ri, "b": rw, "c": ro} if objective.kind != "traffic" else {}
    inner_w = {"a": wi, "b": ww, "c": wo} if objective.kind != "traffic" else {}
    outs = [g for role, g in capacity.outer if role == "output"]
    slice_pj = np.zeros((6, len(keep)))
    if objective.kind != "traffic":
        reads = np.array([ro] + [pj[0] for pj in level_pj])  # C at its inner level, or g
        writes = np.array([wo] + [pj[1] for pj in level_pj])
        slice_pj[0], slice_pj[1] = reads[c_level + 1], writes[c_level + 1]
    if outer_on:
        read_at = np.array([pj[0] for pj in level_pj] + [0.0])  # index -1: not served
        write_at = np.array([pj[1] for pj in level_pj] + [0.0])
        for j, x in enumerate("abc"):
            g = outer_g[j]
            pj = read_at[g] + inner_w[x]
            if x == "c":  # a spill is read out of the inner level, written there, read back
                pj += write_at[g] + inner_r[x]
            slice_pj[2 + j] = np.where(g >= 0, pj, 0.0)
        # the levels of C's chain behind the one holding C, which its DRAM traffic crosses
        behind = {g_c: sum(sum(level_pj[g]) for g in (outs[outs.index(g_c) + 1:] if g_c >= 0
                                                      else outs))
                  for g_c in [-1, *outs]}
        slice_pj[5] = [behind[g_c] for g_c in c_level.tolist()]
    through = ({role: sum(sum(level_pj[g]) for r, g in capacity.outer if r == role)
                for role in ("input", "weight")} if outer_on
               else {"input": 0.0, "weight": 0.0})
    refetch = table.refetch[:, keep]
    served = (outer_g >= 0).astype(np.uint8)
    port = None
    if objective.kind != "traffic" and len(objective.level_port_bits) == len(groups):
        port = slice_port_cycles(objective.level_port_bits, home, c_level, outer_g, refetch,
                                 trips, a_on_chip,
                                 a_elems * a_bits * a_scales,
                                 b_elems * b_bits * b_scales,
                                 psum_r_bits, psum_w_bits, a_pass, b_pass, c_pass, p_pass,
                                 (float(m * n * psum_bits) * trips["k"],
                                  accumulate_reads(m, n, k, kt) * float(psum_bits)),
                                 tuple(tuple(g for r, g in capacity.outer if r == role)
                                       for role in ROLES), objective.c_kept)
    prices = {
        "bytes_per_cycle": min(objective.bytes_per_cycle, 1e300),
        "transfer_latency": objective.transfer_latency,
        "dram_read_pj_per_byte": objective.dram_read_pj_per_byte,
        "dram_write_pj_per_byte": objective.dram_write_pj_per_byte,
        "input_write_pj_per_bit": inner_w.get("a", 0.0),
        "weight_write_pj_per_bit": inner_w.get("b", 0.0),
        "input_through_pj_per_bit": through["input"],
        "weight_through_pj_per_bit": through["weight"],
        "fixed_pj": objective.fixed_pj, "run_overhead_bytes": float(run_overhead_bytes),
        "latency_tie": LATENCY_TIE, "halves": objective.halves, "a_on_chip": a_on_chip,
        "c_kept": objective.c_kept,
    }
    kind = ("traffic", "latency", "energy", "edp").index(objective.kind)
    flat, latency, energy = _core.search_plans(
        kind, prices, candidates, refetch, served, slice_pj,
        table.kept_count[keep], feasible_rows.astype(np.uint8), port)
    if flat < 0:
        raise NoTileFits(f"no tiling of GEMM M={m} N={n} K={k} fits the scratchpads")
    s, i = divmod(flat, len(mt))
    chosen = int(keep[s])
    trip_of = {0: 1, 1: int(trips["m"][i]), 2: int(trips["n"][i]), 3: int(trips["k"][i])}
    ra, rb, rc = (trip_of[int(refetch[j, s])] for j in range(3))
    a_reads = 0 if a_on_chip else int(a_pass[i]) * ra
    spills = rc - 1
    served_bytes = {"A": int(a_pass[i]) * (trip_of[2] - 1) * int(served[0, s]),
                    "B": int(b_pass[i]) * (trip_of[1] - 1) * int(served[1, s]),
                    "C": int(p_pass[i]) * (trip_of[3] - 1) * int(served[2, s])}
    searched.append(GemmTiling(
        mt=int(mt[i]),
        nt=int(nt[i]),
        kt=int(kt[i]),
        order=table.orders[chosen],
        tiles=int(tiles[i]),
        a_read_bytes=a_reads,
        b_read_bytes=int(b_pass[i]) * rb,
        c_write_bytes=int(c_pass[i]) + int(p_pass[i]) * spills,
        c_read_bytes=int(p_pass[i]) * spills,
        a_refetch=0 if a_on_chip else ra,
        b_refetch=rb,
        c_spills=spills,
        compute_cycles=int(compute[i]),
        latency_cycles=float(latency),
        energy_pj=float(energy),
        resident=table.kept[chosen],
        kept_outer=table.outer_kept[chosen],
        c_level=int(c_level[s]),
        refill_bytes=tuple((x, b) for x, b in served_bytes.items() if b > 0),
        c_final_bytes=int(c_pass[i]),
    ))
    return searched[0] if room is None else replace(searched[0], room=room)


@lru_cache(maxsize=512)  # an op's twin runs close by; the keys hold the fit masks (~10 kB)
def _searched(key: tuple) -> list[GemmTiling]:
    """plan_gemm's tiling for a search ``key`` once found (empty before): its arguments but
    the scratchpads' sizes, and which candidates and slices fit them."""
    return []


def slice_port_cycles(rates: tuple[tuple[float, float, float], ...], home: dict[str, int],
                      c_level: np.ndarray, outer_g: np.ndarray, refetch: np.ndarray,
                      trips: dict[str, np.ndarray], a_on_chip: bool, a_bits: np.ndarray,
                      b_bits: np.ndarray, psum_r: np.ndarray, psum_w: np.ndarray,
                      a_pass: np.ndarray, b_pass: np.ndarray, c_pass: np.ndarray,
                      p_pass: np.ndarray, c_sub: tuple[Any, Any],
                      chains: tuple[tuple[int, ...], ...] = ((), (), ()),
                      c_kept: bool = False) -> np.ndarray:
    """``slice_port_cycles_reference`` (its arguments, its figures to the bit) in C++
    (``_core.port_cycles_table``): a loop over slices and candidates in place of some ten
    NumPy passes per distinct slice, a tenth of a cold ResNet-50 point on tpu_v1."""
    f64 = np.float64
    rows = np.ascontiguousarray(np.vstack([c_level, outer_g, refetch]).T, dtype=np.int64)
    drain, accumulate = c_sub
    width = max(1, *(len(c) for c in chains))
    chain_rows = np.array([list(c) + [-1] * (width - len(c)) for c in chains], dtype=np.int64)
    i64 = np.int64
    floats = {name: np.ascontiguousarray(x, dtype=f64) for name, x in (
        ("a_bits", a_bits), ("b_bits", b_bits), ("psum_r", psum_r), ("psum_w", psum_w),
        ("a_pass", a_pass), ("b_pass", b_pass), ("c_pass", c_pass), ("p_pass", p_pass),
        ("drain", drain), ("accumulate", accumulate))}
    return _core.port_cycles_table(
        rates=np.array(rates, dtype=f64).reshape(-1, 3),
        home=(home["input"], home["weight"], home["output"]), rows=rows, a_on_chip=a_on_chip,
        trips_m=np.ascontiguousarray(trips["m"], dtype=i64),
        trips_n=np.ascontiguousarray(trips["n"], dtype=i64),
        trips_k=np.ascontiguousarray(trips["k"], dtype=i64), **floats, chains=chain_rows,
        c_kept=c_kept)


def slice_port_cycles_reference(rates: tuple[tuple[float, float, float], ...],
                                home: dict[str, int], c_level: np.ndarray,
                                outer_g: np.ndarray, refetch: np.ndarray,
                                trips: dict[str, np.ndarray], a_on_chip: bool,
                                a_bits: np.ndarray, b_bits: np.ndarray, psum_r: np.ndarray,
                                psum_w: np.ndarray, a_pass: np.ndarray, b_pass: np.ndarray,
                                c_pass: np.ndarray, p_pass: np.ndarray,
                                c_sub: tuple[Any, Any],
                                chains: tuple[tuple[int, ...], ...] = ((), (), ()),
                                c_kept: bool = False) -> np.ndarray:
    """Per (slice, candidate): the fewest cycles the levels' ports move what the op reads and
    writes at each, as the planner counts it (pysim/mapping/counts.py, planner.py): the
    array's operand reads and partial sums (C at its inner level or where the slice keeps
    it), DMA fills of A and B and the drain of C, and the re-reads an outer level serves (A,
    B) or the partial sums it holds between K tiles (C: out and back, both levels). A C tile
    kept at an outer level is walked in sub-tiles its inner level holds (mapping/subtile.py):
    ``c_sub`` = (bits each K tile's sub-tiles drain to it, bits its accumulation reads back).
    ``rates``: (read, write, any) bits per cycle of each capacity group
    (``Scratchpad.port_bits_per_cycle``). ``chains``: per role (A, B, C) the levels behind
    its home, innermost first (``Capacity.outer``): every DRAM byte of an operand passes them,
    written and read there (A's and B's fills behind their homes, C's drain and its partial
    sums re-read from DRAM behind the level holding C), and C's DRAM re-reads cross its level
    too, as the planner counts them; ``c_kept``: C stays on chip for its consumers, moved into
    A's home level rather than drained to DRAM."""
    from pysim.config.memory import port_cycles  # pysim.config imports the mapping's units

    trip_of = {0: np.ones_like(a_pass), 1: trips["m"], 2: trips["n"], 3: trips["k"]}
    drain, accumulate = c_sub
    n_groups, zero = len(rates), np.zeros(len(a_pass))
    hi, hw_, ho = home["input"], home["weight"], home["output"]
    fill_a = {code: 8.0 * a_pass * t for code, t in trip_of.items()}
    fill_b = {code: 8.0 * b_pass * t for code, t in trip_of.items()}
    served_a, served_b = 8.0 * a_pass * (trips["n"] - 1), 8.0 * b_pass * (trips["m"] - 1)
    spill, drain8 = 8.0 * p_pass * (trips["k"] - 1), 8.0 * c_pass
    rows = np.vstack([c_level, outer_g, refetch]).T.tolist()  # one row per slice
    index: dict[tuple[int, ...], int] = {}
    which = [index.setdefault(tuple(row), len(index)) for row in rows]
    table = np.empty((len(index), len(a_pass)))
    for j, (c_at, ga, gb, gc, ra, rb, rc) in enumerate(index):
        cg = ho if c_at < 0 else c_at
        r: list[Any] = [zero] * n_groups  # per group; arrays added, never changed in place
        w: list[Any] = [zero] * n_groups
        r[hi] = r[hi] + a_bits
        r[hw_] = r[hw_] + b_bits
        r[cg] = r[cg] + drain8  # the drain to DRAM
        if c_at < 0:  # partial sums at C's inner level
            r[cg] = r[cg] + psum_r
            w[cg] = w[cg] + psum_w
        else:  # in sub-tiles at the inner level, each leaving to C's level once per K tile
            r[ho] = r[ho] + (psum_r - accumulate + drain)
            w[ho] = w[ho] + psum_w
            w[cg] = w[cg] + drain
            r[cg] = r[cg] + accumulate
        if not a_on_chip:
            w[hi] = w[hi] + fill_a[ra]
        w[hw_] = w[hw_] + fill_b[rb]
        if ga >= 0 and not a_on_chip:  # A's re-reads across N served by an outer level
            r[ga] = r[ga] + served_a
            w[hi] = w[hi] + served_a
        if gb >= 0:  # B's across M
            r[gb] = r[gb] + served_b
            w[hw_] = w[hw_] + served_b
        if gc >= 0:  # C's partial sums between K tiles: out of C's level and back
            for g in (gc, cg):
                r[g] = r[g] + spill
                w[g] = w[g] + spill
        # C's partial sums re-read from DRAM across loop rc: out of C's level and back in
        dram_spill = 8.0 * p_pass * (trip_of[rc] - 1.0)
        if rc != 0:
            r[cg] = r[cg] + dram_spill
            w[cg] = w[cg] + dram_spill
        # every DRAM byte of an operand passes the levels behind the one it lives at
        c_chain = chains[2] if c_at < 0 else chains[2][chains[2].index(c_at) + 1:]
        drained = 0.0 if c_kept else 8.0  # bits per byte of C's final pass to DRAM
        for chain, bits in ((chains[0] if not a_on_chip else (), fill_a[ra]),
                            (chains[1], fill_b[rb]),
                            (c_chain, drained * c_pass + 2.0 * dram_spill)):
            for g in chain:
                r[g] = r[g] + bits
                w[g] = w[g] + bits
        if c_kept and cg != hi:  # kept for its consumers: moved into A's home level
            w[hi] = w[hi] + 8.0 * c_pass
        worst = zero
        for g in range(n_groups):
            if r[g] is zero and w[g] is zero:
                continue
            worst = np.maximum(worst, port_cycles(r[g], w[g], rates[g]))
        table[j] = worst
    return table[which]


def tile_shapes(m: int, n: int, k: int, t: GemmTiling) -> list[tuple[int, int, int, int]]:
    """The distinct tile shapes of a tiling with how often each occurs: (count, mt, nt, kt)."""
    out = []
    for mc, ms in _split(m, t.mt):
        for nc, ns in _split(n, t.nt):
            for kc, ks in _split(k, t.kt):
                out.append((mc * nc * kc, ms, ns, ks))
    return out


def _split(dim: int, tile: int) -> list[tuple[int, int]]:
    full, rest = divmod(dim, tile)
    parts = [(full, tile)] if full else []
    if rest:
        parts.append((1, rest))
    return parts
