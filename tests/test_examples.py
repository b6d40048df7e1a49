"""The examples run (in their quick --small form) and write their PNGs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("script", ["sweep_array_size.py", "pareto_precision.py"])
def test_example_runs_and_writes_its_png(script, tmp_path):
    png = tmp_path / script.replace(".py", ".png")
    done = subprocess.run([sys.executable, str(ROOT / "examples" / script), "--small",
                           "--jobs", "1", "-o", str(png)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"wrote {png}" in done.stdout
    data = png.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 20_000
    doc = (ROOT / "examples" / script).read_text().split('"""')[1]
    assert len(doc.splitlines()) > 3     # each example opens with what it shows


def test_the_training_sweep_example_prints_a_row_per_buffer_size(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "sweep_training_sram.py"),
                           "--small", "--jobs", "1"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["buffer_mib", "fwd_ms", "fwd_dram_mb", "fwd_mj", "step_ms",
                                "step_dram_mb", "step_mj"]
    rows = [[float(x) for x in line.split()] for line in lines[1:]]
    assert [r[0] for r in rows] == [4.0, 12.0, 24.0]
    for fwd_ms, step_ms in ((r[1], r[4]) for r in rows):
        assert step_ms > 3 * fwd_ms  # a step: ~3x the MACs, the optimizer's traffic besides
    assert rows[-1][5] < rows[0][5]  # the step moves fewer DRAM bytes in a larger buffer
