"""Checkpointing: a sweep killed midway loses no finished point, and re-running it computes
only the missing points; the Parquet file is a cache keyed by (sweep_id, point_id) that holds
every sweep written to it, each with its id and space."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import pysim
from pysim.sweep import Space, sweep
from pysim.sweep import runner as sweep_runner
from pysim.sweep.stored import select, sweeps

ROOT = Path(__file__).resolve().parent.parent
EDGE = ROOT / "configs" / "edge_npu.yaml"
TINY = ROOT / "workloads" / "tiny_cnn.yaml"
SPACE = {"units.0.rows": [8, 16, 32, 64], "units.0.cols": [16, 32],
         "dram.bandwidth_gb_per_s": [6.4, 12.8, 25.6, 51.2, 102.4]}   # 40 points

# The child sweeps SPACE one point at a time, each slowed to 40 ms so the kill lands midway.
CHILD = f"""
import time
import pysim
from pysim.sweep import runner
evaluate = runner.evaluate
def slow(*args):
    time.sleep(0.04)
    return evaluate(*args)
runner.evaluate = slow
runner.sweep({str(EDGE)!r}, {str(TINY)!r}, {SPACE!r}, out=OUT, progress=False)
"""


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_killed_sweep_resumes_computing_only_the_missing_points(tmp_path):
    out = tmp_path / "runs.parquet"
    journal = tmp_path / "runs.parquet.journal"
    # cwd outside the repo: from its root, `python -c` would import the unbuilt source tree
    child = subprocess.Popen([sys.executable, "-c", CHILD.replace("OUT", repr(str(out)))],
                             cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while _lines(journal) < 8:
            assert child.poll() is None, child.communicate()
            assert time.monotonic() < deadline, "the child sweep made no progress"
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    assert not out.exists()                     # killed before the end: only the journal
    done = [json.loads(line) for line in journal.read_text().splitlines()]
    assert 8 <= len(done) < 40
    with open(journal, "a") as fh:              # a line torn by the kill is skipped
        fh.write('{"point_id": "torn", "latency')

    resumed = sweep(EDGE, TINY, SPACE, out=out)
    assert resumed.attrs == {"computed": 40 - len(done), "reused": len(done)}
    assert not journal.exists()
    fresh = sweep(EDGE, TINY, SPACE)
    pd.testing.assert_frame_equal(resumed, fresh, check_exact=False, rtol=1e-12)
    stored = pd.read_parquet(out)
    assert len(stored) == 40 and set(stored["point_id"]) == set(fresh["point_id"])
    again = sweep(EDGE, TINY, SPACE, out=out)
    assert again.attrs == {"computed": 0, "reused": 40}


def test_an_exception_midway_keeps_the_finished_points(tmp_path, monkeypatch):
    out = tmp_path / "runs.parquet"
    evaluate = sweep_runner.evaluate
    calls = []

    def failing(*args):
        calls.append(1)
        if len(calls) == 5:
            raise RuntimeError("a bug, not a bad point")
        return evaluate(*args)

    monkeypatch.setattr(sweep_runner, "evaluate", failing)
    with pytest.raises(RuntimeError, match="a bug"):
        sweep(EDGE, TINY, {"clock_ghz": [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]}, out=out)
    assert len(pd.read_parquet(out)) == 4
    assert not (tmp_path / "runs.parquet.journal").exists()
    monkeypatch.setattr(sweep_runner, "evaluate", evaluate)
    df = sweep(EDGE, TINY, {"clock_ghz": [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]}, out=out)
    assert df.attrs == {"computed": 2, "reused": 4}


def test_the_file_keeps_each_sweep_with_its_id_and_space(tmp_path):
    out = tmp_path / "runs.parquet"
    hw = pysim.load_hardware(EDGE)
    first = sweep(hw, TINY, {"clock_ghz": [0.5, 1.0]}, out=out, jobs=2)
    wider = sweep(hw, TINY, {"clock_ghz": [0.5, 1.0, 2.0]}, out=out, jobs=2)
    assert wider.attrs == {"computed": 1, "reused": 2}
    other = sweep(hw, TINY, {"units.0.rows": [16]}, out=out)
    assert len(other) == 1
    again = sweep(hw, TINY, {"clock_ghz": [0.5, 1.0]}, out=out)   # the first sweep, resumed
    assert again.attrs == {"computed": 0, "reused": 2}
    ids = [df["sweep_id"].iloc[0] for df in (first, wider, other)]
    assert len(set(ids)) == 3 and set(again["sweep_id"]) == {ids[0]}
    assert all(len(i) == 8 and int(i, 16) >= 0 for i in ids)
    stored = pd.read_parquet(out)
    assert len(stored) == 2 + 3 + 1               # a point two sweeps share: a row in each
    assert set(sweeps(stored)) == set(ids)
    spaces = ({"clock_ghz": [0.5, 1.0]}, {"clock_ghz": [0.5, 1.0, 2.0]}, {"units.0.rows": [16]})
    for df, space in zip((first, wider, other), spaces, strict=True):
        sweep_id = df["sweep_id"].iloc[0]
        assert sweeps(stored)[sweep_id] == {"space": space, "points": len(df),
                                            "hardware": "edge_npu", "workloads": ["tiny_cnn"]}
        mine = select(stored, sweep_id)              # the rows and columns the sweep returned
        assert list(mine.columns) == list(df.columns)
        pd.testing.assert_frame_equal(mine.sort_values("point_id", ignore_index=True),
                                      df.sort_values("point_id", ignore_index=True),
                                      check_dtype=False, check_exact=False, rtol=1e-12)
    with pytest.raises(ValueError, match=f"no sweep 'abc'.*{ids[0]} \\(clock_ghz x2: 2 points"):
        select(stored, "abc")


def test_a_sampled_sweep_and_its_grid_are_two_sweeps(tmp_path):
    space = Space({"units.0.rows": [8, 16, 32], "clock_ghz": [0.5, 1.0]})
    grid = sweep(EDGE, TINY, space)
    assert sweep(EDGE, TINY, space)["sweep_id"].iloc[0] == grid["sweep_id"].iloc[0]
    sample = sweep(EDGE, TINY, space.random(3, seed=0))
    other = sweep(EDGE, TINY, space.random(3, seed=1))
    assert len({grid["sweep_id"].iloc[0], sample["sweep_id"].iloc[0],
                other["sweep_id"].iloc[0]}) == 3


def test_resume_from_a_random_sample_and_with_errors(tmp_path):
    out = tmp_path / "runs.parquet"
    space = Space({"scratchpads.0.size_kib": [1, 2, 64, 128], "units.0.rows": [16, 5000]})
    sample = space.random(5, seed=0)
    first = sweep(EDGE, TINY, sample, out=out)
    again = sweep(EDGE, TINY, sample, out=out)
    assert again.attrs == {"computed": 0, "reused": 5}
    pd.testing.assert_frame_equal(first, again, check_exact=False, rtol=1e-12)
    assert first["error"].notna().any()
    assert list(again["error"].isna()) == list(first["error"].isna())


def test_bad_out_paths(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        sweep(EDGE, TINY, {"clock_ghz": [1.0]}, out=tmp_path / "no" / "runs.parquet")
    with pytest.raises(ValueError, match="directory"):
        sweep(EDGE, TINY, {"clock_ghz": [1.0]}, out=tmp_path)
    junk = tmp_path / "junk.parquet"
    junk.write_text("not parquet")
    with pytest.raises(ValueError, match="not a readable Parquet"):
        sweep(EDGE, TINY, {"clock_ghz": [1.0]}, out=junk)
