"""The engine's schedule of one op on its own, in closed loop form (no SimPy): the mapping
search scores candidate tilings with it, so the cycles it minimises are the cycles the engine
then runs (tests hold the two equal).

An op of S steps: the read channel loads step i into a free input half (there are ``halves``)
once step i-1 is loaded; the unit computes step i once it is loaded, step i-1 is computed and
an output half is free; the write channel stores step i once it is computed and step i-1 is
stored. Loads and stores share one DRAM bus, granted first come first served. ``lower_bound``
is what no schedule beats: the bus moves every byte, and one load, all compute and one store
run one after another.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def lower_bound(steps: np.ndarray, compute: np.ndarray, read: np.ndarray,
                write: np.ndarray) -> np.ndarray:
    """What no schedule beats; ``read`` / ``write`` are the bus cycles of all the op's loads /
    stores (latencies included). The bus moves everything; one load, all compute and one store
    run in sequence; every load precedes the last compute and store; the first load and
    compute precede every store."""
    r, c, w = read / steps, compute / steps, write / steps
    return np.maximum(np.maximum(read + write, r + compute + w),
                      np.maximum(read + c + w, r + c + write))


@lru_cache(maxsize=65536)
def op_cycles(steps: int, compute: float, read: float, write: float, halves: int = 2) -> float:
    """Cycles from the first load to the last store, as the engine runs the op alone.
    ``read`` / ``write``: bus cycles of all its loads / stores (0: no transfer at all)."""
    c, r, w = compute / steps, read / steps, write / steps
    load_end = [0.0] * steps
    comp_end = [0.0] * steps
    store_end = [0.0] * steps
    bus = 0.0
    loads = comps = stores = 0
    while stores < steps:
        # Compute step i once it is loaded, step i-1 is computed and an output half is free.
        while comps < loads and (comps < halves or comps - halves < stores):
            comp_end[comps] = c + max(load_end[comps], comp_end[comps - 1] if comps else 0.0,
                                      store_end[comps - halves] if comps >= halves else 0.0)
            comps += 1
        t_load = t_store = None
        if loads < steps and (loads < halves or loads - halves < comps):  # a free input half
            t_load = max(load_end[loads - 1] if loads else 0.0,
                         comp_end[loads - halves] if loads >= halves else 0.0)
        if stores < comps:
            t_store = max(comp_end[stores], store_end[stores - 1] if stores else 0.0)
        if t_store is None or (t_load is not None and t_load <= t_store):
            assert t_load is not None
            if r > 0:
                bus = load_end[loads] = max(t_load, bus) + r
            else:
                load_end[loads] = t_load
            loads += 1
        else:
            if w > 0:
                bus = store_end[stores] = max(t_store, bus) + w
            else:
                store_end[stores] = t_store
            stores += 1
    return max(store_end[-1], load_end[-1])
