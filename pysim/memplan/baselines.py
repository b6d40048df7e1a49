"""Baseline scratchpad managers the optimal planner is measured against.

Each baseline runs the ops in a fixed order and returns residency pieces, which the common
checker (`pysim.memplan.plan.replay`) validates and prices, as it does the optimal planner's.
The online ones allocate each tensor when an op needs it (the op's inputs, then its output),
free it after its last use, and when no hole fits evict resident tensors the current op does not
need, by their policy, until one does; if even that fails (fragmentation among the op's own
tensors) they spill and reload the op's tensors packed from offset 0, paying the traffic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from pysim.memplan.graph import Timeline
from pysim.memplan.plan import Piece


@dataclass
class _Resident:
    offset: int
    start: int
    last_access: int


class OnlinePlanner:
    """Online allocation with eviction. Subclasses set `allocator` ("first_fit": the lowest
    hole; "best_fit": the smallest hole that fits, else above the highest block) and
    `victim()`."""

    name: ClassVar[str] = ""
    allocator: ClassVar[str] = "first_fit"

    def victim(self, tl: Timeline, resident: dict[str, _Resident], candidates: list[str],
               step: int) -> str:
        raise NotImplementedError

    def _hole(self, tl: Timeline, resident: dict[str, _Resident], size: int,
              budget: int) -> int | None:
        blocks = sorted((r.offset, r.offset + tl.graph.tensors[t].bytes)
                        for t, r in resident.items())
        top, best, best_room = 0, None, None
        for a, b in blocks:
            room = a - top
            if room >= size:
                if self.allocator == "first_fit":
                    return top
                if best_room is None or room < best_room:
                    best, best_room = top, room
            top = max(top, b)
        if best is not None:
            return best
        return top if top + size <= budget else None

    def run(self, tl: Timeline, budget_bytes: int) -> list[Piece]:
        """Residency pieces of the whole order under `budget_bytes` (>= M_R)."""
        g = tl.graph
        pieces: list[Piece] = []
        resident: dict[str, _Resident] = {}

        def close(t: str, end: int) -> None:
            r = resident.pop(t)
            if end >= r.start:
                pieces.append(Piece(t, r.start, end, r.offset))

        for k, i in enumerate(tl.order):
            need = g.ops[i].tensors
            for t in need:
                if t in resident:
                    resident[t].last_access = k
                    continue
                size = g.tensors[t].bytes
                while (off := self._hole(tl, resident, size, budget_bytes)) is None:
                    cands = sorted(u for u in resident if u not in need)
                    if not cands:  # fragmented among the op's own tensors: repack them
                        for u in sorted(resident):
                            close(u, k - 1)
                        top = 0
                        for u in need:
                            if u in resident:
                                continue
                            resident[u] = _Resident(top, k, k)
                            top += g.tensors[u].bytes
                        break
                    close(self.victim(tl, resident, cands, k), k - 1)
                if t in resident:
                    continue
                resident[t] = _Resident(off, k, k)
            for t in need:
                if tl.required[t][-1] == k and t in resident:
                    close(t, k)
        return pieces


def _next_use(tl: Timeline, t: str, step: int) -> int:
    later = [k for k in tl.required[t] if k >= step]
    return later[0] if later else 1 << 60


class FifoPlanner(OnlinePlanner):
    """First-in first-out eviction with first-fit allocation: pysim's inter-layer reuse today
    (a FIFO area that drops the oldest tensor first)."""

    name = "fifo"

    def victim(self, tl, resident, candidates, step):  # type: ignore[no-untyped-def]
        return min(candidates, key=lambda t: (resident[t].start, t))


class LruPlanner(OnlinePlanner):
    """Least-recently-used eviction with first-fit allocation (the classic cache policy as an
    online scratchpad manager, as in COSMA's baselines)."""

    name = "lru"

    def victim(self, tl, resident, candidates, step):  # type: ignore[no-untyped-def]
        return min(candidates, key=lambda t: (resident[t].last_access, t))


class BeladyPlanner(OnlinePlanner):
    """Belady's MIN (evict the tensor whose next use is furthest; Belady, IBM Systems Journal,
    1966) with first-fit allocation. Optimal for unit-size pages, not for tensors of varying
    size in an addressed memory."""

    name = "belady"

    def victim(self, tl, resident, candidates, step):  # type: ignore[no-untyped-def]
        return max(candidates, key=lambda t: (_next_use(tl, t, step),
                                              tl.graph.tensors[t].bytes, t))


class TfliteBeladyPlanner(BeladyPlanner):
    """TFLite's arena planner (tensorflow/lite/simple_memory_arena.cc: each allocation takes
    the smallest gap between live allocations that fits, else goes above them) combined with
    Belady replacement when the arena is full: COSMA's main baseline (arXiv 2311.18246,
    sec. 6)."""

    name = "tflite_belady"
    allocator = "best_fit"


class TflmGreedyPlanner:
    """TFLite-Micro's GreedyMemoryPlanner (tensorflow/lite/micro/memory_planner/
    greedy_memory_planner.cc): offline, whole lifetimes placed largest first, each at the lowest
    offset clear of the already placed buffers that overlap it in time. A buffer that lands
    above the budget is split into one piece per use (spilled between uses), largest first,
    and the placement redone until everything fits."""

    name: ClassVar[str] = "tflm_greedy"

    def run(self, tl: Timeline, budget_bytes: int) -> list[Piece]:
        g = tl.graph
        split: set[str] = set()
        while True:
            ivs: list[tuple[str, int, int]] = []
            for t, req in tl.required.items():
                if t in split:
                    ivs += [(t, k, k) for k in req]
                else:
                    ivs.append((t, req[0], req[-1]))
            size = np.array([g.tensors[t].bytes for t, _, _ in ivs], dtype=np.int64)
            start = np.array([s for _, s, _ in ivs])
            end = np.array([e for _, _, e in ivs])
            offset = np.full(len(ivs), -1, dtype=np.int64)
            for i in sorted(range(len(ivs)), key=lambda i: (-size[i], start[i], ivs[i][0])):
                mask = (offset >= 0) & (start <= end[i]) & (end >= start[i])
                top = 0
                for a, b in sorted(zip(offset[mask].tolist(), (offset + size)[mask].tolist(),
                                       strict=True)):
                    if a - top >= size[i]:
                        break
                    top = max(top, b)
                offset[i] = top
            over = [i for i in range(len(ivs)) if offset[i] + size[i] > budget_bytes]
            if not over:
                return [Piece(t, s, e, int(o)) for (t, s, e), o in zip(ivs, offset, strict=True)]
            cands = {ivs[i][0] for i in over if ivs[i][1] < ivs[i][2]}
            if not cands:  # a single-use buffer does not fit: split what overlaps it
                i = over[0]
                cands = {ivs[j][0] for j in range(len(ivs))
                         if ivs[j][1] < ivs[j][2] and start[j] <= end[i] and end[j] >= start[i]}
            if not cands:  # cannot happen at or above M_R: single-step pieces stack per step
                raise RuntimeError(f"tflm_greedy: {ivs[i][0]!r} does not fit in "
                                   f"{budget_bytes} bytes")
            split.add(max(cands, key=lambda t: (g.tensors[t].bytes, t)))


BASELINES: dict[str, type] = {
    c.name: c for c in (TfliteBeladyPlanner, TflmGreedyPlanner, BeladyPlanner, LruPlanner,
                        FifoPlanner)
}
