"""pysim.milp: HiGHS's console output (printf from C) never reaches stdout; Python's own output
before and after the solve does, in order; HiGHS's own options pass through silently."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from scipy.optimize import Bounds

from pysim.milp import milp

SCRIPT = textwrap.dedent("""
    import ctypes
    from pysim.milp import native_stdout_silenced
    libc = ctypes.CDLL(None)
    print("before", flush=False)
    with native_stdout_silenced():
        libc.printf(b"from C inside\\n")
        print("from Python inside")
    libc.printf(b"from C after\\n")
    libc.fflush(None)
    print("after")
""")


def test_c_and_python_output_inside_the_block_is_dropped_and_the_rest_kept():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    # stdout is a pipe here: block-buffered in C and in Python, the hardest case
    assert "inside" not in out
    assert out.splitlines() == ["before", "from C after", "after"]


def test_milp_solves_as_scipy_does():
    # max x + 2y, x + y <= 1, binary: y = 1
    from scipy.optimize import LinearConstraint

    res = milp(np.array([-1.0, -2.0]), integrality=np.ones(2), bounds=Bounds(0, 1),
               constraints=[LinearConstraint(np.array([[1.0, 1.0]]), -np.inf, 1.0)])
    assert res.status == 0 and list(np.round(res.x)) == [0.0, 1.0]


@pytest.mark.parametrize("options", [{"mip_heuristic_run_feasibility_jump": False},
                                     {"no_such_highs_option": 1}])
def test_highs_options_pass_through_without_a_warning(options: dict[str, object]) -> None:
    """Options scipy's milp does not list go to HiGHS as they are (scipy warns that it passes
    them verbatim, or that HiGHS lacks one, which it then ignores): no warning escapes, and the
    solve is as without them."""
    from scipy.optimize import LinearConstraint

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = milp(np.array([-1.0, -2.0]), integrality=np.ones(2), bounds=Bounds(0, 1),
                   constraints=[LinearConstraint(np.array([[1.0, 1.0]]), -np.inf, 1.0)],
                   options={"node_limit": 10}, highs_options=options)
    assert res.status == 0 and list(np.round(res.x)) == [0.0, 1.0]
