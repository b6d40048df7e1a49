"""Addresses in the simulator's kept area: where each op output the residency plan keeps sits,
and what fragmentation costs.

The keep / drop program (pysim/mapping/planned_residency.py) bounds the kept bytes at every
step, as if the area could hold any set of tensors whose sizes add up. A real scratchpad gives
each tensor one contiguous address range for its whole stay, and the free space can be split
into pieces too small for the next one. ``place`` puts the kept tensors at addresses with
TFLite's greedy-by-size offset planner (Pisarchyk & Lee, "Efficient Memory Management for Deep
Neural Net Inference", arXiv 2001.03288, Sec. 4.2; tensorflow/lite/simple_planner's
``GreedyBySize``): largest first, each in the smallest gap among the tensors already placed
that overlap it in time, else above them. A tensor that fits no gap keeps a shorter prefix of
its stay (its later readers read it from DRAM, and its producer writes it there), and is
dropped if even its first reader's gap does not fit: the plan stays feasible with addresses,
at the price of the bytes the aggregate plan had kept.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KeptBlock:
    """One kept op output: ``nbytes`` at ``offset`` in the kept area, from ``first_step``
    (the op after its producer) through ``last_step`` (its last reader that finds it);
    ``spilled``: later readers read it from DRAM (its producer wrote it there)."""

    tensor: str
    offset: int
    nbytes: int
    first_step: int
    last_step: int
    spilled: bool = False


def best_fit(placed: list[KeptBlock], first: int, last: int, nbytes: int,
             budget: int) -> int | None:
    """The offset of the smallest free gap that holds ``nbytes`` during steps first..last,
    between the ``placed`` blocks that overlap them in time (the top of the area included);
    None if no gap does."""
    busy = sorted((b.offset, b.offset + b.nbytes) for b in placed
                  if b.first_step <= last and first <= b.last_step)
    best, best_gap, top = None, budget + 1, 0
    for start, end in busy:
        if start - top >= nbytes and start - top < best_gap:
            best, best_gap = top, start - top
        top = max(top, end)
    if budget - top >= nbytes and budget - top < best_gap:
        best = top
    return best


def place(stays: dict[str, tuple[int, int, tuple[int, ...]]],
          budget: int) -> tuple[list[KeptBlock], dict[str, int]]:
    """Addresses for the kept tensors. ``stays``: tensor -> (bytes, first step, the last step
    of each kept gap in order: a prefix of its readers). Returns the blocks placed and, per
    tensor, how many of its gaps stay kept (0: dropped). Largest first, ties by first step
    then name, so the placement is deterministic."""
    placed: list[KeptBlock] = []
    kept: dict[str, int] = {}
    for tensor in sorted(stays, key=lambda t: (-stays[t][0], stays[t][1], t)):
        nbytes, first, ends = stays[tensor]
        kept[tensor] = 0
        for count in range(len(ends), 0, -1):  # the whole prefix, then shorter ones
            offset = best_fit(placed, first, ends[count - 1], nbytes, budget)
            if offset is not None:
                placed.append(KeptBlock(tensor, offset, nbytes, first, ends[count - 1]))
                kept[tensor] = count
                break
    placed.sort(key=lambda b: (b.first_step, b.offset))
    return placed, kept
