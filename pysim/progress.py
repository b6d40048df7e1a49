"""Progress bars for long runs (simulate of a large workload, sweeps, serving): tqdm on stderr,
shown when stderr is a terminal unless forced on or off (``--progress`` / ``--no-progress``),
without tqdm's monitor thread (a live thread makes a later fork unsafe). tqdm loads on first
use."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def wanted(progress: bool | None) -> bool:
    """``progress``, or (None) whether stderr is a terminal."""
    return sys.stderr.isatty() if progress is None else bool(progress)


def bar(total: int, desc: str, unit: str, progress: bool | None, leave: bool = False) -> Any:
    """A tqdm bar of ``total`` ``unit``s on stderr (disabled unless ``wanted(progress)``),
    cleared when closed unless ``leave``."""
    from tqdm import tqdm

    class _Bar(tqdm):  # type: ignore[type-arg]
        monitor_interval = 0

    return _Bar(total=total, desc=desc, unit=unit, file=sys.stderr, leave=leave,
                disable=not wanted(progress), dynamic_ncols=True)


def add_progress_arg(parser: argparse.ArgumentParser) -> None:
    """``--progress`` / ``--no-progress`` (default: a bar when stderr is a terminal)."""
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="show a progress bar on stderr, or not (default: when stderr is a "
                             "terminal)")
