"""pysim.search: NSGA-II over a Space, deterministic for a seed whatever runs the trials,
invalid points as failed trials, objectives checked up front."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import pysim
from pysim.sweep import METRICS, pareto, search

ROOT = Path(__file__).resolve().parent.parent
EDGE = ROOT / "configs" / "edge_npu.yaml"
TINY = ROOT / "workloads" / "tiny_cnn.yaml"
SPACE = {"units.0.rows": [8, 16, 32, 64], "units.0.cols": [8, 16, 32, 64],
         "scratchpads.0.size_kib": [2, 16, 64, 256], "clock_ghz": (0.5, 2.0)}


@pytest.fixture(scope="module")
def hw() -> pysim.Hardware:
    return pysim.load_hardware(EDGE)


@pytest.fixture(scope="module")
def found(hw) -> pd.DataFrame:
    return search(hw, TINY, SPACE, n_trials=40, objectives=["latency_s", "area_mm2"], seed=7,
                  population_size=10)


def test_one_row_per_trial_like_a_sweep_frame(found):
    assert list(found["trial"]) == list(range(40))
    assert list(found.columns[1:5]) == list(SPACE)
    assert list(found.columns[5:]) == ["workload", *METRICS, "point_id", "error", "sweep_id"]
    assert found["clock_ghz"].between(0.5, 2.0).all()
    assert set(found["units.0.rows"]) <= {8, 16, 32, 64}


def test_same_seed_same_trials_in_parallel_too(hw, found):
    again = search(hw, TINY, SPACE, n_trials=40, objectives=["latency_s", "area_mm2"], seed=7,
                   population_size=10, jobs=2)
    pd.testing.assert_frame_equal(found, again, check_exact=False, rtol=1e-12)
    other = search(hw, TINY, SPACE, n_trials=40, objectives=["latency_s", "area_mm2"], seed=8,
                   population_size=10)
    assert not found[list(SPACE)].equals(other[list(SPACE)])


def test_invalid_points_are_failed_trials_with_their_error(found):
    bad = found[found["error"].notna()]
    assert (bad["scratchpads.0.size_kib"] == 2).all()
    assert found["error"].isna().sum() > 20


def test_later_generations_reach_the_front(found):
    front = pareto(found, minimize=["latency_s", "area_mm2"])
    assert len(front) >= 2
    assert (front["trial"] >= 10).any()   # not only the random first generation


def test_maximize_objectives_and_checkpoint(hw, tmp_path):
    out = tmp_path / "search.parquet"
    df = search(hw, TINY, SPACE, n_trials=12, objectives={"utilization": "maximize",
                                                          "energy_j": "minimize"},
                seed=1, population_size=6, out=out)
    again = search(hw, TINY, SPACE, n_trials=12, objectives={"utilization": "maximize",
                                                             "energy_j": "minimize"},
                   seed=1, population_size=6, out=out)
    assert again.attrs["computed"] == 0
    pd.testing.assert_frame_equal(df, again, check_exact=False, rtol=1e-12)
    assert len(pd.read_parquet(out)) == df["point_id"].nunique()


@pytest.mark.parametrize("kwargs, match", [
    ({"objectives": ["latency_s", "speed"]}, r"not in the frame: \['speed'\]"),
    ({"objectives": {"latency_s": "smallest"}}, "minimize"),
    ({"objectives": []}, "at least one"),
    ({"n_trials": 0}, "n_trials"),
    ({"population_size": 1}, "population_size"),
])
def test_bad_arguments(hw, kwargs, match):
    args = {"n_trials": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        search(hw, TINY, SPACE, **args)


def test_unknown_key_and_workload_lists(hw):
    with pytest.raises(pysim.ConfigError, match="units.0.rowz"):
        search(hw, TINY, {"units.0.rowz": [8]}, n_trials=2)
    with pytest.raises(ValueError, match="one workload"):
        search(hw, [TINY, TINY], SPACE, n_trials=2)
