"""Python's cyclic garbage collector paused while a simulation runs (``gc_paused``).

A run allocates hundreds of thousands of short-lived objects (op mappings, SimPy events, the
result's rows) but almost no reference cycles (8 cyclic objects in a training step of
BERT-base or ResNet-50): reference counting frees them as they go. The collector still runs
on allocation counts, and each of its full passes walks every long-lived object the memo
caches hold (~120,000 after a few runs): 10-25 ms pauses that cost a sweep 15-25 % and a
repeated training step on tpu_v1 a quarter of its time (``benchmarks/bench_gc.py``). The
standard library's ``timeit`` turns the collector off while it times for the same reason.
The collector is back on when the block ends (if it was on before), and the next collection
finds what the run left."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off inside the block, restored after it (also on an
    exception). Nested blocks and other threads' blocks leave it as they found it: whoever
    turned it off turns it back on."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
