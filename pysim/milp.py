"""``scipy.optimize.milp`` (HiGHS) with the solver's own console output kept off stdout, and
HiGHS's own options passed through.

Some HiGHS builds shipped in SciPy print a debugging line from C
("HighsMipSolverData::transformNewIntegerFeasibleSolution tmpSolver.run();") when a MIP
heuristic finds a solution, whatever ``disp`` says; it landed in the middle of pysim's tables and
in files a user redirects stdout to. Every integer program in pysim runs through ``milp`` here,
which points file descriptor 1 at the null device for the duration of the solve.

``highs_options`` are HiGHS options scipy's ``milp`` does not list (its ``options`` takes
``disp``, ``presolve``, ``time_limit``, ``node_limit`` and ``mip_rel_gap``); scipy hands any
other key to HiGHS verbatim with a RuntimeWarning saying so, which is silenced here for the keys
given. A HiGHS build that lacks an option ignores it (scipy's OptimizeWarning, also silenced):
the solve is then as without it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator, Mapping
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


def milp(*args: Any, highs_options: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
    """``scipy.optimize.milp(*args, **kwargs)`` with HiGHS's console output silenced and
    ``highs_options`` (HiGHS option name -> value) set on the solver."""
    from scipy.optimize import OptimizeWarning
    from scipy.optimize import milp as scipy_milp

    with native_stdout_silenced(), warnings.catch_warnings():
        if highs_options:
            kwargs["options"] = {**(kwargs.get("options") or {}), **highs_options}
            for category in (RuntimeWarning, OptimizeWarning):
                warnings.filterwarnings("ignore", "Unrecognized options detected", category)
        return scipy_milp(*args, **kwargs)
