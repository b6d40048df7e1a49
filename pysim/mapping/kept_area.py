"""Addresses in the simulator's kept area: where each op output the residency plan keeps sits,
and what fragmentation costs.

The keep / drop program (pysim/mapping/planned_residency.py) bounds the kept bytes at every
step, as if the area could hold any set of tensors whose sizes add up. A real scratchpad gives
each tensor one contiguous address range for its whole stay, and the free space can be split
into pieces too small for the next one. ``place`` puts the kept tensors at addresses with
TFLite's greedy-by-size offset planner (Pisarchyk & Lee, "Efficient Memory Management for Deep
Neural Net Inference", arXiv 2001.03288, Sec. 4.2; tensorflow/lite/simple_planner's
``GreedyBySize``): largest first, each in the smallest gap among the tensors already placed
that overlap it in time, else above them; where that cuts a stay short, first fit (the lowest
gap that holds it) in that order, then both in other orders (by start, longest first, largest
area, and four from a stay's own shape: ``ORDERS``, ``PLACEMENTS``), keeping the best. A
tensor may stay in
several pieces (a reload: a reader that read it from DRAM keeps it for later readers), each
at its own address. A stay that fits no gap is cut short (its later readers read the tensor
from DRAM, and its producer writes it there), and dropped if even its first gap does not fit:
the plan stays feasible with addresses, at the price of the bytes the aggregate plan had kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pysim import _core


@dataclass(frozen=True)
class KeptBlock:
    """One kept op output: ``nbytes`` at ``offset`` in the kept area, from ``first_step``
    (the op after its producer) through ``last_step`` (its last reader that finds it);
    ``spilled``: later readers read it from DRAM (its producer wrote it there);
    ``reloaded``: it entered the area after a reader that read it from DRAM, not after its
    producer."""

    tensor: str
    offset: int
    nbytes: int
    first_step: int
    last_step: int
    spilled: bool = False
    reloaded: bool = False


@dataclass(frozen=True)
class Stay:
    """A run of consecutive kept gaps of one tensor: in the area from ``first`` (the step
    after its producer, or after the reader it is reloaded by: ``gap`` > 0) through the last
    step of each gap in ``ends``."""

    tensor: str
    nbytes: int
    first: int
    ends: tuple[int, ...]
    gap: int = 0  # the index of the run's first gap among the tensor's gaps


def best_fit(placed: list[KeptBlock], first: int, last: int, nbytes: int,
             budget: int) -> int | None:
    """The offset of the smallest free gap that holds ``nbytes`` during steps first..last,
    between the ``placed`` blocks that overlap them in time (the top of the area included);
    None if no gap does."""
    return _best_fit([(b.first_step, b.last_step, b.offset, b.offset + b.nbytes)
                      for b in placed], first, last, nbytes, budget)


def _best_fit(spans: list[tuple[int, int, int, int]], first: int, last: int, nbytes: int,
              budget: int, lowest: bool = False) -> int | None:
    """``best_fit`` over the placed blocks' (first step, last step, offset, end offset); with
    ``lowest`` the lowest gap that holds it (first fit)."""
    busy = sorted([(lo, hi) for f, la, lo, hi in spans if f <= last and first <= la])
    best, best_gap, top = None, budget + 1, 0
    for start, end in busy:
        if lowest and start - top >= nbytes:
            return top
        if start - top >= nbytes and start - top < best_gap:
            best, best_gap = top, start - top
        top = max(top, end)
    if budget - top >= nbytes and budget - top < best_gap:
        best = top
    return best


# The orders a best-fit placer tries, as sort keys of (bytes, first step, last step, name):
# TFLite's greedy by size (ties by first step, name), by first step (left edge), longest stay
# first, largest bytes x steps first. The kept area's and pysim.memplan's placements both use
# them.
PLACEMENT_ORDERS: tuple[Callable[[int, int, int, Any], tuple], ...] = (
    lambda size, first, last, name: (-size, first, name),
    lambda size, first, last, name: (first, -size, name),
    lambda size, first, last, name: (first - last, -size, name),
    lambda size, first, last, name: (-size * (last - first + 1), name),
)
# ... over stays (their name: tensor, then the index of their first gap), and four more that
# read a stay's own shape: its last step first (right edge), the most bytes x gaps first (the
# reads it saves), the longest first gap first, the largest then the longest. With the C++
# placer a placement costs ~0.5 ms on a training graph; on tpu_v1's int8 / bf16 ResNet-50,
# int8 MobileNetV2 and ResNet-18 training graphs at five area sizes the four cut what
# fragmentation costs from 31.9 to 18.6 MB (the bytes its readers then read from DRAM;
# benchmarks/bench_kept_area.py).
ORDERS = tuple(
    (lambda s, key=key: key(s.nbytes, s.first, s.ends[-1], (s.tensor, s.gap)))
    for key in PLACEMENT_ORDERS) + (
    lambda s: (-s.ends[-1], -s.nbytes, (s.tensor, s.gap)),
    lambda s: (-s.nbytes * len(s.ends), s.first, (s.tensor, s.gap)),
    lambda s: (s.first - s.ends[0], -s.nbytes, (s.tensor, s.gap)),
    lambda s: (-s.nbytes, s.first - s.ends[-1], (s.tensor, s.gap)),
)
# Each order with best fit (TFLite's), then with first fit (the lowest gap that holds a stay):
# on tpu_v1's training graphs first fit often fragments less (the same twenty plans: 18.6 ->
# 7.3 MB; MobileNetV2's 1.4-2.1 -> 0.1-0.3 MB).
PLACEMENTS: tuple[tuple[Callable[[Stay], tuple], bool], ...] = tuple(
    (order, lowest) for order in ORDERS for lowest in (False, True))


def place(stays: list[Stay], budget: int) -> tuple[list[KeptBlock], dict[Stay, int]]:
    """Addresses for the kept stays. Returns the blocks placed and, per stay, how many of its
    gaps stay kept (a prefix of them; 0: dropped). Best fit in TFLite's greedy-by-size order;
    if that cuts a stay short, first fit in it, then both in the other ``ORDERS`` too
    (``PLACEMENTS``), keeping the placement that keeps the most bytes x gaps (the reads it
    saves; the first such on a tie). Deterministic."""
    arrays = _StayArrays.of(stays)
    best: tuple[list[int], np.ndarray, np.ndarray] | None = None
    best_kept = -1
    whole = sum(s.nbytes * len(s.ends) for s in stays)
    index: list[int] = []
    for order, lowest in PLACEMENTS:
        # a placement that has lost what the best so far did not can only keep less: the C++
        # gives it up there (on tpu_v1's int8 ResNet-50 training graph most orders stop
        # within the first fifth of the stays)
        give_up = whole - best_kept if best_kept >= 0 and whole - best_kept < 1 << 63 else -1
        if not lowest:  # a new order (each comes first with best fit)
            fast = arrays.sorted_by(ORDERS.index(order) if order in ORDERS else -1)
            if fast is None:  # an order of its own (or products past int64): by its key
                keys = [order(s) for s in stays]
                fast = sorted(range(len(stays)), key=keys.__getitem__)
            index = fast
        found = arrays.place(index, budget, lowest, give_up)
        if isinstance(found, _Abandoned):
            continue
        if found is None:  # past the C++'s work budget: the Python placer
            found = _reference_offsets([stays[i] for i in index], budget, lowest)
        offsets, counts = found
        saved = int((arrays.nbytes[index] * counts).sum()) if index else 0
        if saved > best_kept:
            best, best_kept = (index, offsets, counts), saved
        if saved == whole:
            break
    assert best is not None  # PLACEMENTS is not empty
    return _blocks([stays[i] for i in best[0]], best[1], best[2])


class _Abandoned:
    """A placement given up (``_StayArrays.place``): it could keep no more than one before."""


ABANDONED = _Abandoned()


class _StayArrays:
    """The stays as ``_core.place_stays`` reads them (first step, bytes, and each one's gaps'
    last steps), built once and gathered in each order ``place`` tries."""

    def __init__(self, first: np.ndarray, nbytes: np.ndarray, lengths: np.ndarray,
                 ends: np.ndarray, name_rank: np.ndarray | None = None) -> None:
        self.first, self.nbytes, self.lengths, self.ends = first, nbytes, lengths, ends
        self.start = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        self.name_rank = name_rank  # each stay's place among the stays' (tensor, gap) names

    @classmethod
    def of(cls, stays: list[Stay]) -> _StayArrays:
        n = len(stays)
        lengths = np.fromiter((len(s.ends) for s in stays), dtype=np.int64, count=n)
        rank = np.empty(n, dtype=np.int64)
        rank[sorted(range(n), key=lambda i: (stays[i].tensor, stays[i].gap))] = np.arange(n)
        return cls(np.fromiter((s.first for s in stays), dtype=np.int64, count=n),
                   np.fromiter((s.nbytes for s in stays), dtype=np.int64, count=n), lengths,
                   np.fromiter((e for s in stays for e in s.ends), dtype=np.int64,
                               count=int(lengths.sum())), rank)

    def sorted_by(self, k: int) -> list[int] | None:
        """The stays in the order of ``ORDERS[k]``, by NumPy's lexsort of the same keys (the
        keys' Python sorts took 2 ms of the 5 ms placing tpu_v1's int8 ResNet-50 training
        graph); None for an order not among ``ORDERS`` (``k`` -1), or where a key's product
        could pass int64."""
        if not 0 <= k < len(ORDERS) or self.name_rank is None:
            return None
        if not len(self.first):
            return []
        size, first, rank = self.nbytes, self.first, self.name_rank
        last = self.ends[self.start[1:] - 1]
        if int(size.max()) >= (1 << 62) // (int(last.max() - first.min()) + 2):
            return None
        # ORDERS' keys, most significant first, the (tensor, gap) name last
        keys = ((-size, first), (first, -size), (first - last, -size),
                (-size * (last - first + 1),), (-last, -size), (-size * self.lengths, first),
                (first - self.ends[self.start[:-1]], -size), (-size, first - last))[k]
        return np.lexsort((rank, *reversed(keys))).tolist()

    def place(self, index: list[int], budget: int, lowest: bool = False,
              give_up_at: int = -1) -> tuple[np.ndarray, np.ndarray] | None | _Abandoned:
        """Per stay in ``index`` order its offset and gaps kept (best fit, or with ``lowest``
        first fit); None past the C++'s budget; ABANDONED once the stays placed have lost
        ``give_up_at`` bytes x gaps (-1: never)."""
        if not index:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        order = np.asarray(index, dtype=np.int64)
        lengths = self.lengths[order]
        start = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        # each stay's gaps, gathered where the stay now sits
        gather = np.repeat(self.start[order] - start[:-1], lengths) + np.arange(start[-1])
        try:
            found = _core.place_stays(self.first[order], self.nbytes[order], start,
                                      self.ends[gather], int(budget), lowest, give_up_at)
        except ValueError:  # past its work budget (or sizes past 2^62)
            return None
        return ABANDONED if found is None else found


def _blocks(stays: list[Stay], offsets: np.ndarray,
            counts: np.ndarray) -> tuple[list[KeptBlock], dict[Stay, int]]:
    """The blocks of stays placed at ``offsets`` with ``counts`` of their gaps kept."""
    placed: list[KeptBlock] = []
    kept: dict[Stay, int] = {}
    for stay, offset, count in zip(stays, offsets.tolist(), counts.tolist(), strict=True):
        kept[stay] = count
        if count:
            placed.append(KeptBlock(stay.tensor, offset, stay.nbytes, stay.first,
                                    stay.ends[count - 1], reloaded=stay.gap > 0))
    placed.sort(key=lambda b: (b.first_step, b.offset))
    return placed, kept


def _place_in(stays: list[Stay], budget: int,
              lowest: bool = False) -> tuple[list[KeptBlock], dict[Stay, int]]:
    """Best fit (or with ``lowest`` first fit) of ``stays`` in the order given, each cut to
    the longest prefix of its gaps that finds room: ``_place_in_reference``'s placement in C++
    (``_core.place_stays``: its scan of the blocks placed, O(stays^2), took a tenth of a cold
    training step on tpu_v1), the reference past the C++'s work budget."""
    found = _StayArrays.of(stays).place(list(range(len(stays))), budget, lowest)
    if not isinstance(found, tuple):  # None: past the C++'s budget (it gives up never here)
        found = _reference_offsets(stays, budget, lowest)
    return _blocks(stays, *found)


def _place_in_reference(stays: list[Stay], budget: int,
                        lowest: bool = False) -> tuple[list[KeptBlock], dict[Stay, int]]:
    """``_place_in`` in Python: best (or first) fit of each stay in turn, the whole run, then
    shorter."""
    return _blocks(stays, *_reference_offsets(stays, budget, lowest))


def _reference_offsets(stays: list[Stay], budget: int,
                       lowest: bool) -> tuple[np.ndarray, np.ndarray]:
    """``_core.place_stays``'s figures in Python: per stay its offset (-1: dropped) and how
    many of its gaps stay kept."""
    offsets = np.full(len(stays), -1, dtype=np.int64)
    counts = np.zeros(len(stays), dtype=np.int64)
    spans: list[tuple[int, int, int, int]] = []  # best_fit's view of the placed blocks
    for i, stay in enumerate(stays):
        for count in range(len(stay.ends), 0, -1):  # the whole run, then shorter ones
            last = stay.ends[count - 1]
            offset = _best_fit(spans, stay.first, last, stay.nbytes, budget, lowest)
            if offset is not None:
                spans.append((stay.first, last, offset, offset + stay.nbytes))
                offsets[i], counts[i] = offset, count
                break
    return offsets, counts
