"""Inter-layer reuse chosen optimally (``mapper.residency: planned``, the default) instead of
the first-in first-out rule of pysim/mapping/residency.py (issue 13).

The model is the mapper's own: a kept area (a quarter of the input scratchpad) holds op
outputs between their producer and later readers; a reader finds its input either kept or
reads it from DRAM, streaming it through its tiles without a place in the area. Each of a
tensor's gaps (producer -> 1st reader -> 2nd reader ...) is kept or dropped on its own: a
dropped gap's reader reads the tensor from DRAM, and a gap kept after a dropped one is a
reload (that reader keeps what it read for the next one: COSMA's spill and reload, no extra
DRAM read). A tensor some reader reads from DRAM is written there once by its producer (one
write-back). The choice minimises the bytes moved between ops (each reader's DRAM read, each
write-back) subject to the area at every step, by an integer program in the COSMA line (Li et
al., arXiv 2311.18246: keep / drop per tensor and gap, capacity per step: a kept gap fills
the area from the end of its producer, or reloading reader, through its reader) solved with
HiGHS, its LP relaxation first (through ``highspy``): rounded and repaired (and branched once),
that plan stands where it keeps within MIP_REL_GAP of the relaxation's bound (``_solve``);
else the integer program (``scipy.optimize.milp``). The online rules' choices
(FIFO, LRU, Belady: pysim/mapping/residency.py) are points of this space, so the plan never
moves more; the mapper runs the best of them where the solver stops with a worse plan or
none (``choose_residency``).
(``pysim.memplan`` plans a whole scratchpad with addresses, every tensor resident at its uses.)
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from pysim.mapping.kept_area import KeptBlock, Stay, place
from pysim.mapping.residency import POLICIES, Residency, online_traffic, plan_residency


@dataclass(frozen=True)
class PlannedResidency:
    """The Residency (None: none was found, ``note`` says why) and how it was found."""

    residency: Residency | None
    note: str
    bytes_between_ops: int = 0
    aggregate_bytes: int = 0  # the keep / drop program's, before addresses (fragmentation)


# The solve stops once the kept bytes are proven within this fraction of the optimum, or after
# this many branch-and-bound nodes, so the stop does not depend on the machine's speed. Every
# shipped config's zoo graph, forward or training, and LLaMA-2-7B's ~1,600-op int8 training
# graph on tpu_v1 (1.5 s) are proven at the root node or by the relaxation (_solve), but for
# tpu_v1's int8 training graph of resnet18_precision (node limit, 0.12 % gap), so the search
# ends there (benchmarks/bench_residency_program.py).
MIP_REL_GAP = 1e-3
MIP_NODE_LIMIT = 1
# HiGHS's feasibility-jump heuristic (Luteberget & Sartor, Math. Prog. Comp. 2023) looks for
# a first feasible point; keeping nothing is already one here (a packing program), so it is
# off. Over the 43 programs of 100 gaps or more of the zoo's training graphs (int8 on the
# accelerator configs, mixed_bf16 with bf16 PEs) HiGHS's root node ran 0.87-11.6x faster
# (median 1.12x; LLaMA-2-7B's linear layers' int8 step on tpu_v1 346 -> 42 ms), each plan
# the same or another within MIP_REL_GAP (benchmarks/bench_residency_program.py).
HIGHS_OPTIONS = {"mip_heuristic_run_feasibility_jump": False}

# Per op in order: (output tensor, input tensors, output bytes); hashable, so plans are cached.
Steps = tuple[tuple[str, tuple[str, ...], int], ...]


def _steps(wl: Any) -> Steps:
    return tuple((op.output, tuple(op.inputs), wl.tensors[op.output].bytes) for op in wl.ops)


def reuse_traffic(wl: Any, res: Residency) -> int:
    """DRAM bytes a residency leaves between ops: each read of an op output not found on chip,
    and each op output written that is not a graph output (the mapper's own accounting)."""
    return _traffic(_steps(wl), frozenset(wl.outputs), res)


def _traffic(steps: Steps, outputs: frozenset[str], res: Residency) -> int:
    size = {out: nbytes for out, _, nbytes in steps}
    reads = sum(size[t] for i, (_, ins, _) in enumerate(steps) for t in set(ins)
                if t in size and t not in res.resident_inputs[i])
    writes = sum(nbytes for i, (out, _, nbytes) in enumerate(steps)
                 if res.writes_output[i] and out not in outputs)
    return reads + writes


def choose_residency(wl: Any, budget_bytes: int, rule: str,
                     time_limit_s: float) -> tuple[Residency, str]:
    """The residency the mapper runs (``mapper.residency``) and the note that says how it was
    chosen: an online rule by name, or ``planned``: the optimal plan, or the best online rule
    (fifo, lru, belady; ties in that order) where the solver stops with a plan that moves
    more, or with none. Cached by the graph's shape, as the plan is."""
    return _choose(_steps(wl), frozenset(wl.outputs), int(budget_bytes), rule,
                   float(time_limit_s))


@functools.lru_cache(maxsize=256)
def _choose(steps: Steps, outputs: frozenset[str], budget_bytes: int, rule: str,
            time_limit_s: float) -> tuple[Residency, str]:
    consumers: dict[str, list[int]] = {}
    for i, (_, ins, _) in enumerate(steps):
        for t in dict.fromkeys(ins):
            consumers.setdefault(t, []).append(i)
    order = list(steps)
    if rule != "planned":
        policy = next(p for p in POLICIES if p == rule)  # mapper.residency's online rules
        return plan_residency(order, consumers, set(outputs), budget_bytes, policy), rule
    moved = {p: online_traffic(order, consumers, set(outputs), budget_bytes, p)
             for p in POLICIES}
    best = min(POLICIES, key=lambda p: moved[p])
    planned = _plan(steps, outputs, budget_bytes, time_limit_s)
    if planned.residency is not None and planned.bytes_between_ops <= moved[best]:
        return planned.residency, f"{planned.note}; best online rule ({best}): {moved[best]:,} B"
    online = plan_residency(order, consumers, set(outputs), budget_bytes, best)
    return online, f"{best}: {moved[best]:,} B between ops [{planned.note}]"


def plan_residency_optimal(wl: Any, budget_bytes: int, time_limit_s: float) -> PlannedResidency:
    """The kept area of ``budget_bytes`` planned for ``wl`` in its own order (see the module
    docstring). Plans are cached by the graph's shape (a sweep revisits it at every point)."""
    return _plan(_steps(wl), frozenset(wl.outputs), int(budget_bytes), float(time_limit_s))


def captured_programs(run: Callable[[], object]) -> list[tuple[Any, ...]]:
    """The arguments of every keep / drop program ``run`` hands the solver (``_solve``), each
    solved as usual; the plans' caches are cleared before and after, so none is skipped. What
    benchmarks/bench_residency_program.py and the tests study the solve on."""
    seen: list[tuple[Any, ...]] = []
    solve = _solve

    def capture(*args: Any) -> tuple[np.ndarray | None, str]:
        seen.append(args)
        return solve(*args)

    def clear() -> None:
        _choose.cache_clear()
        _plan.cache_clear()

    clear()
    globals()["_solve"] = capture  # _plan calls it by its module-level name
    try:
        run()
    finally:
        globals()["_solve"] = solve
        clear()
    return seen


@functools.lru_cache(maxsize=256)
def _plan(steps: Steps, outputs: frozenset[str], budget_bytes: int,
          time_limit_s: float) -> PlannedResidency:
    n = len(steps)
    nbytes = {out: b for out, _, b in steps}
    read_at: dict[str, list[int]] = {}  # tensor -> the steps that read it, in order
    for i, (_, ins, _) in enumerate(steps):
        for t in dict.fromkeys(ins):
            if t in nbytes:
                read_at.setdefault(t, []).append(i)
    # gaps of every keepable tensor: (tensor, j, first step occupied, last step occupied)
    gaps: list[tuple[str, int, int, int]] = []
    readers: dict[str, list[int]] = {}
    for i, (t, _, b) in enumerate(steps):
        reads = read_at.get(t, [])
        if not reads or not 0 < b <= budget_bytes:
            continue
        readers[t] = reads
        prev = i  # the output enters the area once its producer is done (as FIFO places it)
        for j, r in enumerate(reads):
            gaps.append((t, j, prev + 1, r))
            prev = r
    if not gaps:
        res = Residency(tuple(frozenset() for _ in steps),
                        tuple(out in outputs or out in read_at for out, _, _ in steps),
                        (0,) * n, frozenset())
        moved = _traffic(steps, outputs, res)
        return PlannedResidency(res, "planned (nothing fits the kept area)", moved, moved)
    size = np.array([nbytes[t] for t, *_ in gaps], dtype=float)
    # Traffic = each dropped gap's reader reading from DRAM + one write-back for a non-output
    # tensor with a dropped gap. Minimising it maximises the bytes kept: every kept gap's
    # size, plus the write-back of a tensor with every gap kept (a one-gap tensor's is its
    # gap's; a longer one's rides on a variable of its own, see _solve).
    whole = [t for t in readers if t not in outputs and len(readers[t]) > 1]
    alone = [t not in outputs and len(readers[t]) == 1 for t, *_ in gaps]
    save = size * (1.0 + np.array(alone, dtype=float))
    g_count = len(gaps)
    spans = np.array([(lo, hi) for _, _, lo, hi in gaps], dtype=np.int64)
    lo_of, hi_of = spans[:, 0].copy(), spans[:, 1].copy()
    load = np.zeros(n + 1)
    np.add.at(load, lo_of, size)
    np.add.at(load, hi_of + 1, -size)
    kept_gap: np.ndarray | None
    if np.cumsum(load[:n]).max() <= budget_bytes:  # every gap fits at once: keep them all
        kept_gap = np.ones(g_count, dtype=bool)
        how = "every gap fits at once: optimal, no program"
    else:
        kept_gap, proven = _solve(gaps, size, save, whole, nbytes, lo_of, hi_of, n,
                                  budget_bytes, time_limit_s)
        if kept_gap is None:
            return PlannedResidency(None, f"the planner found no plan ({proven})")
        how = f"keep / drop ILP, {proven}"
    # the traffic before addresses: every read and write-back less what the kept gaps save
    # (``_traffic`` of the keep set's Residency, which took 1 ms of tpu_v1's ResNet-50 step)
    every = sum(nbytes[t] * (len(rs) + (t not in outputs)) for t, rs in read_at.items())
    # (the program's objective: sums of whole bytes, exact in float below 2^53)
    aggregate = every - round(_kept_bytes(kept_gap, gaps, save, whole, nbytes))
    # Addresses (pysim/mapping/kept_area.py): each run of consecutive kept gaps is one stay,
    # from its first gap's start through its last gap's end; a stay that fragmentation leaves
    # no room for keeps a shorter run.
    runs: list[tuple[str, int, int, list[int], int]] = []  # (tensor, bytes, first, ends, gap)
    for k in np.flatnonzero(kept_gap).tolist():
        t, j, lo, hi = gaps[k]
        last = runs[-1] if runs else None
        if last is not None and last[0] == t and last[4] + len(last[3]) == j:
            last[3].append(hi)
        else:
            runs.append((t, nbytes[t], lo, [hi], j))
    stays = [Stay(t, b, first, tuple(ends), j) for t, b, first, ends, j in runs]
    placed, kept_count = place(stays, budget_bytes)
    keep = {(st.tensor, st.gap + c) for st, count in kept_count.items() for c in range(count)}
    blocks = [KeptBlock(b.tensor, b.offset, b.nbytes, b.first_step, b.last_step,
                        b.last_step != readers[b.tensor][-1], b.reloaded) for b in placed]
    res = _residency(steps, outputs, readers, read_at, keep, n, tuple(blocks))
    moved = _traffic(steps, outputs, res)
    frag = (f", {moved - aggregate:,} B more for fragmentation" if moved > aggregate else "")
    reloads = sum(b.reloaded for b in blocks)
    reloaded = f", {reloads} reloads" if reloads else ""
    return PlannedResidency(res, f"planned ({how}; addresses by best or first "
                                 f"fit{frag}{reloaded}): {moved:,} B between ops through a "
                                 f"{budget_bytes:,} B kept area", moved, aggregate)


# Cover rows the LP relaxation gets before it is rounded: at any step at most k of the gaps
# larger than 1 / (k + 1) of the area are kept, for k = 1..COVER_CLASSES (knapsack cover
# inequalities, Wolsey, "Integer Programming", 1998, Sec. 9.3; valid for every integer plan, and
# in the running-sum form, a count per step, like the capacity), lifted: a gap larger than
# k / (k + 1) of the area counts k, since it leaves room for no other gap of the class (kept,
# the row reads k; else at most k others). On the zoo's training graphs they close most of the
# relaxation's gap to the optimum (BERT-base int8 on tpu_v1: 0.81 % without, 0 with k = 1, 2);
# the lifting closes what is left on the small scratchpads (edge_npu's int8 ResNet-50: 0.24 %
# -> 0, eyeriss's ResNet-18 0.33 % -> 0, edge_npu's bf16 ResNet-18 1.77 % -> 0.49 %).
COVER_CLASSES = 2
# The integer program's cover rows (k = 1 only): with none HiGHS's root took 1.1x longer over
# the programs the relaxation does not settle and stopped at its node limit on edge_npu's
# MobileNetV2 and tpu_v1's VGG-16 (proven with them: 735 -> 434 ms, 56 -> 39 ms); with k = 1,
# 2 LLaMA-2-7B's int8 training graph on tpu_v1 took 2.6 s instead of 1.4-1.5.
IP_COVER_CLASSES = 1
# _improve: passes of repair moves, and the gaps the relaxation drops that its last try forces
# in (largest saving first). On the zoo's training graphs the extra ones settle tpu_v1's
# ResNet-18 (int8) and binary ResNet-18 (int8, bf16) without the integer program: the
# relaxation's vertex drops a gap its optimum keeps.
REPAIR_PASSES = 3
EXTRA_REPAIRS = 8
# The branching and the extra repairs are tried only where the repaired plan is within this
# fraction of the relaxation's bound: further off (2.2-3.9 % on edge_npu's and lowp_edge's
# int8 ResNet-18s, LLaMA-2-7B's bf16 linear layers on tpu_v1) only HiGHS's cuts lower the
# bound enough; eyeriss's int8 ResNet-50 (1.1 %, branched) is settled.
NEAR_GAP = 2e-2


def _running_sum(row0: int, col0: int, gap_cols: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                 weight: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """COO triplets of rows row0..row0 + n - 1: v[s] - v[s - 1] - (weight of the gaps starting
    at s) + (weight of those that ended at s - 1) = 0, v at columns col0..col0 + n - 1: v[s]
    is the weight of the gaps (at ``gap_cols``, spanning steps lo..hi) kept during step s."""
    v = col0 + np.arange(n)
    ends = hi + 1 < n
    rows = np.concatenate([row0 + np.arange(n), row0 + np.arange(1, n), row0 + lo,
                           row0 + hi[ends] + 1])
    cols = np.concatenate([v, v[:-1], gap_cols, gap_cols[ends]])
    vals = np.concatenate([np.ones(n), -np.ones(n - 1), -weight, weight[ends]])
    return rows, cols, vals


class _Program(NamedTuple):
    """The keep / drop program: minimise ``c @ x`` subject to ``row_lower <= a @ x <= 0`` and
    ``0 <= x <= upper`` (``integrality`` 1: binary), ``a`` in compressed-column form (HiGHS's
    own); ``unit``: the bytes one unit of the objective counts."""

    c: np.ndarray
    integrality: np.ndarray
    upper: np.ndarray
    a_start: np.ndarray  # column j's non-zeros: a_index / a_value[a_start[j]:a_start[j + 1]]
    a_index: np.ndarray
    a_value: np.ndarray
    row_lower: np.ndarray  # -inf (no lower bound) or 0
    unit: float

    def milp_arguments(self) -> dict[str, Any]:
        """The program as ``scipy.optimize.milp``'s keyword arguments."""
        from scipy.optimize import Bounds, LinearConstraint
        from scipy.sparse import csc_matrix

        a = csc_matrix((self.a_value, self.a_index, self.a_start),
                       shape=(len(self.row_lower), len(self.c)))
        return {"c": self.c, "integrality": self.integrality, "bounds": Bounds(0, self.upper),
                "constraints": [LinearConstraint(a, self.row_lower, 0.0)]}


def _program(gaps: list[tuple[str, int, int, int]], size: np.ndarray, save: np.ndarray,
             whole: list[str], nbytes: dict[str, int], lo_of: np.ndarray, hi_of: np.ndarray,
             n: int, budget_bytes: int, covers: int) -> _Program:
    """The keep / drop program (see ``_solve``), with cover rows for k = 1..``covers``."""
    g_count, w_count = len(gaps), len(whole)
    w_index = {t: i for i, t in enumerate(whole)}
    of_whole = np.array([k for k, (t, *_) in enumerate(gaps) if t in w_index], dtype=np.int64)
    w_col = g_count + n + np.array([w_index[gaps[k][0]] for k in of_whole], dtype=np.int64)
    c_rows = len(of_whole)  # all[t] - keep[g] <= 0
    ar = np.arange(g_count)
    # Bytes in units of the largest gap's, so every coefficient is in (0, 1] (HiGHS works to
    # absolute tolerances; in bytes its root cuts took 1.5-25x longer on the zoo's training
    # graphs, and LLaMA-2-7B's stopped at the root 17 % from its bound).
    unit = float(size.max())
    parts = [(np.repeat(np.arange(c_rows), 2), np.stack([w_col, of_whole], axis=1).ravel(),
              np.tile([1.0, -1.0], c_rows)),
             _running_sum(c_rows, g_count, ar, lo_of, hi_of, size / unit, n)]
    n_rows, n_cols = c_rows + n, g_count + n + w_count
    lower = [np.full(c_rows, -np.inf), np.zeros(n)]
    upper = [np.ones(g_count), np.full(n, budget_bytes / unit), np.ones(w_count)]
    for k in range(1, covers + 1):
        big = ar[size * (k + 1) > budget_bytes]
        if not len(big):
            continue
        # a gap larger than k / (k + 1) of the area leaves no room for another of these
        weight = np.where(size[big] * (k + 1) > k * budget_bytes, float(k), 1.0)
        # the count changes only where one of these gaps starts or ends: one row and count
        # per stretch between those steps (a few on the zoo's training graphs, where one per
        # step made 2 x 516 of tpu_v1's int8 ResNet-50 program's 2,420 rows)
        ends = hi_of[big] + 1
        cuts = np.unique(np.concatenate([lo_of[big], ends[ends < n]]))
        m = len(cuts)
        parts.append(_running_sum(n_rows, n_cols, big, np.searchsorted(cuts, lo_of[big]),
                                  np.searchsorted(cuts, ends) - 1, weight, m))
        lower.append(np.zeros(m))
        upper.append(np.full(m, float(k)))
        n_rows, n_cols = n_rows + m, n_cols + m
    rows, cols, vals = (np.concatenate(x) for x in zip(*parts, strict=True))
    by_col = np.lexsort((rows, cols))  # compressed columns (no entry repeats a position)
    start = np.zeros(n_cols + 1, dtype=np.int64)
    np.cumsum(np.bincount(cols, minlength=n_cols), out=start[1:])
    cost = np.zeros(n_cols)
    cost[:g_count] = -save / unit
    cost[g_count + n:g_count + n + w_count] = -np.array([nbytes[t] for t in whole],
                                                        dtype=float) / unit
    integrality = np.zeros(n_cols)
    integrality[:g_count] = 1
    integrality[g_count + n:g_count + n + w_count] = 1
    return _Program(cost, integrality, np.concatenate(upper), start,
                    rows[by_col].astype(np.int64), vals[by_col], np.concatenate(lower), unit)


class _Relaxation:
    """A program's LP relaxation in HiGHS (through highspy, HiGHS's own binding), kept loaded
    so that a branch (one variable held at a value) is solved again from the last optimal
    basis by the dual simplex: on tpu_v1's int8 ResNet-50 training graph (1,069 gaps) the root
    takes 5 ms and each branch 0.8 ms (2-10 iterations), where scipy's ``milp`` took 9 ms for
    each, the model built anew. The solves run in a fixed order within one ``_solve``, so the
    plan is the same on every run; nothing carries over between programs."""

    def __init__(self, program: _Program) -> None:
        import highspy

        from pysim.milp import native_stdout_silenced

        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = len(program.c), len(program.row_lower)
        lp.col_cost_ = program.c
        self._lower, self._upper = np.zeros(len(program.c)), program.upper
        lp.col_lower_, lp.col_upper_ = self._lower, self._upper
        lp.row_lower_ = np.where(np.isinf(program.row_lower), -highspy.kHighsInf,
                                 program.row_lower)
        lp.row_upper_ = np.zeros(len(program.row_lower))
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = program.a_start
        lp.a_matrix_.index_, lp.a_matrix_.value_ = program.a_index, program.a_value
        with native_stdout_silenced():  # its banner, printed once a process from C
            self._highs = highspy.Highs()
        for option, value in (("output_flag", False), ("presolve", "off")):
            self._highs.setOptionValue(option, value)
        self._highs.passModel(lp)
        self._optimal = highspy.HighsModelStatus.kOptimal
        self._unit = program.unit

    def solve(self, fixed: tuple[int, float] | None,
              time_limit_s: float) -> tuple[np.ndarray, float] | None:
        """The relaxation's values and bound (bytes kept), ``fixed`` = (variable, value) held
        for this solve only; None: not solved to optimality within ``time_limit_s``."""
        h = self._highs
        h.setOptionValue("time_limit", max(time_limit_s, 1e-6))
        if fixed is not None:
            h.changeColBounds(fixed[0], fixed[1], fixed[1])
        try:
            h.run()
            if h.getModelStatus() != self._optimal:
                return None
            return (np.asarray(h.getSolution().col_value),
                    -h.getInfo().objective_function_value * self._unit)
        finally:
            if fixed is not None:
                k = fixed[0]
                h.changeColBounds(k, float(self._lower[k]), float(self._upper[k]))


def _kept_bytes(keep: np.ndarray, gaps: list[tuple[str, int, int, int]], save: np.ndarray,
                whole: list[str], nbytes: dict[str, int]) -> float:
    """The program's objective (bytes kept or written back no more) of a keep set."""
    every = dict.fromkeys(whole, True)
    for k, (t, *_) in enumerate(gaps):
        if t in every and not keep[k]:
            every[t] = False
    return float(save[keep].sum()) + sum(nbytes[t] for t, kept in every.items() if kept)


def _rounding_order(x: np.ndarray, save: np.ndarray) -> np.ndarray:
    """The gaps in order of their value in the relaxation, then of their saving (then index)."""
    return np.lexsort((np.arange(len(save)), -save, -np.round(x, 6)))


def _owners(gaps: list[tuple[str, int, int, int]], whole: list[str],
            nbytes: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per gap its owner in ``whole`` (``len(whole)``: none), per owner the write-back saved
    once all its gaps are kept, and how many gaps that takes (-1 for none: never)."""
    w_index = {t: i for i, t in enumerate(whole)}
    none = len(whole)
    owner = np.array([w_index.get(t, none) for t, *_ in gaps], dtype=np.int64)
    w_bytes = np.array([nbytes[t] for t in whole] + [0], dtype=float)
    w_gaps = np.bincount(owner, minlength=none + 1)
    w_gaps[none] = -1
    return owner, w_bytes, w_gaps


def _round(x: np.ndarray, size: np.ndarray, save: np.ndarray, lo_of: np.ndarray,
           hi_of: np.ndarray, n: int, budget_bytes: int) -> np.ndarray:
    """A keep set near the relaxation's ``x`` (one value per gap): gaps in order of their x,
    then of their saving, each kept where the area has room for it throughout its span (exact
    in bytes, so the set fits whatever the LP's tolerances). ``_round_reference`` in C++
    (``_core.round_plan``)."""
    from pysim import _core

    none = np.zeros(len(size), dtype=np.int64)
    return _core.round_plan(size.astype(np.int64), lo_of, hi_of, save, none, np.zeros(1),
                            np.full(1, -1, dtype=np.int64), n, _rounding_order(x, save),
                            budget_bytes)


def _round_reference(x: np.ndarray, size: np.ndarray, save: np.ndarray, lo_of: np.ndarray,
                     hi_of: np.ndarray, n: int, budget_bytes: int) -> np.ndarray:
    """``_round`` in Python."""
    nbytes = size.astype(np.int64)
    keep = np.zeros(len(size), dtype=bool)
    held = np.zeros(n, dtype=np.int64)
    for k in _rounding_order(x, save).tolist():
        lo, hi = lo_of[k], hi_of[k] + 1
        if held[lo:hi].max() + nbytes[k] <= budget_bytes:
            keep[k] = True
            held[lo:hi] += nbytes[k]
    return keep


def _improve(keep: np.ndarray, x: np.ndarray, gaps: list[tuple[str, int, int, int]],
             size: np.ndarray, save: np.ndarray, whole: list[str], nbytes: dict[str, int],
             lo_of: np.ndarray, hi_of: np.ndarray, n: int, budget_bytes: int,
             extra: int = 0, deadline: float = math.inf) -> np.ndarray:
    """The rounded plan ``keep`` repaired where the relaxation ``x`` keeps a gap in part that
    the rounding dropped, and for the ``extra`` dropped gaps of largest saving the relaxation
    drops: that gap forced in, the kept gaps that leave it no room dropped greedily (the most
    overload relieved per byte of saving lost, as the greedy set multicover of Chvatal, Math.
    Oper. Res. 1979, picks; the move given up once they lose more than the gap saves), then
    every dropped gap that fits again re-kept in the rounding's order; a move stands where the
    program's objective (``_kept_bytes``) grows. Passes repeat while one does (at most
    REPAIR_PASSES), and no move starts after ``deadline`` (``time.perf_counter``). Exact in
    bytes, as ``_round``. In C++
    (``_core.repair_plan``; ``_improve_reference`` holds the same moves in NumPy, whose
    per-call cost made it 12 ms of a 40 ms program on tpu_v1's int8 ResNet-50 training graph:
    ~300 greedy drops, ~3,000 refits)."""
    from pysim import _core

    owner, w_bytes, w_gaps = _owners(gaps, whole, nbytes)
    return _core.repair_plan(size.astype(np.int64), lo_of, hi_of, save, owner, w_bytes, w_gaps,
                             n, np.asarray(keep, dtype=bool), _rounding_order(x, save),
                             x > 1e-6, budget_bytes, extra, REPAIR_PASSES,
                             deadline - time.perf_counter())


def _improve_reference(keep: np.ndarray, x: np.ndarray,
                       gaps: list[tuple[str, int, int, int]], size: np.ndarray,
                       save: np.ndarray, whole: list[str], nbytes: dict[str, int],
                       lo_of: np.ndarray, hi_of: np.ndarray, n: int, budget_bytes: int,
                       extra: int = 0, deadline: float = math.inf) -> np.ndarray:
    """``_improve`` in Python."""
    nb = size.astype(np.int64)
    g_count = len(gaps)
    order = _rounding_order(x, save)
    rank = np.empty(g_count, dtype=np.int64)
    rank[order] = np.arange(g_count)
    owner, w_bytes, w_gaps = _owners(gaps, whole, nbytes)
    none = len(whole)  # the owner of a gap whose tensor is not in ``whole``

    def objective(kp: np.ndarray) -> float:
        kept_of = np.bincount(owner[kp], minlength=none + 1)
        return float(save[kp].sum() + w_bytes[kept_of == w_gaps].sum())

    delta = np.zeros(n + 1, dtype=np.int64)
    np.add.at(delta, lo_of[keep], nb[keep])
    np.add.at(delta, hi_of[keep] + 1, -nb[keep])
    held = np.cumsum(delta[:n])
    keep, best = keep.copy(), objective(keep)
    for _ in range(REPAIR_PASSES):
        moved = False
        unkept = np.flatnonzero(~keep & (x <= 1e-6))
        for f in [*(k for k in order.tolist() if x[k] > 1e-6 and not keep[k]),
                  *unkept[np.argsort(-save[unkept], kind="stable")][:extra].tolist()]:
            if time.perf_counter() > deadline:
                return keep
            lo, hi = int(lo_of[f]), int(hi_of[f]) + 1
            trial, th = keep.copy(), held.copy()
            span = np.flatnonzero(trial & (lo_of < hi) & (hi_of >= lo))
            dropped: list[int] = []
            gain, lost = save[f] + w_bytes[owner[f]], 0.0  # a move losing more never pays
            while span.size and lost <= gain:
                over = np.maximum(th[lo:hi] + nb[f] - budget_bytes, 0)
                if not over.any():
                    break
                # the overload within each candidate's span (by prefix sums), at most its
                # bytes at each overloaded step
                first = np.maximum(lo_of[span], lo) - lo
                last = np.minimum(hi_of[span] + 1, hi) - lo
                excess = np.concatenate(([0], np.cumsum(over)))
                steps = np.concatenate(([0], np.cumsum(over > 0)))
                relief = np.minimum(excess[last] - excess[first],
                                    nb[span] * (steps[last] - steps[first]))
                kept_of = np.bincount(owner[trial], minlength=none + 1)
                loss = save[span] + np.where(kept_of[owner[span]] == w_gaps[owner[span]],
                                             w_bytes[owner[span]], 0.0)
                score = relief / np.maximum(loss, 1.0)
                pick = int(np.argmax(score))
                if score[pick] <= 0:
                    break
                k = int(span[pick])
                lost += loss[pick]
                trial[k] = False
                th[lo_of[k]:hi_of[k] + 1] -= nb[k]
                dropped.append(k)
                span = np.delete(span, pick)
            if (th[lo:hi] + nb[f]).max() > budget_bytes:
                continue
            trial[f] = True
            th[lo:hi] += nb[f]
            if dropped:  # room freed only where a dropped gap was
                near = np.zeros(g_count, dtype=bool)
                for k in dropped:
                    near |= (lo_of <= hi_of[k]) & (hi_of >= lo_of[k])
                # a gap fits only where its first and last steps have room (checked at once)
                near &= ~trial & (np.maximum(th[lo_of], th[hi_of]) + nb <= budget_bytes)
                for k in sorted(np.flatnonzero(near).tolist(), key=rank.__getitem__):
                    if th[lo_of[k]:hi_of[k] + 1].max() + nb[k] <= budget_bytes:
                        trial[k] = True
                        th[lo_of[k]:hi_of[k] + 1] += nb[k]
            value = objective(trial)
            if value > best:
                keep, held, best, moved = trial, th, value, True
        if not moved:
            break
    return keep


def _solve(gaps: list[tuple[str, int, int, int]], size: np.ndarray, save: np.ndarray,
           whole: list[str], nbytes: dict[str, int], lo_of: np.ndarray, hi_of: np.ndarray,
           n: int, budget_bytes: int,
           time_limit_s: float) -> tuple[np.ndarray | None, str]:
    """The keep / drop program: which gaps stay kept (None: no solution), and its status.
    ``whole``: the non-output tensors of several gaps, whose write-back is saved only when
    every gap is kept.

    First its LP relaxation with cover rows (``COVER_CLASSES``), rounded (``_round``) and
    repaired (``_improve``): where that plan keeps within MIP_REL_GAP of the relaxation's
    bound, it is proven so (10-30 ms on the zoo's training graphs, where HiGHS's root node
    took 0.05-0.6 s: its cuts and sub-MIP heuristics). Else the relaxation is branched once,
    on its largest fractional gap (kept; dropped; each solved warm from the root's basis,
    ``_Relaxation``): the larger of the two bounds is the program's, and where the root's plan
    does not prove it, each branch's plan, rounded and repaired, a candidate; last, near the
    bound, the best plan is repaired with gaps the relaxation drops forced in too
    (``EXTRA_REPAIRS``). Else the integer program itself,
    whose plan stands unless one of those keeps more."""
    g_count = len(gaps)
    args = (gaps, size, save, whole, nbytes, lo_of, hi_of, n, budget_bytes)
    relaxed = _Relaxation(_program(*args, covers=COVER_CLASSES))
    deadline = time.perf_counter() + time_limit_s  # the cap is on all of the solves together

    def left() -> float:
        return max(0.0, deadline - time.perf_counter())

    def is_proven(bound: float, kept: float) -> bool:
        return bound - kept <= MIP_REL_GAP * kept

    root = relaxed.solve(None, left())
    found: tuple[np.ndarray, float] | None = None  # the best plan the relaxations gave
    if root is not None:
        x, bound = root[0][:g_count], root[1]
        keep = _round(x, size, save, lo_of, hi_of, n, budget_bytes)
        kept = _kept_bytes(keep, gaps, save, whole, nbytes)
        if not is_proven(bound, kept):
            keep = _improve(keep, x, *args, deadline=deadline)
            kept = _kept_bytes(keep, gaps, save, whole, nbytes)
        found = keep, kept
        root_plan = keep
        if is_proven(bound, kept):
            return keep, (f"within {MIP_REL_GAP:.1%} of optimal (the LP relaxation's bound, "
                          "rounded and repaired)")
        part = np.flatnonzero((x > 1e-6) & (x < 1 - 1e-6))
        near = bound - kept <= NEAR_GAP * kept
        if part.size and near:
            f = int(part[np.argmax(size[part])])
            branches = [relaxed.solve((f, value), left()) for value in (1.0, 0.0)]
            solved = [(b[0][:g_count], b[1]) for b in branches if b is not None]
            if len(solved) == len(branches):
                bound = max(b[1] for b in solved)
                # the branches' plans rounded and repaired only where the root's does not
                # prove the bound
                for bx, _ in ([] if is_proven(bound, found[1]) else solved):
                    keep = _improve(_round(bx, size, save, lo_of, hi_of, n, budget_bytes), bx,
                                    *args, deadline=deadline)
                    kept = _kept_bytes(keep, gaps, save, whole, nbytes)
                    if kept > found[1]:
                        found = keep, kept
                if is_proven(bound, found[1]):
                    return found[0], (f"within {MIP_REL_GAP:.1%} of optimal (the LP "
                                      "relaxation's bound branched on one gap, rounded and "
                                      "repaired)")
        if near:  # last, the repair that also forces in gaps the relaxation drops, from the
            # best plan and from the root's where a branch's replaced it (tpu_v1's int8
            # binary ResNet-18: the root's ends 0.09 % from the bound, the branch's 0.4 %)
            for start in ([found[0]] if found[0] is root_plan else [found[0], root_plan]):
                keep = _improve(start, x, *args, extra=EXTRA_REPAIRS, deadline=deadline)
                kept = _kept_bytes(keep, gaps, save, whole, nbytes)
                if kept > found[1]:
                    found = keep, kept
            keep = found[0]
            if is_proven(bound, found[1]):
                return keep, (f"within {MIP_REL_GAP:.1%} of optimal (the LP relaxation's "
                              "bound, rounded and repaired)")
    # Variables: keep[g] per gap (binary), the kept bytes u[s] in the area during each step
    # (continuous, 0..budget), then all[t] per tensor of ``whole`` (binary: every gap kept,
    # no write-back; all[t] <= keep[g] for each of its gaps). u[s] = u[s - 1] + gaps starting
    # at s - gaps ending at s - 1 is the capacity constraint in its running-sum form:
    # O(gaps + steps) non-zeros where one row per step over the gaps spanning it has
    # O(gaps x span) (414,265 on LLaMA-2-7B's training graph, 11,863 this way): the same
    # polytope, which HiGHS solves 1.4x (ResNet-50) to 5.5x (LLaMA-2-7B) faster. HiGHS's
    # presolve is off: it substitutes the running sums away, and with it LLaMA-2-7B's int8
    # training graph on tpu_v1 reached the 10 s cap 21 % from its bound (a plan that depends on
    # the machine's speed) where without it the root node proves the optimum in 2 s; on the
    # other zoo graphs the plans are the same or within the 0.1 % gap, at similar times. Cover
    # rows: IP_COVER_CLASSES.
    if left() <= 0.0:
        if found is not None:
            return found[0], "time limit; the LP relaxation's plan, rounded and repaired"
        return None, "time limit"
    sol = integer_program(args, left(), HIGHS_OPTIONS)
    if sol.x is None:
        if found is not None:
            return found[0], f"{sol.message}; the LP relaxation's plan, rounded and repaired"
        return None, str(sol.message)
    gap = f"gap {sol.mip_gap or 0:.2%}"
    if sol.status == 0:
        proven = f"within {MIP_REL_GAP:.1%} of optimal"
    elif "time limit" in str(sol.message).lower():
        proven = f"time limit, {gap}"
    else:
        proven = f"node limit {MIP_NODE_LIMIT}, {gap}"
    keep = sol.x[:g_count] > 0.5
    if found is not None and found[1] > _kept_bytes(keep, gaps, save, whole, nbytes):
        return found[0], f"{proven}; the LP relaxation's plan, rounded and repaired, keeps more"
    return keep, proven


def integer_program(args: tuple[Any, ...], time_limit_s: float,
                    highs_options: dict[str, Any]) -> Any:
    """HiGHS's keep / drop integer program (``_solve``) for ``args`` = ``_program``'s
    arguments but ``covers``, with ``highs_options`` set (``HIGHS_OPTIONS`` in the mapper):
    scipy's OptimizeResult. It stops at a proven gap (MIP_REL_GAP) or the node limit, not a
    wall clock, so the plan is the same on any machine; the time limit only caps a solve too
    slow to get there (reported)."""
    from pysim.milp import milp

    gaps, size, save, whole, nbytes, lo_of, hi_of, n, budget_bytes = args
    program = _program(gaps, size, save, whole, nbytes, lo_of, hi_of, n, budget_bytes,
                       covers=IP_COVER_CLASSES)
    return milp(**program.milp_arguments(),
                options={"time_limit": time_limit_s, "mip_rel_gap": MIP_REL_GAP,
                         "node_limit": MIP_NODE_LIMIT, "presolve": False},
                highs_options=highs_options)


def _residency(steps: Steps, outputs: frozenset[str], readers: dict[str, list[int]],
               read_at: dict[str, list[int]], keep: set[tuple[str, int]], n: int,
               blocks: tuple[KeptBlock, ...]) -> Residency:
    """The Residency of a keep set (any of each tensor's gaps) placed as ``blocks``
    (held bytes per step are theirs: none without blocks, as for the traffic alone)."""
    held = np.zeros(n + 1, dtype=np.int64)
    for b in blocks:
        held[b.first_step] += b.nbytes
        held[b.last_step + 1] -= b.nbytes
    found: list[set[str]] = [set() for _ in range(n)]  # per reader, its inputs kept for it
    kept_of: dict[str, int] = {}
    for x, j in keep:
        found[readers[x][j]].add(x)
        kept_of[x] = kept_of.get(x, 0) + 1
    writes = [t in outputs or (t in read_at and not (
        t in readers and kept_of.get(t, 0) == len(readers[t]))) for t, _, _ in steps]
    none: frozenset[str] = frozenset()
    return Residency(tuple(frozenset(f) if f else none for f in found), tuple(writes),
                     tuple(np.cumsum(held[:n]).tolist()),
                     frozenset(t for t, j in keep if j == 0), blocks)
