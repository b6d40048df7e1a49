"""`import pysim` from the repository root (where the README's paths point and a notebook opens)
after `pip install .`: the source folder shadows the installed package, so the compiled
extension must be found in the installed copy (issue 18)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_pysim_in_the_repository_root() -> None:
    code = ("import pysim; hw = pysim.load_hardware('configs/edge_npu.yaml'); "
            "print(pysim.__file__); "
            "print(pysim.simulate(hw, pysim.load_workload('workloads/tiny_cnn.yaml')).macs)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    first, macs = proc.stdout.split()
    assert Path(first).resolve() == ROOT / "pysim" / "__init__.py"  # the source tree's
    assert int(macs) == 2_801_824
