"""Inter-layer reuse chosen optimally (``mapper.residency: planned``, the default) instead of
the first-in first-out rule of pysim/mapping/residency.py (issue 13).

The model is the mapper's own: a kept area (a quarter of the input scratchpad) holds op
outputs between their producer and later readers, as aggregate bytes (no addresses, as the FIFO
rule); a reader finds its input either kept or reads it from DRAM, streaming it through its
tiles without a place in the area. A tensor is kept from its producer through a prefix of its
gaps (producer -> 1st reader -> 2nd reader ...): once dropped it is read from DRAM, and written
there by its producer. The choice minimises the bytes moved between ops (each reader's DRAM
read, each write-back) subject to the area at every step, by an integer program in the COSMA
line (Li et al., arXiv 2311.18246: keep / drop per tensor and gap, capacity per step: a kept
tensor fills the area from the end of its producer through its last kept reader) solved
with ``scipy.optimize.milp`` (HiGHS). FIFO's choices are one point of this space, so the plan
never moves more; the simulator still keeps FIFO if the solver stops without a solution.
(``pysim.memplan`` plans a whole scratchpad with addresses, every tensor resident at its uses.)
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from pysim.mapping.residency import Residency


@dataclass(frozen=True)
class PlannedResidency:
    """The Residency (None: none was found, ``note`` says why) and how it was found."""

    residency: Residency | None
    note: str
    bytes_between_ops: int = 0


# The solve stops once the kept bytes are proven within this fraction of the optimum: ResNet-50's
# ~700-op training graph gets there at the root node (1.4 s; 2.3 s to prove optimality, the
# same plan), and the stop does not depend on the machine's speed.
MIP_REL_GAP = 1e-3

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


def plan_residency_optimal(wl: Any, budget_bytes: int, time_limit_s: float) -> PlannedResidency:
    """The kept area of ``budget_bytes`` planned for ``wl`` in its own order (see the module
    docstring). Plans are cached by the graph's shape (a sweep revisits it at every point)."""
    return _plan(_steps(wl), frozenset(wl.outputs), int(budget_bytes), float(time_limit_s))


@functools.lru_cache(maxsize=256)
def _plan(steps: Steps, outputs: frozenset[str], budget_bytes: int,
          time_limit_s: float) -> PlannedResidency:
    from scipy.optimize import Bounds, LinearConstraint
    from scipy.sparse import coo_matrix

    from pysim.milp import milp

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
        return PlannedResidency(res, "planned (nothing fits the kept area)",
                                _traffic(steps, outputs, res))
    size = np.array([nbytes[t] for t, *_ in gaps], dtype=float)
    # Traffic = each dropped gap's reader reading from DRAM + a write-back for a non-output
    # tensor whose last gap is dropped (keep-prefix: then its producer writes it). Minimising
    # it maximises the bytes kept: every gap's size, plus the write-back on the last gap.
    save = size.copy()
    for k, (t, j, _, _) in enumerate(gaps):
        if j == len(readers[t]) - 1 and t not in outputs:
            save[k] += size[k]
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    ub: list[float] = []
    r = 0
    for k, (_, j, _, _) in enumerate(gaps):  # keep[t, j] <= keep[t, j - 1]
        if j > 0:
            rows += [r, r]
            cols += [k, k - 1]
            vals += [1.0, -1.0]
            ub.append(0.0)
            r += 1
    occupancy: list[list[int]] = [[] for _ in range(n)]
    for k, (_, _, lo, hi) in enumerate(gaps):
        for s in range(lo, hi + 1):
            occupancy[s].append(k)
    for s in range(n):
        if occupancy[s] and size[occupancy[s]].sum() > budget_bytes:
            rows += [r] * len(occupancy[s])
            cols += occupancy[s]
            vals += [float(size[k]) for k in occupancy[s]]
            ub.append(float(budget_bytes))
            r += 1
    constraints = []
    if r:
        a = coo_matrix((vals, (rows, cols)), shape=(r, len(gaps))).tocsr()
        constraints.append(LinearConstraint(a, -np.inf, np.array(ub)))
    # Stops at a proven gap (MIP_REL_GAP), not a wall clock, so the plan is the same on any
    # machine; the time limit only caps a solve that would not get there (reported).
    sol = milp(-save, integrality=np.ones(len(gaps)), bounds=Bounds(0, 1),
               constraints=constraints,
               options={"time_limit": time_limit_s, "mip_rel_gap": MIP_REL_GAP})
    if sol.x is None:
        return PlannedResidency(None, f"fifo: the planner found no plan ({sol.message})")
    keep = {(t, j) for k, (t, j, _, _) in enumerate(gaps) if sol.x[k] > 0.5}
    resident_inputs, writes, held, kept = [], [], [], set()
    for i, (t, ins, _) in enumerate(steps):
        resident_inputs.append(frozenset(
            x for x in set(ins) if x in readers and i in readers[x]
            and (x, readers[x].index(i)) in keep))
        # held at the op's start: the kept tensors in the area during it
        held.append(int(sum(size[k] for k in occupancy[i] if (gaps[k][0], gaps[k][1]) in keep)))
        if (t, 0) in keep:
            kept.add(t)
        all_kept = t in readers and (t, len(readers[t]) - 1) in keep
        writes.append(t in outputs or (t in read_at and not all_kept))
    res = Residency(tuple(resident_inputs), tuple(writes), tuple(held), frozenset(kept))
    moved = _traffic(steps, outputs, res)
    proven = (f"within {MIP_REL_GAP:.1%} of optimal" if sol.status == 0
              else f"time limit, gap {sol.mip_gap or 0:.2%}")
    return PlannedResidency(res, f"planned (keep / drop ILP, {proven}): {moved:,} B between "
                                 f"ops through a {budget_bytes:,} B kept area", moved)
