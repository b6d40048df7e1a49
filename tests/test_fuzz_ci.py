"""The short fuzz run of issue 17 in CI: 20,000 seeded calls into pysim._core, in child
processes that catch crashes and hangs (``python -m tests.fuzz``, docs/reliability.md), with
zero crashes, hangs, wrong answers and unclear errors.

Calls into a stepped loop that its budget accepts but that would step more than 2^24 times
(about 0.5 % of the draws, 98 % of the time: a call within its budget may take ~10 s by design)
are skipped (``--max-work``); the long run makes them all. A failure prints the fuzzer's table
and each failure's replay command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CALLS = 20_000
COMMAND = [sys.executable, "-m", "tests.fuzz", "--target", "core", "--seed", "0",
           "--calls", str(CALLS), "--max-work", "2^24", "--timeout", "60", "--show", "50"]


def test_20000_core_calls_no_crash_hang_or_wrong_answer() -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    proc = subprocess.run(COMMAND, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    report = f"$ {' '.join(COMMAND[1:])}\n{proc.stdout}\n{proc.stderr[-3000:]}"
    header = next((ln.split() for ln in proc.stdout.splitlines() if ln.startswith("target")),
                  None)
    row = next((ln.split() for ln in proc.stdout.splitlines() if ln.startswith("core ")), None)
    assert header and row, report
    counts = dict(zip(header[1:], (float(x) for x in row[1:]), strict=True))
    assert proc.returncode == 0, report
    for kind in ("wrong", "unclear", "crash", "hang"):
        assert counts[kind] == 0, report
    assert counts["calls"] == CALLS, report
    assert counts["skipped"] < CALLS * 0.01, report  # the cap drops the heavy tail, no more
    assert counts["ok"] > CALLS * 0.3 and counts["clean"] > CALLS * 0.3, report
    assert not re.search(r"Traceback", proc.stderr), report
