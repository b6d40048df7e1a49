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
