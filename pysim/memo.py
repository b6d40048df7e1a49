"""Every memo cache in pysim, cleared at once: a cold start for benchmarks.

pysim memoises pure functions of immutable inputs with ``functools.lru_cache`` (the tiling
search per GEMM shape, the DRAM model per stream, tile candidates, a workload's training
graph, ...), so a sweep that revisits shapes pays for each once. ``clear_caches`` finds them
all in pysim's loaded modules, so a benchmark's cold figure does not depend on a hand-kept
list that misses the newest cache."""

from __future__ import annotations

import sys


def clear_caches() -> int:
    """Clear every ``functools`` cache defined at module level in a loaded ``pysim`` module;
    returns how many were cleared."""
    cleared = 0
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "pysim" or name.startswith("pysim.")):
            continue
        for obj in list(vars(module).values()):
            clear = getattr(obj, "cache_clear", None)
            if callable(clear) and getattr(obj, "__module__", None) == name:
                clear()
                cleared += 1
    return cleared
