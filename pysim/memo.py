"""Every memo cache in pysim, cleared at once: a cold start for benchmarks; and the base of
the frozen models that cache figures on themselves.

pysim memoises pure functions of immutable inputs with ``functools.lru_cache`` (the tiling
search per GEMM shape, the DRAM model per stream, tile candidates, a workload's training
graph, ...), so a sweep that revisits shapes pays for each once. ``clear_caches`` finds them
all in pysim's loaded modules, so a benchmark's cold figure does not depend on a hand-kept
list that misses the newest cache."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from typing_extensions import Self


def clear_caches() -> int:
    """Clear every ``functools`` cache (or other object with a ``cache_clear`` method, such as
    pysim/mapping/mac_memo.py's) defined at module level in a loaded ``pysim`` module; returns
    how many were cleared."""
    cleared = 0
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "pysim" or name.startswith("pysim.")):
            continue
        for obj in list(vars(module).values()):
            if isinstance(obj, type):  # a memo's class, not a memo
                continue
            clear = getattr(obj, "cache_clear", None)
            if callable(clear) and getattr(obj, "__module__", None) == name:
                clear()
                cleared += 1
    return cleared


class CachedFigures(BaseModel):
    """A frozen model with ``functools.cached_property`` figures (the mapper asks for them for
    every op of every run): ``model_copy`` with changed fields drops them (pydantic copies
    ``__dict__``, cached values included)."""

    def model_copy(self, *, update: Mapping[str, Any] | None = None,
                   deep: bool = False) -> Self:
        copied = super().model_copy(update=update, deep=deep)
        if update:
            for name in [k for k in copied.__dict__ if k not in type(copied).model_fields]:
                del copied.__dict__[name]
        return copied
