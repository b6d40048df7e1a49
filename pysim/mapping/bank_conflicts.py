"""Scratchpad bank conflicts of a systolic array's operand fetches.

Layout: the DMA writes a streamed operand tile step-major into the scratchpad -- the elements
that all array lanes consume in the same step are contiguous -- and the array edge reads one
step per cycle, unskewed, into a triangle of delay registers that applies the systolic skew
(the TPU's "systolic data setup", Jouppi et al., ISCA 2017). A step of ``lanes`` elements spans
``ceil(lanes x element bytes / word bytes)`` consecutive words; the C++ scratchpad model
(csrc/memory/scratchpad.*) counts, cycle by cycle, the distinct words each bank must serve and
the stall cycles when a bank gets more than it has ports. The pattern repeats with a period of
at most ``banks`` steps, so a fold's first ``SAMPLE`` steps are counted and scaled to its length.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from pysim import _core

SAMPLE = 64


@lru_cache(maxsize=4096)
def _stalls(spad: tuple[int, int, int, int], lanes: int, elements: int, elem_bytes: int) -> int:
    size, banks, ports, word_bytes = spad
    spec = _core.ScratchpadSpec(size, banks, ports, word_bytes)
    steps = min(elements, SAMPLE)
    step_bytes = lanes * elem_bytes
    start = np.arange(steps, dtype=np.int64) * step_bytes
    first = start // word_bytes  # each step's words: first .. last
    counts = (start + step_bytes - 1) // word_bytes - first + 1
    offsets = np.zeros(steps + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    # every step's run of words at once (one arange per step cost 4x the whole count)
    words = np.arange(offsets[-1], dtype=np.int64) + np.repeat(first - offsets[:-1], counts)
    stats = _core.count_bank_conflicts(spec, (words * word_bytes) % size, offsets)
    return math.ceil(stats.conflict_stall_cycles * elements / steps)


def fold_fetch_stalls(scratchpad: Any, lanes: int, elements: int, elem_bits: int) -> int:
    """Stall cycles that one fold's fetch of ``elements`` steps of ``lanes`` operands adds."""
    elem_bytes = max(1, math.ceil(elem_bits / 8))
    key = (scratchpad.size_bytes, scratchpad.banks, scratchpad.read_ports,  # fetches read
           scratchpad.word_bytes)
    return _stalls(key, lanes, elements, elem_bytes)
