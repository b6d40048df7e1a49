"""pysim.sweep: spaces, the frame's shape and values, parallel runs equal serial ones, any
Executor, invalid points as rows, and bad input refused before any work starts."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pysim
from pysim.area import area_mm2
from pysim.sweep import METRICS, Space, sweep
from pysim.sweep import runner as sweep_runner

ROOT = Path(__file__).resolve().parent.parent
EDGE = ROOT / "configs" / "edge_npu.yaml"
TINY = ROOT / "workloads" / "tiny_cnn.yaml"


@pytest.fixture(scope="module")
def hw() -> pysim.Hardware:
    return pysim.load_hardware(EDGE)


@pytest.fixture(scope="module")
def tiny() -> pysim.Workload:
    return pysim.load_workload(TINY)


SPACE = {"units.0.rows": [16, 32], "scratchpads.0.size_kib": [4, 64],
         "dram.bandwidth_gb_per_s": [12.8, 25.6]}


# -- Space --------------------------------------------------------------------------------------

def test_grid_is_the_cartesian_product_last_key_fastest():
    space = Space({"a.b": [1, 2], "c": ["x", "y", "z"]})
    assert len(space) == 6
    assert space.points()[:4] == [{"a.b": 1, "c": "x"}, {"a.b": 1, "c": "y"},
                                  {"a.b": 1, "c": "z"}, {"a.b": 2, "c": "x"}]


def test_random_is_deterministic_distinct_and_from_the_lists():
    space = Space({"a": [1, 2, 3, 4], "b": [0.5, 1.5, 2.5]})
    one, two = space.random(7, seed=3), space.random(7, seed=3)
    assert one.points() == two.points()
    keys = [tuple(p.values()) for p in one]
    assert len(set(keys)) == 7
    assert all(p["a"] in [1, 2, 3, 4] and p["b"] in [0.5, 1.5, 2.5] for p in one)
    assert space.random(7, seed=4).points() != one.points()
    assert sorted(map(tuple, (p.values() for p in space.random(12, seed=0)))) == sorted(
        tuple(p.values()) for p in space)


def test_random_samples_ranges_as_ints_or_floats():
    space = Space({"rows": (8, 64), "clock": (0.5, 2.0), "df": ["os", "ws"]})
    pts = space.random(50, seed=1).points()
    assert all(isinstance(p["rows"], int) and 8 <= p["rows"] <= 64 for p in pts)
    assert all(isinstance(p["clock"], float) and 0.5 <= p["clock"] <= 2.0 for p in pts)
    with pytest.raises(ValueError, match="no grid"):
        space.points()


@pytest.mark.parametrize("params, match", [
    ({}, "empty"),
    ({"a": []}, "no values"),
    ({"a": [1, 1]}, "twice"),
    ({"a": 5}, "list of values"),
    ({"a": (1, 2, 3)}, "two numbers"),
    ({"a": (2, 1)}, "low < high"),
    ({"a": [float("nan")]}, "finite"),
    ({"a": [[1, 2]]}, "numbers, strings or booleans"),
    ({"": [1]}, "non-empty"),
])
def test_bad_spaces_are_refused(params, match):
    with pytest.raises(ValueError, match=match):
        Space(params)


def test_random_refuses_more_points_than_the_grid_has():
    with pytest.raises(ValueError, match="has 2 points"):
        Space({"a": [1, 2]}).random(3)


def test_space_from_yaml(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text("units.0.rows: [16, 32]\nclock_ghz: {low: 0.5, high: 1.5}\n")
    space = Space.from_yaml(path)
    assert space.params == {"units.0.rows": [16, 32], "clock_ghz": (0.5, 1.5)}
    path.write_text("- 1\n- 2\n")
    with pytest.raises(pysim.ConfigError, match="mapping"):
        Space.from_yaml(path)
    with pytest.raises(pysim.ConfigError, match="cannot read"):
        Space.from_yaml(tmp_path / "missing.yaml")
    # a section wrapped around the paths (as other tools' space files have) is named, with
    # what a space file holds
    path.write_text("grid:\n  units.0.rows: [16, 32]\n")
    with pytest.raises(pysim.ConfigError, match=r"grid: expected a list of values or a range "
                       r"\{low: L, high: H\}.*dotted hardware paths.*units.0.rows: \[16, 32\]"):
        Space.from_yaml(path)


# -- the frame ------------------------------------------------------------------------------------

def test_frame_has_space_columns_then_metrics_and_matches_simulate(hw, tiny):
    df = sweep(hw, tiny, SPACE)
    assert list(df.columns[:3]) == list(SPACE)
    assert list(df.columns[3:]) == ["workload", *METRICS, "point_id", "error", "sweep_id"]
    assert len(df) == 8 and df.attrs == {"computed": 8, "reused": 0}
    assert df["units.0.rows"].dtype == np.int64
    assert df["dram.bandwidth_gb_per_s"].dtype == np.float64
    for _, row in df[df["error"].isna()].iterrows():
        design = hw.with_overrides({k: row[k] for k in SPACE})
        res = pysim.simulate(design, tiny)
        assert row["latency_s"] == res.latency_s
        assert row["energy_j"] == pytest.approx(res.energy_j, rel=1e-12)
        assert row["edp"] == pytest.approx(res.edp, rel=1e-12)
        assert row["dram_bytes"] == res.dram_bytes
        assert row["macs"] == res.macs == tiny.macs
        assert row["utilization"] == pytest.approx(res.utilization)
        assert row["area_mm2"] == pytest.approx(area_mm2(design)["total"])
    assert df["point_id"].is_unique


def test_invalid_points_give_rows_with_their_error(hw, tiny):
    # 1e-6 GiB of DRAM: valid, but the workload's weights and activations do not fit it
    df = sweep(hw, tiny, {"dram.capacity_gib": [1e-6, 1], "units.0.rows": [32, 5000]})
    errors = df.set_index(["dram.capacity_gib", "units.0.rows"])["error"]
    assert errors.loc[(1, 32)] is None
    assert errors.loc[(1e-6, 32)].startswith("WorkloadError:")
    assert "dram.capacity_gib" in errors.loc[(1e-6, 32)]
    assert errors.loc[(1e-6, 5000)].startswith("ConfigError:")
    assert "rows" in errors.loc[(1, 5000)] and "4096" in errors.loc[(1, 5000)]
    assert df.loc[df["error"].notna(), list(METRICS)].isna().all().all()


def test_parallel_and_executor_runs_equal_the_serial_run(hw, tiny):
    serial = sweep(hw, tiny, SPACE)
    local = sweep(hw, tiny, SPACE, jobs=2, progress=True)
    with ThreadPoolExecutor(2) as pool:
        threads = sweep(hw, tiny, SPACE, executor=pool)
    pd.testing.assert_frame_equal(serial, local)
    pd.testing.assert_frame_equal(serial, threads)


def test_several_workloads_give_one_row_per_point_and_workload(hw, tiny):
    small = pysim.zoo.load("gemm", m=64, n=64, k=64)
    df = sweep(hw, [tiny, small], {"units.0.rows": [16, 32]})
    assert list(df["workload"]) == ["tiny_cnn", "gemm", "tiny_cnn", "gemm"]
    assert list(df["units.0.rows"]) == [16, 16, 32, 32]
    with pytest.raises(ValueError, match="distinct names"):
        sweep(hw, [tiny, tiny], {"units.0.rows": [16]})


def test_paths_are_accepted_for_hardware_and_workload(hw, tiny):
    by_path = sweep(EDGE, str(TINY), {"clock_ghz": [0.5, 1.0]})
    by_object = sweep(hw, tiny, {"clock_ghz": [0.5, 1.0]})
    pd.testing.assert_frame_equal(by_path, by_object)


def test_point_ids_depend_on_point_workload_and_base_hardware(hw, tiny):
    a = sweep(hw, tiny, {"clock_ghz": [0.5, 1.0]})
    b = sweep(hw.with_overrides({"units.0.cols": 16}), tiny, {"clock_ghz": [0.5, 1.0]})
    c = sweep(hw, tiny, {"clock_ghz": [0.5, 1.0]})
    assert list(a["point_id"]) == list(c["point_id"])
    assert not set(a["point_id"]) & set(b["point_id"])


# -- bad input, refused before any point runs ----------------------------------------------------

@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if any point is evaluated."""
    def boom(*args, **kwargs):
        raise AssertionError("a point was evaluated")
    monkeypatch.setattr(sweep_runner, "evaluate", boom)
    monkeypatch.setattr(sweep_runner, "evaluate_blobs", boom)


