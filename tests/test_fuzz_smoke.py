"""A short seeded fuzz run in process (issue 17): hostile calls into every pysim._core entry
point give a result that passes its check against NumPy or the closed form, or a clean error
(ValueError, or pybind11's TypeError for an argument of the wrong type). The long run, in
child processes that catch crashes and hangs, is ``python -m tests.fuzz`` (docs/reliability.md).
The findings the fuzzer turned up are pinned below, fixed; every call of the run must be ok
or clean (no skip list). The CI run of 20,000 calls in child processes is
tests/test_fuzz_ci.py."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pysim import _core  # noqa: E402
from tests.fuzz.core_cases import CASES, make_call, run_call  # noqa: E402


@pytest.mark.parametrize("seed", [0, 1])
def test_seeded_core_calls_give_results_or_clean_errors(seed: int) -> None:
    kinds: dict[str, int] = {"ok": 0, "clean": 0, "failure": 0}
    failures = []
    names = set()
    for index in range(200):
        call = make_call(seed, index)
        outcome = run_call(call)
        names.add(call.name)
        kinds[outcome.kind] += 1
        if outcome.kind == "failure":
            failures.append(f"{call.describe()}: {outcome.detail} (replay: python -m "
                            f"tests.fuzz --target core --seed {seed} --replay {index})")
    assert not failures, "\n".join(failures)
    assert kinds["ok"] > 40 and kinds["clean"] > 40  # the run exercised both paths
    assert len(names) > 40


def test_every_public_entry_point_is_drawn() -> None:
    # entry points: the callables (a module constant, tc_mma_sync_on_hopper, takes no input)
    public = {n for n in dir(_core) if not n.startswith("_") and callable(getattr(_core, n))}
    results = {n for n in public if n[0].isupper() and n.endswith(("Cost", "Stats", "Report"))}
    drawn = {make_call(0, i).name.split(".")[0] for i in range(3000)}
    assert len(CASES) >= 16
    assert public - results - drawn == set()


def test_same_seed_same_calls() -> None:
    assert [make_call(7, i).describe() for i in range(50)] == \
        [make_call(7, i).describe() for i in range(50)]


def test_lower_bound_refuses_what_cycles_refuses() -> None:
    for bad in (float("nan"), float("inf"), -1e9):
        with pytest.raises(ValueError):
            _core.op_pipeline_cycles(4, 10.0, 10.0, bad)
        with pytest.raises(ValueError):
            _core.op_pipeline_lower_bound(4, 10.0, 10.0, bad)


def test_pipeline_cycles_finite_inputs_give_a_finite_answer_or_an_error() -> None:
    try:
        got = _core.op_pipeline_cycles(40, 8561.9, 1201.0, 1.7976931348623157e308, 1)
    except ValueError:
        return
    assert math.isfinite(got)


def test_search_plans_bad_prices_are_value_errors() -> None:
    e = np.zeros((0,), np.int64)
    args = (np.zeros((20, 1)), np.zeros((3, 0), np.int64), np.zeros((3, 0), np.uint8),
            np.zeros((6, 0)), e, np.zeros((0, 1), np.uint8))
    for prices in ({}, {"bytes_per_cycle": None}):
        with pytest.raises(ValueError):
            _core.search_plans(0, prices, *args)


def test_a_subnormal_gpu_clock_is_refused() -> None:
    with pytest.raises(ValueError, match=r"clock_mhz must be in 1\.\.100000"):
        _core.GpuSpec(arch="ampere", sms=108, clock_mhz=5e-324, register_file_bytes_per_sm=1024,
                      smem_bytes_per_sm=1024, l2_bytes=1024, hbm_bandwidth_gb_per_s=1.0,
                      l2_bandwidth_bytes_per_clk=1.0, smem_bandwidth_bytes_per_clk=1.0,
                      launch_overhead_us=0.0, fp32_acc_half_rate=False)


@pytest.mark.parametrize("field", ["hbm_bandwidth_gb_per_s", "l2_bandwidth_bytes_per_clk",
                                   "smem_bandwidth_bytes_per_clk"])
def test_a_subnormal_gpu_bandwidth_is_refused(field: str) -> None:
    # found by a fuzz run (seed 1): a bandwidth of 5e-324 passed "> 0" and timed kernels at inf
    spec = dict(arch="ampere", sms=108, clock_mhz=1410.0, register_file_bytes_per_sm=1024,
                smem_bytes_per_sm=1024, l2_bytes=1024, hbm_bandwidth_gb_per_s=1.0,
                l2_bandwidth_bytes_per_clk=1.0, smem_bandwidth_bytes_per_clk=1.0,
                launch_overhead_us=0.0, fp32_acc_half_rate=False)
    with pytest.raises(ValueError, match=rf"{field} must be >= 0\.001, got 4\.94e-324"):
        _core.GpuSpec(**{**spec, field: 5e-324})
