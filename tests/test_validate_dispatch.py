"""benchmarks/validate_dispatch.py: on random GEMMs on lowp_edge the unit dispatch picks is
never beaten in the run by pinning the op to another unit (docs/low_precision_units.md,
"Dispatch"); the closed-form rules it replaced were."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "validate_dispatch.py"


def _module() -> Any:
    spec = importlib.util.spec_from_file_location("validate_dispatch", SCRIPT)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize(("policy", "objective"), [
    ("fastest", "latency"), ("lowest_energy", "latency"), ("lowest_energy", "edp")])
def test_the_mapped_dispatch_is_never_beaten_by_pinning(policy: str, objective: str) -> None:
    """Under EDP the search's energy holds the MACs and registers (``fixed_pj``), which the
    dispatch's estimate must not count twice."""
    got = _module().tally(policy, cases=80, seed=11, objective=objective)
    mapped = got["mapped"]
    assert mapped.cases >= 60
    assert mapped.beaten == 0 and mapped.worst == pytest.approx(1.0, abs=1e-9)
    if policy == "lowest_energy":  # the MAC energy alone chose a costlier unit often
        assert got["closed form"].beaten > 0.2 * got["closed form"].cases