def test_unknown_key_names_it_and_suggests(hw, tiny, no_work):
    with pytest.raises(pysim.ConfigError, match=r"'units\.0\.row'.*did you mean 'units\.0\.rows'"):
        sweep(hw, tiny, {"clock_ghz": [1.0], "units.0.row": [16]})
    with pytest.raises(pysim.ConfigError, match=r"'units\.2\.rows'"):
        sweep(hw, tiny, {"units.2.rows": [16]})


def test_empty_space_and_bad_jobs(hw, tiny, no_work):
    with pytest.raises(ValueError, match="empty"):
        sweep(hw, tiny, {})
    for jobs in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="jobs"):
            sweep(hw, tiny, {"clock_ghz": [1.0]}, jobs=jobs)
    with pytest.raises(ValueError, match="at most one"):
        sweep(hw, tiny, {"clock_ghz": [1.0]}, jobs=2, executor=ThreadPoolExecutor(1))


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:9", "nonsense"])
def test_unreachable_scheduler_names_the_address(hw, tiny, no_work, address):
    with pytest.raises(ValueError, match=address):
        sweep(hw, tiny, {"clock_ghz": [1.0]}, scheduler=address)


def test_energy_overrides_paths_are_valid_keys(hw, tiny):
    df = sweep(hw, tiny, {"energy.overrides.int8_mult_pj": [0.01, 0.1]})
    assert df["energy_mac_j"].iloc[0] < df["energy_mac_j"].iloc[1]


def test_string_bool_and_mixed_axes_round_trip_through_the_checkpoint(hw, tiny, tmp_path):
    space = {"units.0.dataflow": ["os", "ws"], "scratchpads.0.double_buffered": [True, False],
             "dram.bandwidth_gb_per_s": [12.8, "25.6 GB/s"]}
    out = tmp_path / "runs.parquet"
    df = sweep(hw, tiny, space, out=out)
    assert df["scratchpads.0.double_buffered"].dtype == bool
    assert set(df["dram.bandwidth_gb_per_s"]) == {"12.8", "25.6 GB/s"}  # mixed: as strings
    assert df["error"].isna().all()
    again = sweep(hw, tiny, space, out=out)
    assert again.attrs == {"computed": 0, "reused": 8}
    pd.testing.assert_frame_equal(df, again)


def test_hardware_and_workloads_pickle(hw, tiny):
    import pickle

    assert pickle.loads(pickle.dumps(hw)) == hw
    assert pickle.loads(pickle.dumps(tiny)) == tiny
