"""``scipy.optimize.milp`` (HiGHS) with the solver's own console output kept off stdout.

Some HiGHS builds shipped in SciPy print a debugging line from C
("HighsMipSolverData::transformNewIntegerFeasibleSolution tmpSolver.run();") when a MIP
heuristic finds a solution, whatever ``disp`` says; it landed in the middle of pysim's tables and
in files a user redirects stdout to. Every integer program in pysim runs through ``milp`` here,
which points file descriptor 1 at the null device for the duration of the solve.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any


def _flush_c_stdio() -> None:
    """Flush C's stdout buffer (printf to a pipe is block-buffered)."""
    import ctypes

    # no C library to reach (Windows): nothing to flush
    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(None).fflush(None)


@contextlib.contextmanager
def native_stdout_silenced() -> Iterator[None]:
    """File descriptor 1 goes to the null device inside the block; Python's ``sys.stdout``
    is flushed first, so nothing printed before is lost. Where there is no descriptor 1 to
    redirect (an embedded interpreter), the block runs unchanged."""
    with contextlib.suppress(AttributeError, ValueError, OSError):
        sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        _flush_c_stdio()
        os.dup2(devnull, 1)
        yield
    finally:
        _flush_c_stdio()  # the solver's buffered lines go to the null device, not after it
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def milp(*args: Any, **kwargs: Any) -> Any:
    """``scipy.optimize.milp(*args, **kwargs)`` with HiGHS's console output silenced."""
    from scipy.optimize import milp as scipy_milp

    with native_stdout_silenced():
        return scipy_milp(*args, **kwargs)
