"""Sweeps under concurrency and failure (issue 17): one sweep per output path, no writing
through symbolic links, stale temporary files removed, a dead worker's point retried alone and
then recorded as failed, and workers that die with a kill -9'd sweep."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pysim.sweep import runner, sweep
from pysim.sweep._worker import evaluate_blobs
from pysim.sweep.checkpoint import Checkpoint

ROOT = Path(__file__).resolve().parent.parent
EDGE = ROOT / "configs" / "edge_npu.yaml"
TINY = ROOT / "workloads" / "tiny_cnn.yaml"
SPACE = {"units.0.rows": [8, 16, 32, 64]}


def test_a_second_sweep_on_the_same_path_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "runs.parquet"
    holder = Checkpoint(out)  # a sweep in progress (this process holds the lock)
    try:
        busy = rf"being written by another sweep \(pid {os.getpid()}"
        with pytest.raises(ValueError, match=busy):
            sweep(EDGE, TINY, SPACE, out=out, progress=False)
    finally:
        holder.release()
    df = sweep(EDGE, TINY, SPACE, out=out, progress=False)  # free again
    assert len(df) == 4 and out.exists()


def test_no_writing_through_a_symlink_and_stale_temporaries_go(tmp_path: Path) -> None:
    out = tmp_path / "runs.parquet"
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep me\n")
    journal = tmp_path / "runs.parquet.journal"
    journal.symlink_to(target)
    with pytest.raises(ValueError, match="symbolic link"):
        sweep(EDGE, TINY, SPACE, out=out, progress=False)
    assert target.read_text() == "keep me\n"
    journal.unlink()
    stale = tmp_path / "runs.parquet.tmp-999999"
    stale.write_bytes(b"half a parquet file")
    sweep(EDGE, TINY, SPACE, out=out, progress=False)
    assert not stale.exists() and out.exists()


def _dies_on_32(hw_blob: bytes, wl_blob: bytes, point: dict, training: dict | None) -> dict:
    """A worker that is killed while running rows = 32 (the others run normally)."""
    if point.get("units.0.rows") == 32:
        os.kill(os.getpid(), signal.SIGKILL)
    return evaluate_blobs(hw_blob, wl_blob, point, training)


@pytest.mark.skipif(sys.platform != "linux", reason="forked workers inherit the patch")
def test_a_point_whose_worker_dies_is_retried_then_recorded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "evaluate_blobs", _dies_on_32)
    monkeypatch.setattr(runner, "_mp_context", lambda: __import__("multiprocessing")
                        .get_context("fork"))
    out = tmp_path / "runs.parquet"
    df = sweep(EDGE, TINY, SPACE, jobs=2, out=out, progress=False, retries=1).set_index(
        "units.0.rows")
    assert df.loc[32, "error"].startswith("WorkerDied") and "2 time(s)" in df.loc[32, "error"]
    assert math.isnan(df.loc[32, "latency_s"])
    for rows in (8, 16, 64):  # the others, even those that shared the broken pool, are kept
        assert df.loc[rows, "error"] is None and df.loc[rows, "latency_s"] > 0
    with pytest.raises(ValueError, match="retries"):
        sweep(EDGE, TINY, SPACE, progress=False, retries=-1)


CHILD = """
import os, sys, time
from pysim.sweep import runner
evaluate_blobs = runner.evaluate_blobs
def slow(*args):
    with open(PIDS, "a") as fh:
        fh.write(f"{os.getpid()}\\n")
    time.sleep(30)
    return evaluate_blobs(*args)
runner.evaluate_blobs = slow
runner.sweep(EDGE, TINY, {"units.0.rows": [8, 16, 32, 64]}, jobs=2, progress=False)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_workers_die_with_a_killed_sweep(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    code = (CHILD.replace("PIDS", repr(str(pids))).replace("EDGE", repr(str(EDGE)))
            .replace("TINY", repr(str(TINY))))
    child = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while not pids.exists() or len(pids.read_text().split()) < 2:
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        workers = [int(p) for p in pids.read_text().split()]
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        deadline = time.monotonic() + 10
        alive = workers
        while alive and time.monotonic() < deadline:
            alive = [p for p in workers if Path(f"/proc/{p}").exists()
                     and "Z" not in Path(f"/proc/{p}/stat").read_text().split()[2]]
            time.sleep(0.05)
        assert not alive, f"workers {alive} outlived the killed sweep"
    finally:
        if child.poll() is None:
            child.kill()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_jobs_2_stops_on_a_signal_to_its_group_and_keeps_every_finished_row(
        tmp_path: Path, sig: signal.Signals) -> None:
    """Ctrl-C (or `timeout -s INT`: the signal twice, to the sweep and to its group) and
    SIGTERM stop a `--jobs 2` sweep at once: exit 130, no worker left, every point the
    journal had is in the Parquet file (issue 18: it used to hang)."""
    import pandas as pd

    space = tmp_path / "space.yaml"
    space.write_text("units.0.rows: [8, 16, 32, 64, 128]\nscratchpads.0.size_kib: [64, 128, 256, "
                     "512]\nclock_ghz: [0.5, 1.0, 2.0]\n")
    out = tmp_path / "runs.parquet"
    journal = tmp_path / "runs.parquet.journal"
    child = subprocess.Popen(
        [sys.executable, "-m", "pysim.cli", "sweep", str(space), str(EDGE), "zoo:bert_base",
         "-o", str(out), "--jobs", "2", "--no-progress"], cwd=ROOT, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert child.stderr is not None
    try:
        deadline = time.monotonic() + 60
        while not journal.exists() or journal.read_text().count("\n") < 3:
            assert child.poll() is None and time.monotonic() < deadline, child.stderr.read()
            time.sleep(0.02)
        os.kill(child.pid, sig)
        os.killpg(child.pid, sig)  # the group too, workers included, as a terminal does
        started = time.monotonic()
        code = child.wait(timeout=30)
        assert time.monotonic() - started < 15
        assert code == 130, child.stderr.read()
        rows = pd.read_parquet(out)
        assert len(rows) >= 3 and rows["error"].isna().all()
        assert not journal.exists()
        # Without LD_PRELOAD: pgrep with the ASan runtime preloaded (tests/sanitize.sh) hangs.
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        leftover = subprocess.run(["pgrep", "-g", str(child.pid)], capture_output=True,
                                  text=True, env=env, timeout=30).stdout.split()
        assert not leftover, f"processes {leftover} outlived the sweep"
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
